/**
 * The two sides of a ROS graph as arbor uses it, whatever carries it (rclnodejs over DDS, or the
 * rosbridge v2 protocol over a WebSocket): a `GraphClient` is what a network link needs to drive a
 * robot, a `GraphServer` what `arbor sim-serve` needs to be one. Messages are plain objects in ROS 2
 * message shapes (numeric arrays may be typed arrays); types are named `pkg/msg/Type`,
 * `pkg/srv/Type`, `pkg/action/Type`.
 */

/** action_msgs/msg/GoalStatus values. */
export const GOAL_STATUS = { accepted: 1, executing: 2, canceling: 3, succeeded: 4, canceled: 5, aborted: 6 } as const;

/** How an action goal ended. */
export interface GoalOutcome {
  /** A `GOAL_STATUS` value. */
  status: number;
  /** The action's result message. */
  result: unknown;
}

/** A goal in flight. */
export interface GoalHandle {
  /** Resolves when the goal ends (rejects when the connection drops or the server refuses it). */
  result: Promise<GoalOutcome>;
  /** Asks the server to cancel the goal. */
  cancel(): void;
}

/** What a network link needs from its connection to a robot. */
export interface GraphClient {
  /** Where the connection goes, for messages (`ws://127.0.0.1:9090`, `ros2:/robot1`). */
  readonly address: string;
  /** Calls `onMessage` with every message on `topic`. */
  subscribe(topic: string, type: string, onMessage: (message: unknown) => void): void;
  /** A function that publishes on `topic`. */
  advertise(topic: string, type: string): (message: object) => void;
  /** Calls a service; rejects when it fails, is missing, or does not answer within `timeoutMs`. */
  call(service: string, type: string, request: object, timeoutMs: number): Promise<unknown>;
  /** Sends an action goal; `onFeedback` sees each feedback message. */
  sendGoal(action: string, type: string, goal: object, onFeedback?: (feedback: unknown) => void): GoalHandle;
  /** Calls `onDrop` once when the connection is lost (not when `close` is called). */
  onDrop(onDrop: (reason: string) => void): void;
  /** Closes the connection. */
  close(): Promise<void>;
}

/** An action goal as a server executes it. */
export interface ServedGoal {
  /** The goal message. */
  goal: unknown;
  /** Sends one feedback message to the goal's client. */
  feedback(message: object): void;
  /** Aborted when the client cancels the goal or goes away. */
  signal: AbortSignal;
}

/** What a served robot offers on a graph. */
export interface GraphServer {
  /**
   * A function that publishes on `topic`. `latched`: a subscriber that joins gets the last message,
   * as from a latched topic: at once over rosbridge (to that client alone); on a ROS 2 node, which
   * keeps its volatile stream (lockstep bursts need its depth; transient_local would replay that
   * history to every late joiner), as the last message published again once a new subscription
   * matches, which the others receive too as a repeat of the newest message they have.
   */
  publisher(topic: string, type: string, options?: { latched?: boolean }): (message: object) => void;
  /**
   * Calls `onMessage` with every message published on `topic`; a throw (a refusal) or a returned
   * sentence (a warning: the message was taken, changed) is reported to the sender when the
   * transport can. Clients may not publish on the server's own topics.
   */
  subscribe(topic: string, type: string, onMessage: (message: unknown) => string | undefined | void): void;
  /** Serves a service; a throw becomes a failed call with the error's message. */
  service(name: string, type: string, handle: (request: unknown) => Promise<object> | object): void;
  /** Serves an action; `execute` resolves with the outcome, a throw aborts the goal. */
  action(name: string, type: string, execute: (goal: ServedGoal) => Promise<GoalOutcome>): void;
  /** Stops serving. */
  close(): Promise<void>;
}

/** The connection to the robot was lost or went silent: the episode was cut off, not failed. */
export class LinkDroppedError extends Error {
  constructor(
    /** Where the link was connected. */
    readonly address: string,
    /** What happened, in a sentence. */
    readonly reason: string,
  ) {
    super(`The link to ${address} dropped: ${reason}`);
    this.name = 'LinkDroppedError';
  }
}
