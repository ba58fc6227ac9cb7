/**
 * A robot behind a rosbridge v2 WebSocket (`--backend rosbridge://HOST:PORT`): `rosbridge_server`
 * in front of a ROS 2 robot, or `arbor sim-serve --rosbridge`. The only module that knows roslib.
 * Topics arrive as CBOR (compact, and floats arrive exactly as they were sent), read by
 * rosbridge-cbor.ts where it can (cbor2, roslib's decoder, where it cannot).
 */
import { AbstractTransport, Ros, Service, Topic } from 'roslib';
import WebSocket from 'ws';
import type { GoalHandle, GoalOutcome, GraphClient } from './graph.ts';
import { LinkDroppedError } from './graph.ts';
import { NOT_READ, fromCbor } from './rosbridge-cbor.ts';

/**
 * roslib's WebSocket transport for Node (the same `ws` socket and calls; roslib does not export its
 * own, so it cannot be extended) with binary frames read
 * by `fromCbor`: what it reads goes on exactly as roslib's cbor2 path would pass it (a rosbridge
 * message: fragments, PNG and all handled by roslib); everything else — text frames, a frame it
 * leaves to cbor2, CBOR that is not a rosbridge message — takes roslib's own path and its errors.
 */
class CborTransport extends AbstractTransport {
  constructor(private readonly socket: WebSocket) {
    super();
    socket.binaryType = 'arraybuffer';
    socket.onopen = (event) => this.emit('open', event);
    socket.onclose = (event) => this.emit('close', event);
    socket.onerror = (event) => this.emit('error', event);
    socket.onmessage = (event) => this.handleRawMessage(event.data);
  }

  protected override handleRawMessage(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      const message = fromCbor(new Uint8Array(data));
      if (message !== NOT_READ && message instanceof Object && 'op' in message && typeof message.op === 'string') return super.handleRawMessage(message);
    }
    super.handleRawMessage(data);
  }

  send(message: object): void {
    this.socket.send(JSON.stringify(message));
  }

  close(): void {
    this.socket.close();
  }

  isConnecting(): boolean {
    return this.socket.readyState === WebSocket.CONNECTING;
  }

  isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  isClosing(): boolean {
    return this.socket.readyState === WebSocket.CLOSING;
  }

  isClosed(): boolean {
    return this.socket.readyState === WebSocket.CLOSED;
  }
}

/**
 * Opens a rosbridge connection; rejects naming the address when it cannot within `timeoutMs`.
 * `token`: the access token a server beyond loopback asks for (`arbor sim-serve --host`); it goes
 * in the connection's query, never in a message.
 */
export async function connectRosbridge(url: string, { token, timeoutMs = 5000 }: { token?: string; timeoutMs?: number } = {}): Promise<GraphClient> {
  const ros = new Ros({ transportFactory: async (address) => new CborTransport(new WebSocket(address)) });
  const opened = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`No rosbridge server answered at ${url} within ${timeoutMs / 1000} s; start one (arbor sim-serve SCENARIO --rosbridge PORT, or ros2 launch rosbridge_server rosbridge_websocket_launch.xml) or check the address.`)), timeoutMs);
    ros.once('connection', () => {
      clearTimeout(timer);
      resolve();
    });
    const fail = () => {
      clearTimeout(timer);
      reject(new Error(`The rosbridge server at ${url} refused the connection; start it, check the address${token === undefined ? ', or set ARBOR_ROSBRIDGE_TOKEN to the token it printed' : ' and ARBOR_ROSBRIDGE_TOKEN'}.`));
    };
    ros.once('error', fail);
    ros.once('close', fail);
  });
  try {
    await ros.connect(token === undefined ? url : `${url}/?token=${encodeURIComponent(token)}`);
    await opened;
  } catch (err) {
    ros.close();
    throw err;
  }
  return new RosbridgeClient(ros, url);
}

/** roslib's `Ros` as a `GraphClient`. */
class RosbridgeClient implements GraphClient {
  private closing = false;
  private dropped: string | undefined;
  private readonly dropListeners: ((reason: string) => void)[] = [];
  private readonly pending = new Set<(reason: string) => void>();
  private goals = 0;

  constructor(
    private readonly ros: Ros,
    readonly address: string,
  ) {
    const drop = () => {
      if (this.closing || this.dropped !== undefined) return;
      this.dropped = 'the rosbridge connection closed';
      for (const listener of this.dropListeners) listener(this.dropped);
      for (const fail of this.pending) fail(this.dropped);
    };
    ros.on('close', drop);
    ros.on('error', drop);
  }

  subscribe(topic: string, type: string, onMessage: (message: unknown) => void): void {
    new Topic({ ros: this.ros, name: topic, messageType: type, compression: 'cbor' }).subscribe(onMessage);
  }

  advertise(topic: string, type: string): (message: object) => void {
    const handle = new Topic({ ros: this.ros, name: topic, messageType: type });
    handle.advertise();
    return (message) => handle.publish(message);
  }

  call(service: string, type: string, request: object, timeoutMs: number): Promise<unknown> {
    return this.track((resolve, reject) => {
      const timer = setTimeout(() => reject(new LinkDroppedError(this.address, `${service} did not answer within ${timeoutMs / 1000} s`)), timeoutMs);
      new Service({ ros: this.ros, name: service, serviceType: type }).callService(
        request,
        (response) => {
          clearTimeout(timer);
          resolve(response);
        },
        (error) => {
          clearTimeout(timer);
          reject(new Error(`${service} failed: ${error}`));
        },
      );
    });
  }

  sendGoal(action: string, type: string, goal: object, onFeedback?: (feedback: unknown) => void): GoalHandle {
    // roslib's Action hands failures over as text; the raw messages keep the GoalStatus, which a
    // link needs to tell a cancelled goal from an aborted one.
    const id = `send_action_goal:${action}:${this.goals++}`;
    const result = this.track<GoalOutcome>((resolve) => {
      const listener = (message: { op?: string; status?: number; values?: unknown }) => {
        if (message.op === 'action_feedback') onFeedback?.(message.values);
        else if (message.op === 'action_result') {
          this.ros.off(id, listener);
          resolve({ status: typeof message.status === 'number' ? message.status : 0, result: message.values });
        }
      };
      this.ros.on(id, listener);
      this.ros.callOnConnection({ op: 'send_action_goal', id, action, action_type: type, args: goal, feedback: onFeedback !== undefined });
    });
    return { result, cancel: () => this.ros.callOnConnection({ op: 'cancel_action_goal', id, action }) };
  }

  onDrop(onDrop: (reason: string) => void): void {
    if (this.dropped !== undefined) onDrop(this.dropped);
    else this.dropListeners.push(onDrop);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.ros.close();
  }

  /** A request that fails as soon as the connection drops. */
  private track<T>(start: (resolve: (value: T) => void, reject: (error: Error) => void) => void): Promise<T> {
    if (this.dropped !== undefined) return Promise.reject(new LinkDroppedError(this.address, this.dropped));
    return new Promise<T>((resolve, reject) => {
      const fail = (reason: string) => reject(new LinkDroppedError(this.address, reason));
      this.pending.add(fail);
      start(
        (value) => {
          this.pending.delete(fail);
          resolve(value);
        },
        (error) => {
          this.pending.delete(fail);
          reject(error);
        },
      );
    });
  }
}
