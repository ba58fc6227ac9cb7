/**
 * Joint trajectories as a JointTrajectoryController takes them: a command names its joints in any
 * order and gives points at times from its start; the controller moves from where it was to each
 * point in turn, linearly, and holds the last. `arbor sim-serve` follows them; a network link
 * sends them (one point one control period ahead, per tick).
 */
import type { RobotConfig } from '../scenario/robot.ts';
import { fromStamp, toStamp, type JointTrajectoryMsg } from './ros-messages.ts';

/**
 * Most points and seconds a trajectory may have: sim-serve steps a lockstep world through a whole
 * trajectory, so one unbounded message (`sec: 2147483647`, or 100,000 points) would hold it for
 * hours. No episode lasts longer than 600 s (the scenario schema's bound), and a planner's
 * trajectory has hundreds of points, not tens of thousands.
 */
export const TRAJECTORY_LIMITS = { points: 10_000, seconds: 600 } as const;

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
  /** What was clamped into the robot's limits, in a sentence, when anything was. */
  clamped?: string;
}

/** Tolerance (s) under which a point counts as reached, so the last point is held exactly. */
const REACHED = 1e-9;

/**
 * Reads a JointTrajectory for `robot`: every arm joint must be named (any order), plus optionally
 * `gripperJoint`; times must increase, within `TRAJECTORY_LIMITS`. Targets beyond the joint
 * limits, the gripper's opening or its force are clamped into them and said so in `clamped`, as
 * the safety envelope clamps an in-process command. Throws naming the problem.
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
  const { points } = message;
  if (points.length > TRAJECTORY_LIMITS.points) throw new Error(`The trajectory has ${points.length} points; at most ${TRAJECTORY_LIMITS.points} are taken. Send it in parts.`);
  const end = fromStamp(points[points.length - 1].time_from_start);
  if (end > TRAJECTORY_LIMITS.seconds) throw new Error(`The trajectory lasts ${end} s; at most ${TRAJECTORY_LIMITS.seconds} s are taken (no episode lasts longer). Send it in parts.`);
  const g = gripperJoint ? names.indexOf(gripperJoint) : -1;
  const clamp = new Clamp();
  const times: number[] = [];
  const positions: Float64Array[] = [];
  const gripper: number[] = [];
  const gripperEffort: number[] = [];
  points.forEach((point, k) => {
    if (point.positions.length !== names.length) {
      throw new Error(`Trajectory point ${k} has ${point.positions.length} positions for ${names.length} joints.`);
    }
    const t = fromStamp(point.time_from_start);
    if (k > 0 && !(t > times[k - 1])) throw new Error(`Trajectory point ${k} is at ${t} s, not after point ${k - 1} (${times[k - 1]} s); times must increase.`);
    if (t < 0) throw new Error(`Trajectory point ${k} has a negative time_from_start.`);
    times.push(t);
    positions.push(Float64Array.from(robot.joints, (joint, i) => clamp.into(point.positions[arm[i]], joint.position, `${joint.name} (rad)`)));
    if (g >= 0) {
      gripper.push(clamp.into(point.positions[g], robot.gripper?.width ?? [-Infinity, Infinity], 'the gripper opening (m)'));
      if (point.effort.length === names.length) gripperEffort.push(clamp.into(point.effort[g], [0, robot.gripper?.effort ?? Infinity], 'the gripper force (N)'));
    }
  });
  return {
    times,
    positions,
    ...(g >= 0 ? { gripper } : {}),
    ...(gripperEffort.length === times.length && g >= 0 ? { gripperEffort } : {}),
    ...(clamp.said.size ? { clamped: `The trajectory was clamped into ${robot.name}'s limits: ${[...clamp.said].join('; ')}.` } : {}),
  };
}

/** Clamps values into ranges and remembers, once per quantity, what it clamped. */
class Clamp {
  /** One phrase per clamped quantity. */
  readonly said = new Set<string>();
  private readonly seen = new Set<string>();

  into(value: number, [lo, hi]: readonly [number, number], what: string): number {
    const v = Math.min(hi, Math.max(lo, value));
    if (v !== value && !this.seen.has(what)) {
      this.seen.add(what);
      this.said.add(`${what} ${value} to ${v}`);
    }
    return v;
  }
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
    const k = this.segment(elapsed);
    if (k === times.length) {
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

  /** The first point not yet reached at `elapsed` (times.length: all are), by bisection: a long trajectory costs log(points) per step. */
  private segment(elapsed: number): number {
    const { times } = this.command;
    let lo = 0;
    let hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (elapsed < times[mid] - REACHED) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}
