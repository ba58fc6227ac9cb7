/**
 * A rosbridge v2 protocol server on a WebSocket (`ws`): the graph `arbor sim-serve --rosbridge`
 * serves the sim on, so roslib, Foxglove's rosbridge connection or arbor's own rosbridge link
 * drive it as they would a robot behind `rosbridge_server`.
 *
 * Speaks: set_level, advertise/unadvertise, publish, subscribe (throttle_rate, queue_length,
 * fragment_size, compression none | cbor) and unsubscribe, call_service, send_action_goal with
 * feedback and cancel_action_goal, and fragments both ways. Every message a client sends is
 * validated; a bad one gets a `status` error naming the problem and never reaches the sim or
 * brings the server down. Clients may publish to each other too, as on a ROS graph, but never on
 * the server's own topics (no client forges /joint_states).
 *
 * Bounded for hostile clients: at most `maxClients` at once; unfinished fragmented messages share
 * one server-wide byte budget (and a per-client one) and are dropped after `fragmentTimeoutMs`;
 * `fragment_size` is at least 1 KiB. Beyond loopback, every connection needs the access token.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { decode as decodeCbor } from 'cbor2';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { z } from 'zod';
import { offeredToken, tokenMatches } from '../net/access-token.ts';
import { toCbor, toJson } from './rosbridge-wire.ts';
import { GOAL_STATUS, type GoalOutcome, type GraphServer, type ServedGoal } from './graph.ts';

/** Options of a rosbridge server. */
export interface RosbridgeServerOptions {
  /** TCP port (0: any free one). */
  port: number;
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Largest frame a client may send (bytes). */
  maxPayload?: number;
  /** Where the server reports clients that misbehave (one line each). */
  log?: (line: string) => void;
  /** Access token every connection must offer (`?token=` or `Authorization: Bearer`); none: no check. */
  token?: string;
  /** Most clients connected at once (default 32); one more is refused with 1013 "try again later". */
  maxClients?: number;
  /** Milliseconds an unfinished fragmented message is kept (default 30 s). */
  fragmentTimeoutMs?: number;
}

const STATUS_LEVELS = ['info', 'warning', 'error', 'none'] as const;
type Level = (typeof STATUS_LEVELS)[number];

/** Bytes a client may have waiting before its messages are dropped instead of queued. */
const MAX_BUFFERED = 8 << 20;
/** Most bytes and pieces one fragmented message may have; also the most one client may hold unfinished. */
const MAX_FRAGMENTED = 16 << 20;
const MAX_FRAGMENTS = 10_000;
/** Most bytes of unfinished fragmented messages all clients together may hold. */
const FRAGMENT_BUDGET = 64 << 20;
/** Most fragmented messages one client may have open. */
const MAX_OPEN_FRAGMENTED = 64;
/** Smallest fragment_size taken: smaller ones turn one message into a frame per character. */
const MIN_FRAGMENT_SIZE = 1024;
const DEFAULTS = { maxClients: 32, fragmentTimeoutMs: 30_000, maxPayload: 16 << 20 } as const;

const Id = z.union([z.string(), z.number()]).transform(String).optional();
const Name = z.string().min(1).max(512);
const Op = z.object({ op: z.string(), id: Id });
const Ops = {
  set_level: z.object({ level: z.enum(STATUS_LEVELS), id: Id }),
  advertise: z.object({ topic: Name, type: Name, id: Id }),
  unadvertise: z.object({ topic: Name, id: Id }),
  publish: z.object({ topic: Name, msg: z.record(z.string(), z.unknown()), id: Id }),
  subscribe: z.object({
    topic: Name,
    type: Name.optional(),
    id: Id,
    throttle_rate: z.number().int().min(0).default(0),
    queue_length: z.number().int().min(0).default(0),
    fragment_size: z.number().int().positive().optional(),
    compression: z.string().default('none'),
  }),
  unsubscribe: z.object({ topic: Name, id: Id }),
  call_service: z.object({ service: Name, args: z.unknown().optional(), id: Id, fragment_size: z.number().int().positive().optional(), compression: z.string().optional() }),
  send_action_goal: z.object({ action: Name, action_type: Name.optional(), args: z.unknown().optional(), id: Id, feedback: z.boolean().default(false) }),
  cancel_action_goal: z.object({ action: Name, id: Name }),
  fragment: z.object({ id: Name, data: z.string(), num: z.number().int().min(0), total: z.number().int().positive().max(MAX_FRAGMENTS) }),
};

/** One subscription of a client to a topic (several merge). */
interface Subscription {
  throttleMs: number;
  queueLength: number;
  fragmentSize?: number;
  cbor: boolean;
}

/** One connected client. */
interface Client {
  socket: WebSocket;
  /** The TCP connection under the WebSocket, corked while a turn of the event loop publishes. */
  stream: Duplex;
  level: Level;
  /** Topic → subscription id → options. */
  subscriptions: Map<string, Map<string, Subscription>>;
  /** Topic → the merged options of its subscriptions (kept with `subscriptions`, so a tick reads it, never builds it). */
  merged: Map<string, Subscription>;
  /** Topic → when the last message went out (for throttling). */
  lastSent: Map<string, number>;
  /** Topics this client advertised, with their types. */
  advertised: Map<string, string>;
  /** Goals in flight by id. */
  goals: Map<string, AbortController>;
  /** Fragmented messages being received, each dropped when its timer fires. */
  fragments: Map<string, { parts: string[]; received: number; bytes: number; timer: NodeJS.Timeout }>;
  /** Bytes of its unfinished fragmented messages. */
  fragmentBytes: number;
  nextId: number;
}

type Handler = (message: unknown) => string | undefined | void;

/** `pkg/Type` and `pkg/msg/Type` name the same message. */
function sameType(a: string, b: string): boolean {
  const norm = (t: string) => t.replace(/^([^/]+)\/(?:msg\/)?([^/]+)$/, '$1/msg/$2');
  return norm(a) === norm(b);
}

export class RosbridgeServer implements GraphServer {
  private readonly clients = new Set<Client>();
  /** Topics the server publishes, with their types. */
  private readonly served = new Map<string, string>();
  /** Server-side subscribers of client publications. */
  private readonly handlers = new Map<string, { type: string; handle: Handler }[]>();
  private readonly services = new Map<string, (request: unknown) => Promise<object> | object>();
  private readonly actions = new Map<string, (goal: ServedGoal) => Promise<GoalOutcome>>();
  /** The last message of each latched topic, for subscribers that join later. */
  private readonly latched = new Map<string, object>();
  private readonly log: (line: string) => void;
  private readonly maxClients: number;
  private readonly fragmentTimeoutMs: number;
  /** Bytes of unfinished fragmented messages of all clients. */
  private fragmentBytes = 0;
  /** Clients whose connection is corked until this turn of the event loop ends. */
  private readonly corked = new Set<Client>();

  private constructor(
    private readonly wss: WebSocketServer,
    options: RosbridgeServerOptions,
  ) {
    this.log = options.log ?? (() => undefined);
    this.maxClients = options.maxClients ?? DEFAULTS.maxClients;
    this.fragmentTimeoutMs = options.fragmentTimeoutMs ?? DEFAULTS.fragmentTimeoutMs;
    wss.on('connection', (socket, request) => this.accept(socket, request.socket));
  }

  /** Starts listening; resolves once the port is bound. */
  static async listen(options: RosbridgeServerOptions): Promise<RosbridgeServer> {
    const { token } = options;
    const wss = new WebSocketServer({
      port: options.port,
      host: options.host ?? '127.0.0.1',
      maxPayload: options.maxPayload ?? DEFAULTS.maxPayload,
      ...(token !== undefined ? { verifyClient: ({ req }: { req: IncomingMessage }) => tokenMatches(offeredToken(req), token) } : {}),
    });
    await Promise.race([once(wss, 'listening'), once(wss, 'error').then(([err]) => Promise.reject(new Error(`rosbridge server cannot listen on port ${options.port}: ${(err as Error).message}`)))]);
    return new RosbridgeServer(wss, options);
  }

  /** The bound port. */
  get port(): number {
    return (this.wss.address() as AddressInfo).port;
  }

  /** Connected clients. */
  get clientCount(): number {
    return this.clients.size;
  }

  publisher(topic: string, type: string, options: { latched?: boolean } = {}): (message: object) => void {
    this.served.set(topic, type);
    return (message) => {
      if (options.latched) this.latched.set(topic, message);
      this.fanOut(topic, message, undefined);
    };
  }

  subscribe(topic: string, type: string, onMessage: (message: unknown) => void): void {
    const list = this.handlers.get(topic) ?? [];
    list.push({ type, handle: onMessage });
    this.handlers.set(topic, list);
  }

  service(name: string, _type: string, handle: (request: unknown) => Promise<object> | object): void {
    this.services.set(name, handle);
  }

  action(name: string, _type: string, execute: (goal: ServedGoal) => Promise<GoalOutcome>): void {
    this.actions.set(name, execute);
  }

  async close(): Promise<void> {
    for (const client of this.clients) {
      for (const goal of client.goals.values()) goal.abort();
      client.socket.terminate();
    }
    this.clients.clear();
    // Each socket's close event gives its unfinished fragments back (and clears their timers).
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private accept(socket: WebSocket, stream: Duplex): void {
    if (this.clients.size >= this.maxClients) {
      this.log(`rosbridge: a client was refused: ${this.maxClients} are connected already.`);
      socket.close(1013, `sim-serve takes at most ${this.maxClients} clients; try again later`);
      return;
    }
    const client: Client = {
      socket, stream, level: 'error', subscriptions: new Map(), merged: new Map(), lastSent: new Map(), advertised: new Map(), goals: new Map(), fragments: new Map(), fragmentBytes: 0, nextId: 0,
    };
    this.clients.add(client);
    socket.on('message', (data: RawData, isBinary: boolean) => this.receive(client, data, isBinary));
    socket.on('close', () => {
      this.clients.delete(client);
      this.corked.delete(client);
      for (const goal of client.goals.values()) goal.abort();
      for (const id of [...client.fragments.keys()]) this.dropFragments(client, id);
    });
    socket.on('error', (err) => this.log(`rosbridge: a client connection failed: ${err.message}`));
  }

  private receive(client: Client, data: RawData, isBinary: boolean): void {
    const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    let message: unknown;
    try {
      message = isBinary ? decodeCbor(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) : JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      this.status(client, 'error', `The message is not valid ${isBinary ? 'CBOR' : 'JSON'}: ${(err as Error).message}`);
      return;
    }
    this.handle(client, message);
  }

  private handle(client: Client, message: unknown): void {
    const head = Op.safeParse(message);
    if (!head.success) {
      this.status(client, 'error', 'A rosbridge message must be a JSON object with a string `op`.');
      return;
    }
    const { op, id } = head.data;
    if (!Object.hasOwn(Ops, op)) {
      const known = [...Object.keys(Ops), 'advertise_service', 'advertise_action'].join(', ');
      const why = op === 'advertise_service' || op === 'unadvertise_service' || op === 'advertise_action' || op === 'unadvertise_action' || op === 'service_response' || op === 'action_result' || op === 'action_feedback'
        ? `sim-serve serves the robot's services and actions itself; clients cannot provide them ('${op}')`
        : `Unknown op '${op}'; rosbridge v2 ops are ${known}`;
      this.status(client, 'error', `${why}.`, id);
      return;
    }
    const parsed = Ops[op as keyof typeof Ops].safeParse(message);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || op} ${i.message}`).join('; ');
      this.status(client, 'error', `The '${op}' message is malformed: ${issues}.`, id);
      return;
    }
    try {
      this.dispatch(client, op as keyof typeof Ops, parsed.data);
    } catch (err) {
      this.status(client, 'error', (err as Error).message, id);
    }
  }

  private dispatch(client: Client, op: keyof typeof Ops, m: z.infer<(typeof Ops)[keyof typeof Ops]>): void {
    switch (op) {
      case 'set_level':
        client.level = (m as z.infer<typeof Ops.set_level>).level;
        return;
      case 'advertise': {
        const { topic, type } = m as z.infer<typeof Ops.advertise>;
        this.refuseServed(topic);
        const known = this.handlers.get(topic)?.[0]?.type;
        if (known && !sameType(known, type)) throw new Error(`Topic ${topic} carries ${known}, not ${type}.`);
        client.advertised.set(topic, type);
        return;
      }
      case 'unadvertise':
        client.advertised.delete((m as z.infer<typeof Ops.unadvertise>).topic);
        return;
      case 'publish': {
        const { topic, msg, id } = m as z.infer<typeof Ops.publish>;
        this.refuseServed(topic);
        const handlers = this.handlers.get(topic);
        if (!handlers && !client.advertised.has(topic)) throw new Error(`Nobody takes messages on ${topic}; advertise it first, or publish to one of ${[...this.handlers.keys()].join(', ')}.`);
        for (const h of handlers ?? []) {
          const warning = h.handle(msg);
          if (warning) this.status(client, 'warning', warning, id);
        }
        this.fanOut(topic, msg, client);
        return;
      }
      case 'subscribe':
        this.addSubscription(client, m as z.infer<typeof Ops.subscribe>);
        return;
      case 'unsubscribe': {
        const { topic, id } = m as z.infer<typeof Ops.unsubscribe>;
        const subs = client.subscriptions.get(topic);
        if (!subs) throw new Error(`Not subscribed to ${topic}.`);
        if (id !== undefined && subs.has(id)) subs.delete(id);
        else subs.clear();
        if (subs.size === 0) {
          client.subscriptions.delete(topic);
          client.merged.delete(topic);
        } else client.merged.set(topic, this.merged(subs));
        return;
      }
      case 'call_service':
        void this.callService(client, m as z.infer<typeof Ops.call_service>);
        return;
      case 'send_action_goal':
        this.sendGoal(client, m as z.infer<typeof Ops.send_action_goal>);
        return;
      case 'cancel_action_goal': {
        const { id, action } = m as z.infer<typeof Ops.cancel_action_goal>;
        const goal = client.goals.get(id);
        if (!goal) throw new Error(`No goal '${id}' of ${action} is running.`);
        goal.abort();
        return;
      }
      case 'fragment':
        this.addFragment(client, m as z.infer<typeof Ops.fragment>);
        return;
    }
  }

  /** A topic the server publishes is its own: a client neither advertises nor publishes on it. */
  private refuseServed(topic: string): void {
    if (this.served.has(topic)) throw new Error(`${topic} is published by sim-serve itself (${this.served.get(topic)}); clients cannot publish on it.`);
  }

  private addSubscription(client: Client, m: z.infer<typeof Ops.subscribe>): void {
    const known = this.served.get(m.topic);
    if (known && m.type && !sameType(known, m.type)) throw new Error(`Topic ${m.topic} carries ${known}, not ${m.type}.`);
    let cbor = false;
    if (m.compression === 'cbor') cbor = true;
    else if (m.compression !== 'none') {
      this.status(client, 'warning', `Compression '${m.compression}' is not supported by sim-serve; ${m.topic} is sent as plain JSON (use 'cbor' for binary).`, m.id);
    }
    const fragmentSize = this.fragmentSize(client, m.fragment_size, m.id);
    const isNew = !client.subscriptions.has(m.topic);
    const subs = client.subscriptions.get(m.topic) ?? new Map<string, Subscription>();
    subs.set(m.id ?? `subscribe:${m.topic}:${client.nextId++}`, { throttleMs: m.throttle_rate, queueLength: m.queue_length, fragmentSize, cbor });
    client.subscriptions.set(m.topic, subs);
    const merged = this.merged(subs);
    client.merged.set(m.topic, merged);
    // A latched topic's last message, as a latched ROS topic gives a subscriber that joins late.
    const last = this.latched.get(m.topic);
    if (isNew && last) this.sendPublish(client, m.topic, last, merged);
  }

  /** A client's fragment_size, raised to the smallest one taken (saying so). */
  private fragmentSize(client: Client, size: number | undefined, id: string | undefined): number | undefined {
    if (size === undefined || size >= MIN_FRAGMENT_SIZE) return size;
    this.status(client, 'warning', `fragment_size ${size} is below the smallest taken, ${MIN_FRAGMENT_SIZE} bytes; ${MIN_FRAGMENT_SIZE} is used.`, id);
    return MIN_FRAGMENT_SIZE;
  }

  /** The merged options of a client's subscriptions to a topic: lowest throttle and fragment size, binary if any asked. */
  private merged(subs: Map<string, Subscription>): Subscription {
    let throttleMs = Infinity;
    let queueLength = 0;
    let fragmentSize: number | undefined;
    let cbor = false;
    for (const s of subs.values()) {
      throttleMs = Math.min(throttleMs, s.throttleMs);
      queueLength = Math.max(queueLength, s.queueLength);
      if (s.fragmentSize !== undefined) fragmentSize = Math.min(fragmentSize ?? Infinity, s.fragmentSize);
      cbor ||= s.cbor;
    }
    return { throttleMs, queueLength, fragmentSize, cbor };
  }

  /**
   * Sends a message on `topic` to every subscribed client (except its sender). It is serialized
   * at most once per wire format, however many clients take it: the same text or bytes go to each.
   */
  private fanOut(topic: string, msg: unknown, from: Client | undefined): void {
    let json: string | undefined;
    let jsonBytes: Buffer | undefined;
    let cbor: Uint8Array | undefined;
    const now = performance.now();
    for (const client of this.clients) {
      if (client === from) continue;
      const options = client.merged.get(topic);
      if (!options) continue;
      if (options.throttleMs > 0 && now - (client.lastSent.get(topic) ?? -Infinity) < options.throttleMs) continue;
      // A client that reads slower than the robot publishes loses messages, never the server its memory.
      if (client.socket.bufferedAmount > MAX_BUFFERED) continue;
      client.lastSent.set(topic, now);
      this.hold(client);
      if (options.cbor) {
        cbor ??= toCbor({ op: 'publish', topic, msg });
        client.socket.send(cbor, { binary: true });
      } else {
        json ??= toJson({ op: 'publish', topic, msg });
        // Text handed to ws as a string is encoded to UTF-8 again for every socket; bytes are not.
        if (options.fragmentSize === undefined || json.length <= options.fragmentSize) {
          jsonBytes ??= Buffer.from(json, 'utf8');
          if (client.socket.readyState === client.socket.OPEN) client.socket.send(jsonBytes, { binary: false });
        } else this.sendText(client, json, options.fragmentSize);
      }
    }
  }

  /**
   * Corks a client's connection until this turn of the event loop ends: a step publishes several
   * topics, and a lockstep trajectory steps for a few milliseconds between turns, so its messages
   * leave in one write (one system call, one wake-up of the reader) instead of one each. Order and
   * bytes are unchanged; only the system calls are fewer.
   */
  private hold(client: Client): void {
    if (this.corked.has(client)) return;
    if (this.corked.size === 0) setImmediate(() => this.release());
    this.corked.add(client);
    client.stream.cork();
  }

  /** Uncorks every connection held this turn. */
  private release(): void {
    for (const client of this.corked) client.stream.uncork();
    this.corked.clear();
  }

  /** Sends one message on `topic` to one client, as its subscription asks. */
  private sendPublish(client: Client, topic: string, msg: unknown, options: Subscription): void {
    this.send(client, { op: 'publish', topic, msg }, options.fragmentSize, options.cbor);
  }

  private sendText(client: Client, text: string, fragmentSize: number | undefined): void {
    if (client.socket.readyState !== client.socket.OPEN) return;
    if (fragmentSize === undefined || text.length <= fragmentSize) {
      client.socket.send(text);
      return;
    }
    const id = `fragment:${client.nextId++}`;
    const total = Math.ceil(text.length / fragmentSize);
    for (let num = 0; num < total; num++) {
      client.socket.send(JSON.stringify({ op: 'fragment', id, data: text.slice(num * fragmentSize, (num + 1) * fragmentSize), num, total }));
    }
  }

  private send(client: Client, message: object, fragmentSize?: number, cbor = false): void {
    if (client.socket.readyState !== client.socket.OPEN) return;
    if (cbor) client.socket.send(toCbor(message), { binary: true });
    else this.sendText(client, toJson(message), fragmentSize);
  }

  private status(client: Client, level: Exclude<Level, 'none'>, msg: string, id?: string): void {
    const order: Level[] = ['info', 'warning', 'error', 'none'];
    if (order.indexOf(level) < order.indexOf(client.level)) return;
    this.send(client, { op: 'status', level, msg, ...(id !== undefined ? { id } : {}) });
  }

  private async callService(client: Client, m: z.infer<typeof Ops.call_service>): Promise<void> {
    const fragmentSize = this.fragmentSize(client, m.fragment_size, m.id);
    const respond = (result: boolean, values: unknown) =>
      this.send(client, { op: 'service_response', service: m.service, values, result, ...(m.id !== undefined ? { id: m.id } : {}) }, fragmentSize, m.compression === 'cbor');
    const handle = this.services.get(m.service);
    if (!handle) {
      respond(false, `Service ${m.service} does not exist; this robot serves ${[...this.services.keys()].join(', ') || 'none'}.`);
      return;
    }
    try {
      respond(true, await handle(m.args ?? {}));
    } catch (err) {
      respond(false, (err as Error).message);
    }
  }

  private sendGoal(client: Client, m: z.infer<typeof Ops.send_action_goal>): void {
    const id = m.id ?? `goal:${client.nextId++}`;
    const result = (outcome: GoalOutcome) =>
      this.send(client, { op: 'action_result', id, action: m.action, values: outcome.result, status: outcome.status, result: outcome.status === GOAL_STATUS.succeeded });
    const execute = this.actions.get(m.action);
    if (!execute) {
      result({ status: GOAL_STATUS.aborted, result: `Action ${m.action} does not exist; this robot serves ${[...this.actions.keys()].join(', ') || 'none'}.` });
      return;
    }
    if (client.goals.has(id)) throw new Error(`A goal with id '${id}' is already running; give each goal its own id.`);
    const abort = new AbortController();
    client.goals.set(id, abort);
    const feedback = (values: object) => {
      if (m.feedback) this.send(client, { op: 'action_feedback', id, action: m.action, values });
    };
    execute({ goal: m.args ?? {}, feedback, signal: abort.signal })
      .then(result, (err: Error) => result({ status: GOAL_STATUS.aborted, result: err.message }))
      .finally(() => client.goals.delete(id));
  }

  private addFragment(client: Client, m: z.infer<typeof Ops.fragment>): void {
    const open = client.fragments.get(m.id);
    if (open && open.parts.length !== m.total) throw new Error(`Fragment ${m.num} of '${m.id}' says ${m.total} pieces; earlier ones said ${open.parts.length}.`);
    if (m.num >= m.total) throw new Error(`Fragment number ${m.num} of '${m.id}' is not below its total ${m.total}.`);
    if (!open && client.fragments.size >= MAX_OPEN_FRAGMENTED) throw new Error(`Too many fragmented messages are open at once (${MAX_OPEN_FRAGMENTED}); finish some first.`);
    const entry = open ?? { parts: new Array<string>(m.total), received: 0, bytes: 0, timer: this.fragmentTimer(client, m.id) };
    client.fragments.set(m.id, entry);
    if (entry.parts[m.num] !== undefined) return;
    const size = m.data.length;
    const over =
      entry.bytes + size > MAX_FRAGMENTED ? `passes ${MAX_FRAGMENTED} bytes`
      : client.fragmentBytes + size > MAX_FRAGMENTED ? `would take this client's unfinished messages past ${MAX_FRAGMENTED} bytes; finish or abandon some first`
      : this.fragmentBytes + size > FRAGMENT_BUDGET ? `would take the server's unfinished messages past ${FRAGMENT_BUDGET} bytes; try again later`
      : undefined;
    if (over) {
      this.dropFragments(client, m.id);
      throw new Error(`The fragmented message '${m.id}' ${over}; it is dropped.`);
    }
    entry.parts[m.num] = m.data;
    entry.received++;
    entry.bytes += size;
    client.fragmentBytes += size;
    this.fragmentBytes += size;
    if (entry.received < m.total) return;
    this.dropFragments(client, m.id);
    let whole: unknown;
    try {
      whole = JSON.parse(entry.parts.join(''));
    } catch (err) {
      throw new Error(`The fragments of '${m.id}' do not form JSON: ${(err as Error).message}`);
    }
    if ((whole as { op?: unknown } | null)?.op === 'fragment') throw new Error('A fragmented message may not itself be a fragment.');
    this.handle(client, whole);
  }

  /** Drops an unfinished fragmented message when it has waited too long, saying so. */
  private fragmentTimer(client: Client, id: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (!client.fragments.has(id)) return;
      this.dropFragments(client, id);
      this.status(client, 'error', `The fragmented message '${id}' was not completed within ${this.fragmentTimeoutMs / 1000} s; it is dropped.`);
    }, this.fragmentTimeoutMs);
    timer.unref();
    return timer;
  }

  /** Forgets a fragmented message and gives its bytes back to the budgets. */
  private dropFragments(client: Client, id: string): void {
    const entry = client.fragments.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    client.fragments.delete(id);
    client.fragmentBytes -= entry.bytes;
    this.fragmentBytes -= entry.bytes;
  }
}
