/**
 * `robots/<name>/robot.yaml`: what arbor needs to know to drive an arm, so that bringing another
 * arm (your own MJCF, a MuJoCo Menagerie model) means writing this file, not code.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { namesFiles } from './paths.ts';
import { loadValidated } from './validate.ts';

const Vec3 = z.tuple([z.number(), z.number(), z.number()]);
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
  /** A command whose tool-centre point leaves the workspace box: rejected (the robot holds), or only logged. */
  workspace: z.enum(['reject', 'log']).default('reject'),
  /** Seconds without a command or a joint state after which the watchdog holds the robot. */
  watchdog: z.number().positive().max(60).default(0.5),
  /** Tool-point speed (m/s) of a new candidate's first runs on hardware (ISO 10218-1 reduced speed is 0.25). */
  reduced_speed: z.number().positive().max(0.25).default(0.25),
});
export type SafetyConfig = z.infer<typeof SafetyConfig>;

const SAFETY_DEFAULTS: SafetyConfig = { position: 'clamp', velocity: 'clamp', acceleration: 'clamp', workspace: 'reject', watchdog: 0.5, reduced_speed: 0.25 };

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
  /** The gripper, when the robot has one (a spindle or a probe needs none). */
  gripper: z.strictObject({
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
  wrench: z.strictObject({ force_sensor: z.string(), torque_sensor: z.string() }).optional(),
  /** The box the tool-centre point must stay inside (world frame, metres). */
  workspace: z.strictObject({ min: Vec3, max: Vec3 }),
  /** How the safety envelope treats commands beyond the limits. */
  safety: SafetyConfig.default(SAFETY_DEFAULTS),
  /** ROS names the robot uses on a real graph. */
  ros: z.strictObject({
    /** sensor_msgs/JointState topic. */
    joint_states: z.string().default('/joint_states'),
    /** JointTrajectoryController namespace. */
    trajectory_controller: z.string(),
    /** control_msgs/GripperCommand action or topic (robots with a gripper). */
    gripper_command: z.string().optional(),
    /** geometry_msgs/WrenchStamped topic of the wrist sensor. */
    wrench: z.string().optional(),
  }),
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
});

export type RobotConfig = z.infer<typeof RobotConfig> & {
  /** Absolute path of robot.yaml. */
  file: string;
  /** Absolute path of the MJCF model. */
  mjcfPath: string;
};

/** Loads and validates a robot.yaml (throws `ValidationError` naming every problem). */
export function loadRobot(file: string): RobotConfig {
  const path = resolve(file);
  const dir = dirname(path);
  const files = namesFiles<z.infer<typeof RobotConfig>>(dir, { mjcf: 'the MJCF model of the robot (relative to robot.yaml)', urdf: 'its URDF (relative to robot.yaml), or leave urdf out' });
  const robot = loadValidated(RobotConfig.superRefine(files), path);
  return { ...robot, file: path, mjcfPath: resolve(dir, robot.mjcf) };
}
