/**
 * The ROS 2 messages arbor's network links and `arbor sim-serve` exchange: type names, builders,
 * and zod parsers for everything that arrives from the network (a message from a robot or a
 * client is untrusted input). arbor's own topics (`/gripper`, `/contacts`) travel as
 * sensor_msgs/JointState whose `name`s are the fields and whose `position`s are the values — a
 * stamped, named vector every ROS 2 install can carry without a custom package.
 */
import { z } from 'zod';
import type { RosInterfaces } from '../scenario/robot.ts';
import type { Pose, TaskBrief } from './link.ts';

/** ROS 2 type names. */
export const ROS_TYPE = {
  jointState: 'sensor_msgs/msg/JointState',
  pose: 'geometry_msgs/msg/PoseStamped',
  wrench: 'geometry_msgs/msg/WrenchStamped',
  clock: 'rosgraph_msgs/msg/Clock',
  image: 'sensor_msgs/msg/Image',
  trajectory: 'trajectory_msgs/msg/JointTrajectory',
  controllerState: 'control_msgs/msg/JointTrajectoryControllerState',
  followJointTrajectory: 'control_msgs/action/FollowJointTrajectory',
  gripperCommand: 'control_msgs/action/GripperCommand',
  trigger: 'std_srvs/srv/Trigger',
  setBool: 'std_srvs/srv/SetBool',
  setParameters: 'rcl_interfaces/srv/SetParameters',
} as const;

/** control_msgs/action/FollowJointTrajectory result error codes. */
export const TRAJECTORY_ERROR = { successful: 0, invalidGoal: -1, invalidJoints: -2, oldHeaderTimestamp: -3 } as const;

/** rcl_interfaces/msg/ParameterType: an integer parameter. */
export const PARAMETER_INTEGER = 2;

/** builtin_interfaces/msg/Time (and Duration). */
export interface Stamp {
  /** Whole seconds. */
  sec: number;
  /** Nanoseconds, 0..999999999. */
  nanosec: number;
}

/** Seconds as a ROS stamp. */
export function toStamp(seconds: number): Stamp {
  const sec = Math.floor(seconds);
  const nanosec = Math.min(999_999_999, Math.round((seconds - sec) * 1e9));
  return { sec, nanosec };
}

/** A ROS stamp as seconds. */
export function fromStamp(stamp: Stamp): number {
  return stamp.sec + stamp.nanosec / 1e9;
}

/** A numeric array as JSON, CBOR (typed arrays) or rclnodejs (typed arrays or array-likes) delivers it. */
function isNumbers(v: unknown): v is ArrayLike<number> {
  return (Array.isArray(v) || ArrayBuffer.isView(v)) && Array.prototype.every.call(v, (x: unknown) => typeof x === 'number');
}
const Numbers = z.custom<ArrayLike<number>>(isNumbers, { message: 'must be an array of numbers' });
const FiniteNumbers = Numbers.refine((v) => Array.prototype.every.call(v, Number.isFinite), { message: 'must hold finite numbers only' });

const StampSchema = z.object({ sec: z.number().int(), nanosec: z.number().int().min(0).max(999_999_999) });
const Header = z.object({ stamp: StampSchema, frame_id: z.string().default('') });
const Vec3 = z.object({ x: z.number(), y: z.number(), z: z.number() });

/** sensor_msgs/msg/JointState (and arbor's named vectors). */
export const JointStateMsg = z.object({
  header: Header,
  name: z.array(z.string()),
  position: Numbers,
  velocity: Numbers.default([]),
  effort: Numbers.default([]),
});
export type JointStateMsg = z.infer<typeof JointStateMsg>;

/** geometry_msgs/msg/PoseStamped. */
export const PoseStampedMsg = z.object({
  header: Header,
  pose: z.object({ position: Vec3, orientation: z.object({ x: z.number(), y: z.number(), z: z.number(), w: z.number() }) }),
});
export type PoseStampedMsg = z.infer<typeof PoseStampedMsg>;

/** geometry_msgs/msg/WrenchStamped. */
export const WrenchStampedMsg = z.object({ header: Header, wrench: z.object({ force: Vec3, torque: Vec3 }) });
export type WrenchStampedMsg = z.infer<typeof WrenchStampedMsg>;

/** What a zod schema's safeParse gives. */
export type Parsed<T> = { success: true; data: T } | { success: false; error: z.ZodError };

/**
 * A state topic's parser for every tick: a plain check of the shape servers send, which takes only
 * messages the schema takes and gives what the schema gives (defaults filled, other keys left
 * out), without zod's per-field machinery (in a link's profile zod was about 7% of the process's
 * busy time and 15% of what it allocated per tick). A message the check does not take goes to the
 * schema, so a bad one gets the schema's error (test/state-parsers.test.ts holds the two equal).
 */
function withFastPath<T>(schema: { safeParse(v: unknown): Parsed<T> }, fast: (v: unknown) => T | undefined): { safeParse(v: unknown): Parsed<T> } {
  return {
    safeParse: (v) => {
      const data = fast(v);
      return data === undefined ? schema.safeParse(v) : { success: true, data };
    },
  };
}

/** An object's fields (not an array's), or undefined. */
function fields(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** `Header` with its frame id present (absent, the schema fills it in). */
function fastHeader(v: unknown): JointStateMsg['header'] | undefined {
  const header = fields(v);
  const stamp = fields(header?.stamp);
  if (!stamp || typeof header!.frame_id !== 'string') return undefined;
  const { sec, nanosec } = stamp;
  if (!Number.isSafeInteger(sec) || !Number.isSafeInteger(nanosec) || (nanosec as number) < 0 || (nanosec as number) > 999_999_999) return undefined;
  return { stamp: { sec: sec as number, nanosec: nanosec as number }, frame_id: header!.frame_id };
}

/** `Vec3` (and a quaternion's x, y, z with `w`): finite numbers, as z.number() takes them. */
function fastVec(v: unknown, keys: readonly string[]): Record<string, number> | undefined {
  const vec = fields(v);
  if (!vec) return undefined;
  const out: Record<string, number> = {};
  for (const k of keys) {
    const x = vec[k];
    if (typeof x !== 'number' || !Number.isFinite(x)) return undefined;
    out[k] = x;
  }
  return out;
}
const XYZ = ['x', 'y', 'z'] as const;
const XYZW = ['x', 'y', 'z', 'w'] as const;

/** JointStateMsg's parser for every tick. */
export const jointStateParser = withFastPath(JointStateMsg, (v) => {
  const m = fields(v);
  const header = fastHeader(m?.header);
  if (!header || !Array.isArray(m!.name)) return undefined;
  // By index, as zod reads arrays: `every` would skip a hole.
  for (let i = 0; i < m!.name.length; i++) if (typeof m!.name[i] !== 'string') return undefined;
  const { position, velocity, effort } = m!;
  if (!isNumbers(position) || !isNumbers(velocity) || !isNumbers(effort)) return undefined;
  return { header, name: m!.name as string[], position, velocity, effort };
});

/** A stamped message of named vectors under `key` (a pose's position and orientation, a wrench's force and torque). */
function fastStamped<T>(v: unknown, key: string, parts: readonly [string, readonly string[]][]): T | undefined {
  const m = fields(v);
  const header = fastHeader(m?.header);
  const body = fields(m?.[key]);
  if (!header || !body) return undefined;
  const out: Record<string, Record<string, number>> = {};
  for (const [name, keys] of parts) {
    const vec = fastVec(body[name], keys);
    if (!vec) return undefined;
    out[name] = vec;
  }
  return { header, [key]: out } as T;
}

/** PoseStampedMsg's parser for every tick. */
export const poseStampedParser = withFastPath(PoseStampedMsg, (v) => fastStamped<PoseStampedMsg>(v, 'pose', [['position', XYZ], ['orientation', XYZW]]));

/** WrenchStampedMsg's parser for every tick. */
export const wrenchStampedParser = withFastPath(WrenchStampedMsg, (v) => fastStamped<WrenchStampedMsg>(v, 'wrench', [['force', XYZ], ['torque', XYZ]]));

/** trajectory_msgs/msg/JointTrajectoryPoint, as a command (positions required, finite). */
const TrajectoryPoint = z.object({
  positions: FiniteNumbers,
  // CBOR carries NaN and Infinity, which JSON cannot: every field is checked.
  velocities: FiniteNumbers.default([]),
  accelerations: FiniteNumbers.default([]),
  effort: FiniteNumbers.default([]),
  time_from_start: StampSchema,
});

/** trajectory_msgs/msg/JointTrajectory, as a command. */
export const JointTrajectoryMsg = z.object({
  header: Header.optional(),
  joint_names: z.array(z.string()).min(1),
  // Far above TRAJECTORY_LIMITS.points, which refuses with a sentence; this only stops parsing a flood.
  points: z.array(TrajectoryPoint).min(1).max(100_000),
});
export type JointTrajectoryMsg = z.infer<typeof JointTrajectoryMsg>;

/** control_msgs/action/FollowJointTrajectory goal (the parts arbor reads). */
export const FollowJointTrajectoryGoal = z.object({ trajectory: JointTrajectoryMsg });

/** control_msgs/action/GripperCommand goal. */
export const GripperCommandGoal = z.object({
  command: z.object({ position: z.number().refine(Number.isFinite, 'must be finite'), max_effort: z.number().min(0).refine(Number.isFinite, 'must be finite').default(0) }),
});

/** std_srvs/srv/Trigger response. */
export const TriggerResponse = z.object({ success: z.boolean(), message: z.string().default('') });

/** std_srvs/srv/SetBool request. */
export const SetBoolRequest = z.object({ data: z.boolean() });

/** rcl_interfaces/srv/SetParameters request (the parts arbor reads). */
export const SetParametersRequest = z.object({
  parameters: z.array(z.object({
    name: z.string(),
    value: z.object({ type: z.number().int(), integer_value: z.union([z.number(), z.bigint()]).optional() }),
  })),
});

const finite = z.number().refine(Number.isFinite, 'must be finite');
const xy = z.tuple([finite, finite]);

/** A task's brief as sim-serve's reset report carries it (see `TaskBrief`). */
export const TaskBriefMessage = z.object({
  instruction: z.string(),
  objects: z.record(z.string(), z.object({ colour: z.string().optional(), size: finite.optional() })),
  places: z.record(z.string(), z.object({ center: xy, half_size: xy, colour: z.string().optional() })),
  robot_base: xy.optional(),
}) satisfies z.ZodType<TaskBrief>;

/** What sim-serve's reset service says in its Trigger `message`. */
export const ResetReport = z.object({
  /** The seed the world was reset with. */
  seed: z.number().int(),
  /** Stamp (s) of the first state of the episode. */
  time: z.number(),
  /** True when the world steps only when commanded (one control period per arm command). */
  lockstep: z.boolean(),
  /** Control period (s) the world steps by. */
  period: z.number().positive(),
  /** The physics timestep (s): a lockstep world's clock advances by it, period / timestep times per command. */
  timestep: z.number().positive().optional(),
  /** What the task drew for this seed (object setup, ...), kept in the trace meta as the in-process sim keeps it. */
  meta: z.record(z.string(), z.unknown()).default({}),
  /** The task's brief of this seed (instruction, facts about the scene), for a task that briefs its policy. */
  brief: TaskBriefMessage.optional(),
});
export type ResetReport = z.infer<typeof ResetReport>;

/** A stamped, named vector: arbor's own topics as sensor_msgs/JointState. */
export function namedVector(time: number, names: readonly string[], values: ArrayLike<number>): object {
  return { header: { stamp: toStamp(time), frame_id: '' }, name: [...names], position: Float64Array.from(values), velocity: [], effort: [] };
}

/** The value named `name` in a named vector, or `fallback`. */
export function namedValue(message: JointStateMsg, name: string, fallback: number): number {
  const i = message.name.indexOf(name);
  return i >= 0 && i < message.position.length ? message.position[i] : fallback;
}

/** A PoseStamped in the `world` frame. */
export function poseMessage(time: number, pose: Pose): object {
  const [x, y, z] = pose.position;
  const [qx, qy, qz, qw] = pose.orientation;
  return { header: { stamp: toStamp(time), frame_id: 'world' }, pose: { position: { x, y, z }, orientation: { x: qx, y: qy, z: qz, w: qw } } };
}

/** The pose of a PoseStamped. */
export function poseOf(message: PoseStampedMsg): Pose {
  const { position: p, orientation: q } = message.pose;
  return { position: [p.x, p.y, p.z], orientation: [q.x, q.y, q.z, q.w] };
}

/** Every interface name of a robot, resolved inside a namespace (`''` for none). */
export interface RosNames {
  /** sensor_msgs/JointState of the arm. */
  jointStates: string;
  /** The trajectory controller's topic. */
  trajectoryTopic: string;
  /** The trajectory controller's FollowJointTrajectory action. */
  trajectoryAction: string;
  /** The trajectory controller's state topic. */
  controllerState: string;
  /** GripperCommand action, when there is one. */
  gripperCommand?: string;
  /** arbor's gripper state, when there is one. */
  gripperState?: string;
  /** The wrist wrench, when there is one. */
  wrench?: string;
  /** Recorded object pose topic of an object. */
  objectPose: (object: string) => string;
  /** Observed object pose topic of an object. */
  observedPose: (object: string) => string;
  /** arbor's contact summary, when there is one. */
  contacts?: string;
  /** Camera image topics. */
  cameras: string[];
  /** The clock. */
  clock: string;
  /** Reset service, when the robot is simulated. */
  reset?: string;
  /** `<node>/set_parameters` of the node holding the seed. */
  setParameters?: string;
  /** Pause service. */
  pause?: string;
  /** Step service. */
  step?: string;
}

/** Resolves robot.yaml's `ros:` names inside `namespace`. */
export function resolveNames(ros: RosInterfaces, namespace = ''): RosNames {
  const ns = (name: string) => `${namespace}${name}`;
  const maybe = (name: string | undefined) => (name === undefined ? undefined : ns(name));
  const controller = ns(ros.trajectory_controller);
  const observed = ros.observed_poses ?? ros.object_poses;
  return {
    jointStates: ns(ros.joint_states),
    trajectoryTopic: `${controller}/joint_trajectory`,
    trajectoryAction: `${controller}/follow_joint_trajectory`,
    controllerState: `${controller}/controller_state`,
    gripperCommand: maybe(ros.gripper_command),
    gripperState: maybe(ros.gripper_state),
    wrench: maybe(ros.wrench),
    objectPose: (object) => ns(`${ros.object_poses}/${object}`),
    observedPose: (object) => ns(`${observed}/${object}`),
    contacts: maybe(ros.contacts),
    cameras: ros.cameras.map(ns),
    clock: ns(ros.clock),
    reset: maybe(ros.reset_service),
    setParameters: ros.seed_node === undefined ? undefined : ns(`${ros.seed_node}/set_parameters`),
    pause: maybe(ros.pause_service),
    step: maybe(ros.step_service),
  };
}

/** A zod failure as one sentence naming the fields. */
export function describeIssues(what: string, error: z.ZodError): string {
  const issues = error.issues.slice(0, 3).map((i) => `${i.path.join('.') || 'message'} ${i.message}`);
  return `${what} is malformed: ${issues.join('; ')}.`;
}
