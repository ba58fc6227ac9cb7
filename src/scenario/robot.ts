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
});

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
  }),
  /** MJCF force and torque sensors of the wrist force/torque sensor. */
  wrench: z.strictObject({ force_sensor: z.string(), torque_sensor: z.string() }).optional(),
  /** The box the tool-centre point must stay inside (world frame, metres). */
  workspace: z.strictObject({ min: Vec3, max: Vec3 }),
  /** ROS names the robot uses on a real graph. */
  ros: z.strictObject({
    /** sensor_msgs/JointState topic. */
    joint_states: z.string().default('/joint_states'),
    /** JointTrajectoryController namespace. */
    trajectory_controller: z.string(),
    /** control_msgs/GripperCommand action or topic. */
    gripper_command: z.string(),
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
  if (robot.gripper.actuators.length !== robot.gripper.joints.length) {
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
