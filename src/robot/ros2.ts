/**
 * ROS 2 through rclnodejs: the only module that knows it. rclnodejs is an optional dependency that
 * builds only where a ROS 2 distro is sourced, so it is imported lazily, and only when
 * `ROS_DISTRO` and `AMENT_PREFIX_PATH` say a distro is there (importing it without its native build
 * would start a rebuild and then throw). Gives a network link its `GraphClient` and
 * `arbor sim-serve --ros2` its `GraphServer`, each one rclnodejs node.
 */
import { cdrCodec } from './ros2-cdr.ts';
import { GOAL_STATUS, LinkDroppedError, type GoalHandle, type GoalOutcome, type GraphClient, type GraphServer, type ServedGoal } from './graph.ts';

/** The parts of rclnodejs arbor uses (declared here: its own types exist only where it is installed). */
interface Rclnodejs {
  init(): Promise<void>;
  Node: new (name: string, namespace?: string, context?: unknown, options?: unknown) => RclNode;
  NodeOptions: new () => { startParameterServices: boolean; enableRosout: boolean };
  ActionClient: new (node: RclNode, type: string, name: string) => RclActionClient;
  ActionServer: new (
    node: RclNode, type: string, name: string,
    execute: (handle: RclServerGoal) => Promise<unknown>,
    goal?: undefined, accepted?: undefined,
    cancel?: (handle?: RclServerGoal) => number,
  ) => { destroy(): void };
  CancelResponse: { ACCEPT: number };
  QoS: new (history: number, depth: number, reliability: number, durability: number) => object;
}
interface RclNode {
  createPublisher(type: string, topic: string, options?: { qos: object }): RclPublisher;
  createSubscription(type: string, topic: string, options: { qos: object; isRaw?: boolean }, callback: (message: unknown) => void): unknown;
  createClient(type: string, name: string): RclClient;
  createService(type: string, name: string, callback: (request: unknown, response: { template: unknown; send(value: unknown): void }) => void): unknown;
  spin(): void;
  destroy(): void;
}
interface RclPublisher {
  publish(message: object | Buffer): void;
  /** How many subscriptions match it now. */
  readonly subscriptionCount: number;
}
interface RclClient {
  waitForService(timeoutMs?: number): Promise<boolean>;
  sendRequestAsync(request: object, options?: { timeout?: number }): Promise<unknown>;
}
interface RclActionClient {
  waitForServer(timeoutMs?: number): Promise<boolean>;
  sendGoal(goal: object, feedback?: (message: unknown) => void): Promise<RclClientGoal>;
}
interface RclClientGoal {
  accepted: boolean;
  status: number;
  getResult(): Promise<unknown>;
  cancelGoal(): Promise<unknown>;
}
interface RclServerGoal {
  request: unknown;
  isCancelRequested: boolean;
  publishFeedback(feedback: object): void;
  succeed(): void;
  abort(): void;
  canceled(): void;
}

let loading: Promise<Rclnodejs> | undefined;

/** Why ROS 2 cannot be used in this process, or undefined when a distro is sourced. */
export function ros2Unavailable(): string | undefined {
  if (!process.env.ROS_DISTRO || !process.env.AMENT_PREFIX_PATH) {
    return 'no ROS 2 distro is sourced (ROS_DISTRO and AMENT_PREFIX_PATH are not set): source /opt/ros/jazzy/setup.bash, or ../shared/ros2-jazzy/ unpacked with its install.sh and then its env.sh, and run npm install again so rclnodejs builds against it';
  }
  return undefined;
}

/** rclnodejs, loaded and initialised once per process; throws a clear error without ROS 2. */
export function loadRclnodejs(): Promise<Rclnodejs> {
  const missing = ros2Unavailable();
  if (missing) return Promise.reject(new Error(`The ros2 backend needs ROS 2: ${missing}.`));
  loading ??= (async () => {
    // A variable name keeps TypeScript from resolving the optional package where it is absent.
    const name = 'rclnodejs';
    let module: { default?: Rclnodejs } & Partial<Rclnodejs>;
    try {
      module = await import(name);
    } catch (err) {
      throw new Error(`ROS 2 ${process.env.ROS_DISTRO} is sourced but rclnodejs is not installed or not built (${(err as Error).message.split('\n')[0]}); run npm install with ROS 2 sourced (and npm_config_yes=true).`);
    }
    const rcl = (module.default ?? module) as Rclnodejs;
    await rcl.init();
    return rcl;
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}

/** Plain data from an rclnodejs message (its nested arrays may be wrappers). */
function plain(message: unknown): unknown {
  const convert = (message as { toPlainObject?: () => unknown } | null)?.toPlainObject;
  return typeof convert === 'function' ? convert.call(message) : message;
}

/** rclnodejs wants int64 fields (a parameter's `integer_value`) as bigints; JSON carries numbers. */
function int64s(message: object): object {
  return JSON.parse(JSON.stringify(message), (key, value: unknown) => (key === 'integer_value' && typeof value === 'number' ? BigInt(value) : value));
}

/**
 * Topics keep the last 1000 messages, reliably: a robot's state stream in lockstep comes in bursts
 * (a trajectory steps many periods at once), and the default depth of 10 drops some.
 */
function streamQos(rcl: Rclnodejs): { qos: object } {
  const KEEP_LAST = 1;
  const RELIABLE = 1;
  const VOLATILE = 2;
  return { qos: new rcl.QoS(KEEP_LAST, 1000, RELIABLE, VOLATILE) };
}

/** A topic's publisher: `publish` sends a message; `replay`, on a latched topic, gives a new subscriber the last one. */
interface TopicPublisher {
  publish(message: object): void;
  /** Publishes the last message again when subscriptions joined since the last look; undefined unless latched. */
  replay?: () => void;
}

/**
 * A topic's publisher. Messages go out as CDR bytes we write (see ros2-cdr.ts: rclnodejs's own
 * conversion is what limited a robot's state stream) when the type's codec can be built and
 * writes the message; rclnodejs converts what it cannot.
 *
 * `latched`: DDS's own latching (transient_local durability) would replay the publisher's whole
 * history, up to `streamQos`'s 1000 states, to every late joiner, and a second transient_local
 * publisher on the topic would give every subscriber each message twice. So the stream stays
 * volatile and `replay` publishes the last message once more when the subscription count has
 * risen: the newcomer sees the robot at rest, and the others get again the newest message they
 * already have (same stamp, same values, in order behind it on the same writer), which a state
 * subscriber takes as no news (arm-joints.ts keeps a joint's newest stamp; a repeat changes nothing).
 * One case is not news-free: a repeat of the previous world's reset state (stamped 0) that reaches
 * a lockstep link between its clearing and the server's next reset passes the link's stale check,
 * and if the other topics' new states overtake the new joint state, the link reads the old one at
 * reset; that differs only where the at-rest state depends on the seed (a sensor-noise perturbation).
 */
function topicPublisher(rcl: Rclnodejs, node: RclNode, topic: string, type: string, latched = false): TopicPublisher {
  const publisher = node.createPublisher(type, topic, streamQos(rcl));
  const encode = cdrCodec(type)?.encoder();
  // On a latched topic `last` may be the encoder's buffer: it holds the last message until the next publish replaces both.
  let last: object | Buffer | undefined;
  let subscriptions = 0;
  const publish = (message: object) => {
    let bytes: Buffer | undefined;
    try {
      bytes = encode?.(message);
    } catch {
      bytes = undefined;
    }
    const payload = bytes ?? message;
    publisher.publish(payload);
    if (latched) last = payload;
  };
  if (!latched) return { publish };
  const replay = () => {
    const count = publisher.subscriptionCount;
    if (count > subscriptions && last) publisher.publish(last);
    subscriptions = count;
  };
  return { publish, replay };
}

/** Subscribes to a topic with plain messages: decoded from its CDR bytes by our codec, or by rclnodejs. */
function subscribeTopic(rcl: Rclnodejs, node: RclNode, topic: string, type: string, onMessage: (message: unknown) => void): void {
  const codec = cdrCodec(type);
  if (!codec) {
    node.createSubscription(type, topic, streamQos(rcl), (message) => onMessage(plain(message)));
    return;
  }
  node.createSubscription(type, topic, { ...streamQos(rcl), isRaw: true }, (bytes) => onMessage(codec.decode(bytes as Buffer)));
}

let nodes = 0;

/** A node of its own for one process's use: a unique name, spinning. */
async function openNode(role: string, namespace: string, parameterServices: boolean): Promise<{ rcl: Rclnodejs; node: RclNode }> {
  const rcl = await loadRclnodejs();
  const options = new rcl.NodeOptions();
  options.startParameterServices = parameterServices;
  options.enableRosout = false;
  const node = new rcl.Node(`arbor_${role}_${process.pid}_${nodes++}`, namespace, undefined, options);
  node.spin();
  return { rcl, node };
}

/** A network link's connection to a ROS 2 robot in `namespace`. */
export async function connectRos2(namespace: string): Promise<GraphClient> {
  const { rcl, node } = await openNode('link', namespace, false);
  return new Ros2Client(rcl, node, `ros2${namespace ? `:${namespace}` : ''}`);
}

class Ros2Client implements GraphClient {
  private readonly clients = new Map<string, RclClient>();
  private readonly actionClients = new Map<string, RclActionClient>();

  constructor(
    private readonly rcl: Rclnodejs,
    private readonly node: RclNode,
    readonly address: string,
  ) {}

  subscribe(topic: string, type: string, onMessage: (message: unknown) => void): void {
    subscribeTopic(this.rcl, this.node, topic, type, onMessage);
  }

  advertise(topic: string, type: string): (message: object) => void {
    return topicPublisher(this.rcl, this.node, topic, type).publish;
  }

  async call(service: string, type: string, request: object, timeoutMs: number): Promise<unknown> {
    let client = this.clients.get(service);
    if (!client) {
      client = this.node.createClient(type, service);
      this.clients.set(service, client);
    }
    // DDS has no connection to lose: a robot that is gone shows as a service that is not there.
    if (!(await client.waitForService(timeoutMs))) throw new LinkDroppedError(this.address, `service ${service} is not available`);
    return plain(await client.sendRequestAsync(int64s(request), { timeout: timeoutMs }));
  }

  sendGoal(action: string, type: string, goal: object, onFeedback?: (feedback: unknown) => void): GoalHandle {
    let client = this.actionClients.get(action);
    if (!client) {
      client = new this.rcl.ActionClient(this.node, type, action);
      this.actionClients.set(action, client);
    }
    const actionClient = client;
    let handle: RclClientGoal | undefined;
    let cancelled = false;
    const result = (async (): Promise<GoalOutcome> => {
      if (!(await actionClient.waitForServer(5000))) throw new LinkDroppedError(this.address, `action ${action} is not available`);
      handle = await actionClient.sendGoal(goal, onFeedback ? (message) => onFeedback(plain(message)) : undefined);
      if (!handle.accepted) return { status: GOAL_STATUS.aborted, result: 'the goal was rejected' };
      if (cancelled) void handle.cancelGoal();
      const value = plain(await handle.getResult());
      return { status: handle.status, result: value };
    })();
    return {
      result,
      cancel: () => {
        cancelled = true;
        if (handle) void handle.cancelGoal();
      },
    };
  }

  onDrop(): void {
    // A DDS graph has no connection to drop; silence is caught by the link's timeouts and watchdog.
  }

  async close(): Promise<void> {
    this.node.destroy();
  }
}

/** `arbor sim-serve --ros2`: a ROS 2 node named `name` in `namespace` serving the sim. */
export async function serveRos2(namespace: string): Promise<GraphServer> {
  const { rcl, node } = await openNode('sim', namespace, false);
  return new Ros2Server(rcl, node);
}

/** How often (ms) the served node looks for new subscribers of its latched topics. */
const LATCH_POLL_MS = 200;

class Ros2Server implements GraphServer {
  private readonly servers: { destroy(): void }[] = [];
  /** The latched topics' replays, run every `LATCH_POLL_MS`. */
  private readonly replays: (() => void)[] = [];
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly rcl: Rclnodejs,
    private readonly node: RclNode,
  ) {}

  publisher(topic: string, type: string, options: { latched?: boolean } = {}): (message: object) => void {
    const { publish, replay } = topicPublisher(this.rcl, this.node, topic, type, options.latched);
    if (replay) {
      this.replays.push(replay);
      // Polled: rclnodejs's matched event is not exported from its package, and a new viewer can wait a fifth of a second.
      this.poll ??= setInterval(() => this.replays.forEach((r) => r()), LATCH_POLL_MS).unref();
    }
    return publish;
  }

  subscribe(topic: string, type: string, onMessage: (message: unknown) => string | undefined | void): void {
    subscribeTopic(this.rcl, this.node, topic, type, (message) => {
      try {
        // A warning has no way back to a DDS publisher; the served robot logs it itself.
        onMessage(message);
      } catch (err) {
        process.stderr.write(`sim-serve: a message on ${topic} was refused: ${(err as Error).message}\n`);
      }
    });
  }

  service(name: string, type: string, handle: (request: unknown) => Promise<object> | object): void {
    this.node.createService(type, name, (request, response) => {
      Promise.resolve()
        .then(() => handle(plain(request)))
        .then(
          (value) => response.send(value),
          // A Trigger-like answer says what went wrong; other types get their empty response.
          (err: Error) => response.send({ ...(response.template as object), success: false, message: err.message }),
        );
    });
  }

  action(name: string, type: string, execute: (goal: ServedGoal) => Promise<GoalOutcome>): void {
    const running = new Map<RclServerGoal, AbortController>();
    const server = new this.rcl.ActionServer(
      this.node, type, name,
      async (handle) => {
        const abort = new AbortController();
        running.set(handle, abort);
        try {
          const outcome = await execute({ goal: plain(handle.request), feedback: (message) => handle.publishFeedback(message), signal: abort.signal });
          if (outcome.status === GOAL_STATUS.succeeded) handle.succeed();
          else if (outcome.status === GOAL_STATUS.canceled) handle.canceled();
          else handle.abort();
          return outcome.result;
        } catch {
          handle.abort();
          return {};
        } finally {
          running.delete(handle);
        }
      },
      undefined,
      undefined,
      (handle) => {
        if (handle) running.get(handle)?.abort();
        return this.rcl.CancelResponse.ACCEPT;
      },
    );
    this.servers.push(server);
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    for (const server of this.servers) server.destroy();
    this.node.destroy();
  }
}
