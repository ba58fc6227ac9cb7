/**
 * `RobotLink`: the one interface a policy acts through, whether the robot is the in-process
 * MuJoCo sim, the sim served over rosbridge, or a physical arm. The sim link is fast; network
 * links are the same interface with latency.
 */
import type { RobotConfig } from '../scenario/robot.ts';
import type { Trace } from '../trace/trace.ts';

/** A pose: position (m) and orientation quaternion (x, y, z, w), as in geometry_msgs/Pose. */
export interface Pose {
  /** Position [x, y, z] in metres. */
  position: [number, number, number];
  /** Orientation [x, y, z, w]. */
  orientation: [number, number, number, number];
}

/** What the policy sees at one control tick. */
export interface Observation {
  /** Seconds since the episode started. */
  time: number;
  /** Arm joint positions (rad), in robot.yaml order. */
  position: Float64Array;
  /** Arm joint velocities (rad/s). */
  velocity: Float64Array;
  /** Arm joint efforts (N·m). */
  effort: Float64Array;
  /** Gripper opening (m). */
  gripperWidth: number;
  /** Finger-pad touch forces [left, right] (N). */
  touch: [number, number];
  /** Wrist wrench [fx, fy, fz, tx, ty, tz]. */
  wrench: Float64Array;
  /** Tracked objects by name. */
  objects: Record<string, Pose>;
}

/** What the policy commands at one control tick. */
export interface Action {
  /** Joint position targets (rad), in robot.yaml order. */
  position: ArrayLike<number>;
  /** Gripper opening target (m). */
  gripperWidth: number;
}

export interface RobotLink {
  /** The robot this link drives. */
  readonly robot: RobotConfig;
  /** Control period in seconds. */
  readonly controlPeriod: number;
  /** Starts a new episode (sim: the world of `seed`); returns the first observation. */
  reset(seed: number): Promise<Observation>;
  /** Applies an action for one control period (through the safety envelope); returns what follows. */
  act(action: Action): Promise<Observation>;
  /** The latest observation. */
  observe(): Observation;
  /** The topics recorded since the last reset. */
  trace(): Trace;
  /** Safe halt: hold the current position, open nothing. */
  stop(): Promise<void>;
  /** Releases the connection or the simulation. */
  close(): Promise<void>;
}
