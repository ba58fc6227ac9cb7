/**
 * Joint trajectories as a JointTrajectoryController takes them: a command names its joints in any
 * order and gives points at times from its start; the controller moves from where it was to each
 * point in turn, linearly, and holds the last. `arbor sim-serve` follows them; a network link
 * sends them (one point one control period ahead, per tick).
 */
import type { RobotConfig } from '../scenario/robot.ts';
import { fromStamp, toStamp, type JointTrajectoryMsg } from './ros-messages.ts';

/** A trajectory in the robot's joint order. */
export interface TrajectoryCommand {
  /** Seconds from the start of each point, increasing. */
  times: number[];
  /** Arm joint targets of each point (rad), in robot.yaml order. */
  positions: Float64Array[];
  /** Gripper opening of each point (m), when the trajectory carries the gripper joint. */
  gripper?: number[];
  /** Gripper force limit of each point (N), when given with the gripper joint. */
  gripperEffort?: number[];
}

/** Tolerance (s) under which a point counts as reached, so the last point is held exactly. */
const REACHED = 1e-9;

/**
 * Reads a JointTrajectory for `robot`: every arm joint must be named (any order), plus optionally
 * `gripperJoint`; times must increase. Throws naming the problem.
 */
export function trajectoryCommand(message: JointTrajectoryMsg, robot: RobotConfig, gripperJoint?: string): TrajectoryCommand {
  const names = message.joint_names;
  const arm = robot.joints.map((j) => names.indexOf(j.name));
  const missing = robot.joints.filter((_, i) => arm[i] < 0).map((j) => j.name);
  if (missing.length) throw new Error(`The trajectory does not name joint${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; name every arm joint of ${robot.name}.`);
  const known = new Set([...robot.joints.map((j) => j.name), ...(gripperJoint ? [gripperJoint] : [])]);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length) throw new Error(`The trajectory names joint${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}, which ${robot.name} does not have; its joints are ${[...known].join(', ')}.`);
  if (new Set(names).size !== names.length) throw new Error('The trajectory names a joint twice.');
  const g = gripperJoint ? names.indexOf(gripperJoint) : -1;
  const times: number[] = [];
  const positions: Float64Array[] = [];
  const gripper: number[] = [];
  const gripperEffort: number[] = [];
  message.points.forEach((point, k) => {
    if (point.positions.length !== names.length) {
      throw new Error(`Trajectory point ${k} has ${point.positions.length} positions for ${names.length} joints.`);
    }
    const t = fromStamp(point.time_from_start);
    if (k > 0 && !(t > times[k - 1])) throw new Error(`Trajectory point ${k} is at ${t} s, not after point ${k - 1} (${times[k - 1]} s); times must increase.`);
    if (t < 0) throw new Error(`Trajectory point ${k} has a negative time_from_start.`);
    times.push(t);
    positions.push(Float64Array.from(arm, (i) => point.positions[i]));
    if (g >= 0) {
      gripper.push(point.positions[g]);
      if (point.effort.length === names.length) gripperEffort.push(point.effort[g]);
    }
  });
  return {
    times,
    positions,
    ...(g >= 0 ? { gripper } : {}),
    ...(gripperEffort.length === times.length && g >= 0 ? { gripperEffort } : {}),
  };
}

/** A JointTrajectory message of `command` for `robot` (the gripper as `gripperJoint` when it carries one). */
export function trajectoryMessage(command: TrajectoryCommand, robot: RobotConfig, gripperJoint?: string): object {
  const withGripper = command.gripper !== undefined && gripperJoint !== undefined;
  const names = [...robot.joints.map((j) => j.name), ...(withGripper ? [gripperJoint] : [])];
  return {
    header: { stamp: { sec: 0, nanosec: 0 }, frame_id: '' },
    joint_names: names,
    points: command.times.map((t, k) => {
      const positions = withGripper ? [...command.positions[k], command.gripper![k]] : [...command.positions[k]];
      const effort = withGripper && command.gripperEffort ? [...robot.joints.map(() => 0), command.gripperEffort[k]] : [];
      return { positions, velocities: [], accelerations: [], effort, time_from_start: toStamp(t) };
    }),
  };
}

/** Where a trajectory wants the robot at some time. */
export interface TrajectoryTarget {
  /** Arm joint targets (rad). */
  position: Float64Array;
  /** Gripper opening (m), when the trajectory carries it. */
  gripperWidth?: number;
  /** Gripper force limit (N), when the trajectory carries it. */
  gripperEffort?: number;
}

/** Follows one trajectory from where the robot was told to be when it arrived. */
export class TrajectoryFollower {
  constructor(
    /** The trajectory. */
    readonly command: TrajectoryCommand,
    /** The arm targets it starts from. */
    private readonly from: Float64Array,
    /** The gripper opening it starts from. */
    private readonly fromGripper: number,
  ) {}

  /** Seconds from its start to its last point. */
  get duration(): number {
    return this.command.times.at(-1)!;
  }

  /** The target `elapsed` seconds after the start: exact at and after each point. */
  at(elapsed: number): TrajectoryTarget {
    const { times, positions, gripper, gripperEffort } = this.command;
    const k = times.findIndex((t) => elapsed < t - REACHED);
    if (k < 0) {
      const last = times.length - 1;
      return { position: positions[last], gripperWidth: gripper?.[last], gripperEffort: gripperEffort?.[last] };
    }
    const t0 = k === 0 ? 0 : times[k - 1];
    const q0 = k === 0 ? this.from : positions[k - 1];
    const f = Math.max(0, (elapsed - t0) / (times[k] - t0));
    const position = Float64Array.from(q0, (q, i) => q + f * (positions[k][i] - q));
    const g0 = k === 0 ? this.fromGripper : gripper?.[k - 1];
    const gripperWidth = gripper && g0 !== undefined ? g0 + f * (gripper[k] - g0) : undefined;
    return { position, gripperWidth, gripperEffort: gripperEffort?.[k] };
  }
}
