/**
 * `robots/<name>/robot.yaml`: what arbor needs to know to drive an arm, so that bringing another
 * arm (your own MJCF, a MuJoCo Menagerie model) means writing this file, not code.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { namesFiles } from './paths.ts';
import { loadValidated } from './validate.ts';

const Vec3 = z.tuple([z.number(), z.number(), z.number()]);
const Vec4 = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** Where arbor puts what a model lacks: a body of the model and an offset in its frame. */
export const Placement = z.strictObject({
  /** MJCF body (of the arm or the gripper model) the element is fixed to. */
  body: z.string().min(1),
  /** Position in the body's frame (m). */
  pos: Vec3.default([0, 0, 0]),
  /** Orientation in the body's frame, a unit quaternion w x y z. */
  quat: Vec4.default([1, 0, 0, 0]),
});
export type Placement = z.infer<typeof Placement>;

/** A finger pad: the touch sensor's site, a box of half sizes `size` (m) at a placement. */
const Pad = Placement.extend({ size: Vec3.default([0.004, 0.012, 0.02]) });

const Range = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => lo < hi, { message: 'must be [low, high] with low < high' });

export const RobotJoint = z.strictObject({
  /** Joint name in the MJCF and on /joint_states. */
  name: z.string().min(1),
  /** The MJCF actuator that drives this joint with a position target. */
  actuator: z.string().min(1),
  /** Position limits [min, max] in rad. */
  position: Range,
  /** Velocity limit in rad/s. */
  velocity: z.number().positive(),
  /** Effort limit in N·m. */
  effort: z.number().positive(),
  /** Acceleration limit in rad/s² (absent: none). */
  acceleration: z.number().positive().optional(),
});

/** What the safety envelope does with a command beyond a limit. */
const LimitAction = z.enum(['clamp', 'reject']);

export const SafetyConfig = z.strictObject({
  /** Joint targets beyond their position limits: clamped into them, or the command rejected (the robot holds). */
  position: LimitAction.default('clamp'),
  /** Joint targets that would move faster than the velocity limit: slowed to it, or rejected. */
  velocity: LimitAction.default('clamp'),
  /** Joint targets that would accelerate beyond the acceleration limit: limited, or rejected. */
  acceleration: LimitAction.default('clamp'),
  /**
   * A command whose tool-centre point leaves the workspace box, or that puts any link of the arm
   * below the table top: rejected (the robot holds), or only logged.
   */
  workspace: z.enum(['reject', 'log']).default('reject'),
  /** Seconds without a command or a joint state after which the watchdog holds the robot. */
  watchdog: z.number().positive().max(60).default(0.5),
  /** Tool-point speed (m/s) of a new candidate's first runs on hardware (ISO 10218-1 reduced speed is 0.25). */
  reduced_speed: z.number().positive().max(0.25).default(0.25),
});
export type SafetyConfig = z.infer<typeof SafetyConfig>;

const SAFETY_DEFAULTS: SafetyConfig = { position: 'clamp', velocity: 'clamp', acceleration: 'clamp', workspace: 'reject', watchdog: 0.5, reduced_speed: 0.25 };

/** A ROS graph name: absolute, segments of letters, digits and underscores. */
const RosName = z.string().regex(/^(\/[A-Za-z_][A-Za-z0-9_]*)+$/, 'must be an absolute ROS name such as /joint_states');

/**
 * The ROS 2 interfaces of a robot. The defaults are what `arbor sim-serve` exposes, which are those
 * of a MuJoCo ROS 2 control bridge plus arbor's own state topics; a physical robot names its own.
 * Under `--backend ros2:NAMESPACE` every name is taken inside the namespace.
 */
export const RosInterfaces = z.strictObject({
  /** sensor_msgs/JointState of the arm joints (finger joints may be in it too; they are ignored). */
  joint_states: RosName.default('/joint_states'),
  /**
   * JointTrajectoryController namespace: `<it>/joint_trajectory` (trajectory_msgs/JointTrajectory topic),
   * `<it>/follow_joint_trajectory` (control_msgs/action/FollowJointTrajectory) and `<it>/controller_state`.
   */
  trajectory_controller: RosName,
  /** How arbor streams arm targets: one-point trajectories on the topic, or one goal per control period on the action. */
  arm_command: z.enum(['topic', 'action']).default('topic'),
  /**
   * The gripper opening (m) as one more joint of the trajectory controller (position = width,
   * effort = force limit), for bridges that drive the fingers with the arm; absent: the gripper is
   * commanded through `gripper_command` alone.
   */
  gripper_joint: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a joint name').optional(),
  /** control_msgs/action/GripperCommand action of the gripper controller (robots with a gripper). */
  gripper_command: RosName.optional(),
  /**
   * arbor's gripper state (opening, command, force, pad touch) as a sensor_msgs/JointState whose
   * names are those fields; absent: the opening comes from the gripper action's feedback alone.
   */
  gripper_state: RosName.optional(),
  /** geometry_msgs/WrenchStamped topic of the wrist sensor. */
  wrench: RosName.optional(),
  /**
   * Prefix of the recorded object poses (geometry_msgs/PoseStamped, `<it>/<object>`): motion capture
   * or tag tracking on a physical robot, the true poses in sim-serve. Scorers read these.
   */
  object_poses: RosName.default('/object_pose'),
  /** Prefix of the poses the policy acts on (a perception pipeline); absent: the recorded ones. */
  observed_poses: RosName.optional(),
  /** arbor's contact summary (sensor_msgs/JointState named by its fields); physical robots rarely have one. */
  contacts: RosName.optional(),
  /** sensor_msgs/Image topics recorded with the episode's camera frames. */
  cameras: z.array(RosName).default([]),
  /** rosgraph_msgs/Clock topic (simulated time). */
  clock: RosName.default('/clock'),
  /** std_srvs/srv/Trigger that resets the world to the episode seed; absent: the operator resets the scene and arbor drives the arm home. */
  reset_service: RosName.optional(),
  /** Node whose integer parameter `seed` sets the seed of the next reset (through its set_parameters service). */
  seed_node: RosName.optional(),
  /** std_srvs/srv/SetBool that pauses (true) or resumes (false) a simulated robot. */
  pause_service: RosName.optional(),
  /** std_srvs/srv/Trigger that advances a paused simulated robot by one control period. */
  step_service: RosName.optional(),
});
export type RosInterfaces = z.infer<typeof RosInterfaces>;

export const RobotConfig = z.strictObject({
  /** Robot name, e.g. `arm6`. */
  name: z.string().min(1),
  /** One line on what the robot is. */
  description: z.string().default(''),
  /** The MJCF model, relative to robot.yaml. */
  mjcf: z.string().min(1),
  /** The URDF twin for ROS tools, relative to robot.yaml. */
  urdf: z.string().optional(),
  /** The arm joints arbor drives, base to tip. */
  joints: z.array(RobotJoint).min(1),
  /** Joint positions of the home pose, one per joint (rad). */
  home: z.array(z.number()),
  /** MJCF site at the tool-centre point. */
  tcp_site: z.string().min(1),
  /** Where to add `tcp_site` when the model lacks it; its local z is the approach direction. */
  tcp: Placement.optional(),
  /** The gripper, when the robot has one (a spindle or a probe needs none). */
  gripper: z.strictObject({
    /** A separate MJCF model of the gripper (relative to robot.yaml), attached at `attach`; absent: the gripper is in `mjcf`. */
    mjcf: z.string().min(1).optional(),
    /** The arm's flange body and the gripper's offset from it (needed with `mjcf`). */
    attach: Placement.optional(),
    /** MJCF finger joints (slides), each opening by half the width. */
    joints: z.array(z.string()).min(1),
    /** MJCF actuators of the fingers, one per joint. */
    actuators: z.array(z.string()).min(1),
    /** Total opening [closed, open] in metres. */
    width: Range,
    /** Maximum grip force per finger in N. */
    effort: z.number().positive(),
    /** MJCF touch sensors on the finger pads. */
    touch_sensors: z.array(z.string()).default([]),
    /** Where to add each touch sensor the model lacks (one pad per `touch_sensors` entry, same order). */
    pads: z.array(Pad).optional(),
  }).optional(),
  /** A tool on the flange (a spindle, a probe), when the robot works with one instead of, or beside, a gripper. */
  tool: z.strictObject({
    /** What the tool is. */
    kind: z.enum(['spindle', 'probe', 'other']),
    /** MJCF geom that touches the work (the cutter, the probe's ball). */
    geom: z.string().min(1),
    /** Radius (m) of the tool's ball end around the tool-centre point; 0 for a point. */
    radius: z.number().nonnegative().max(0.5),
    /** MJCF touch sensor around the tool's end: the normal force the work pushes back with. */
    touch_sensor: z.string().min(1).optional(),
  }).optional(),
  /** MJCF force and torque sensors of the wrist force/torque sensor. */
  wrench: z.strictObject({
    /** MJCF force sensor (N). */
    force_sensor: z.string(),
    /** MJCF torque sensor (N·m). */
    torque_sensor: z.string(),
    /** Where to add both sensors (and their site) when the model lacks them: the flange. */
    site: Placement.optional(),
  }).optional(),
  /** The box the tool-centre point must stay inside (world frame, metres). */
  workspace: z.strictObject({
    min: Vec3,
    max: Vec3,
    /** Height (m, world frame) of the table top the robot stands on: no link of the arm may reach below it. */
    table: z.number().finite().default(0),
  }),
  /** How the safety envelope treats commands beyond the limits. */
  safety: SafetyConfig.default(SAFETY_DEFAULTS),
  /** The robot's ROS 2 interfaces, as a network link (`--backend ros2 | rosbridge://`) and `arbor sim-serve` use them. */
  ros: RosInterfaces,
}).superRefine((robot, ctx) => {
  if (robot.home.length !== robot.joints.length) {
    ctx.addIssue({
      code: 'custom',
      path: ['home'],
      message: `has ${robot.home.length} values but the robot has ${robot.joints.length} joints; give one per joint`,
    });
  }
  robot.home.forEach((q, i) => {
    const joint = robot.joints[i];
    if (joint && (q < joint.position[0] || q > joint.position[1])) {
      ctx.addIssue({
        code: 'custom',
        path: ['home', i],
        message: `${q} is outside ${joint.name}'s limits [${joint.position.join(', ')}]`,
      });
    }
  });
  const { min, max } = robot.workspace;
  for (let i = 0; i < 3; i++) {
    if (!(min[i] < max[i])) {
      ctx.addIssue({ code: 'custom', path: ['workspace', 'max', i], message: `must be above workspace.min[${i}] = ${min[i]}` });
    }
  }
  if (robot.gripper && robot.gripper.actuators.length !== robot.gripper.joints.length) {
    ctx.addIssue({ code: 'custom', path: ['gripper', 'actuators'], message: 'needs one actuator per gripper joint' });
  }
  if (robot.gripper?.mjcf && !robot.gripper.attach) {
    ctx.addIssue({ code: 'custom', path: ['gripper', 'attach'], message: 'is needed with gripper.mjcf: name the arm body the gripper mounts on', params: { hint: 'attach: { body: flange, pos: [0, 0, 0] }' } });
  }
  const pads = robot.gripper?.pads;
  if (pads && pads.length !== robot.gripper!.touch_sensors.length) {
    ctx.addIssue({ code: 'custom', path: ['gripper', 'pads'], message: `has ${pads.length} pads for ${robot.gripper!.touch_sensors.length} touch_sensors; give one pad per touch sensor` });
  }
});

export type RobotConfig = z.infer<typeof RobotConfig> & {
  /** Absolute path of robot.yaml. */
  file: string;
  /** Absolute path of the MJCF model. */
  mjcfPath: string;
  /** Absolute path of the separate gripper model, when there is one. */
  gripperPath?: string;
};

/** Loads and validates a robot.yaml (throws `ValidationError` naming every problem). */
export function loadRobot(file: string): RobotConfig {
  const path = resolve(file);
  const dir = dirname(path);
  const files = namesFiles<z.infer<typeof RobotConfig>>(dir, { mjcf: 'the MJCF model of the robot (relative to robot.yaml)', urdf: 'its URDF (relative to robot.yaml), or leave urdf out' });
  const gripperFile = namesFiles<{ mjcf?: string }>(dir, { mjcf: 'the MJCF model of the gripper (relative to robot.yaml)' }, ['gripper']);
  const robot = loadValidated(
    RobotConfig.superRefine(files).superRefine((r, ctx) => r.gripper && gripperFile(r.gripper, ctx)),
    path,
  );
  const gripperPath = robot.gripper?.mjcf ? resolve(dir, robot.gripper.mjcf) : undefined;
  return { ...robot, file: path, mjcfPath: resolve(dir, robot.mjcf), ...(gripperPath ? { gripperPath } : {}) };
}
