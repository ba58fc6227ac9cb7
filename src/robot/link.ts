/**
 * `RobotLink`: the one interface a policy acts through, whether the robot is the in-process
 * MuJoCo sim, the sim served over rosbridge, or a physical arm. The sim link is fast; network
 * links are the same interface with latency. Every link is used through a `SafeLink`.
 */
import type { AxisValue } from '../scenario/perturbation.ts';
import type { RobotConfig } from '../scenario/robot.ts';
import type { Kinematics } from '../sim/kinematics.ts';
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
  /** Gripper opening (m); 0 for a robot without a gripper. */
  gripperWidth: number;
  /** Finger-pad touch forces [left, right] (N); zeros without touch sensors. */
  touch: [number, number];
  /** Wrist wrench [fx, fy, fz, tx, ty, tz]; zeros without a wrist sensor. */
  wrench: Float64Array;
  /** Tracked objects by name (as the policy perceives them). */
  objects: Record<string, Pose>;
  /** What the task asks of the policy, in the first observation of an episode of a task that briefs (absent otherwise). */
  brief?: TaskBrief;
}

/**
 * What a task tells a policy at the start of an episode: an instruction in words and facts about
 * the scene that the poses do not show (colours, sizes, named places), as a person would be told.
 */
export interface TaskBrief {
  /** What to do, as a person would say it. */
  instruction: string;
  /** Facts about each tracked object, by object name. */
  objects: Record<string, ObjectFacts>;
  /** Named regions of the table where things can be put, by name. */
  places: Record<string, PlaceFacts>;
  /** Where the robot's base stands [x, y] (m, world), for "near the robot". */
  robot_base?: [number, number];
}

/** What a brief says about an object. */
export interface ObjectFacts {
  /** Its colour, in a word. */
  colour?: string;
  /** Its largest extent (m). */
  size?: number;
}

/** What a brief says about a place: where it is, how large, and its colour. */
export interface PlaceFacts {
  /** Its centre [x, y] on the table (m, world). */
  center: [number, number];
  /** Its half extents [x, y] (m). */
  half_size: [number, number];
  /** Its colour, in a word. */
  colour?: string;
}

/** What the policy commands at one control tick. */
export interface Action {
  /** Joint position targets (rad), in robot.yaml order. */
  position: ArrayLike<number>;
  /** Gripper opening target (m); ignored by a robot without a gripper. */
  gripperWidth: number;
  /** Most force the gripper may squeeze with (N); absent: the robot's gripper effort limit. */
  gripperEffort?: number;
}

export interface RobotLink {
  /** The robot this link drives. */
  readonly robot: RobotConfig;
  /** Where episodes run: `sim`, `rosbridge`, `ros2`. */
  readonly backend: string;
  /** Control period in seconds. */
  readonly controlPeriod: number;
  /** Forward kinematics and Jacobians of the robot's tool site (for IK and the safety envelope). */
  readonly kinematics: Kinematics;
  /** Starts a new episode (sim: the world of `seed`); returns the first observation. */
  reset(seed: number): Promise<Observation>;
  /** Sends an action (already through the safety envelope) for one control period; returns what follows. */
  act(action: Action): Promise<Observation>;
  /** The latest observation. */
  observe(): Observation;
  /** The topics recorded since the last reset. */
  trace(): Trace;
  /** The whole world state now, for live viewing (the sim: time and the full qpos); absent elsewhere. */
  snapshot?(): { time: number; qpos: Float64Array } | undefined;
  /**
   * The perturbation of the episodes from the next reset on (the in-process sim only: a robot's
   * differences are its own); absent on links that cannot take one.
   */
  perturb?(values: readonly AxisValue[]): void;
  /** Seconds since the last joint state arrived (network links); 0 for the in-process sim. */
  stateAge?(): number;
  /** Safe halt: hold the current position, open nothing. */
  stop(): Promise<void>;
  /** Releases the connection or the simulation. */
  close(): Promise<void>;
}
