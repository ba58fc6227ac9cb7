/**
 * The safety envelope of a robot (from robot.yaml): joint targets must stay inside the position
 * limits and may change at most `velocity × dt` per control period (and, with an acceleration
 * limit, change their speed by at most `acceleration × dt`); the tool-centre point of the target
 * must stay inside the workspace box, and no link of the arm (its collision geoms, from the model)
 * may reach below the table top: a target inside every joint limit can still swing the forearm
 * through the table. What happens beyond a limit is robot.yaml's `safety:` —
 * clamp, or reject the command (the robot holds its last target). Non-finite targets are refused.
 * `SafeLink` passes every command of every link through this, the physical ones above all.
 */
import type { RobotConfig } from '../scenario/robot.ts';
import type { LowestPoint } from '../sim/kinematics.ts';

/** Where a target puts the robot, for the checks beyond the joints (the link's kinematics). */
export interface TargetGeometry {
  /** The tool-centre point of joint positions. */
  toolPoint(q: Float64Array): ArrayLike<number>;
  /** The lowest point of the arm's links at joint positions. */
  lowestPoint(q: Float64Array): LowestPoint;
}

/** What the envelope did to one command. */
export interface SafetyVerdict {
  /** The joint targets that may be sent (the previous ones when the command was rejected). */
  position: Float64Array;
  /** Joints clamped at a position limit. */
  positionClamps: number;
  /** Joints slowed to their velocity limit. */
  velocityClamps: number;
  /** Joints whose change of speed was limited. */
  accelerationClamps: number;
  /** True when the target's tool point lies outside the workspace box. */
  outsideWorkspace: boolean;
  /** The arm's lowest point when the target puts it below the table top. */
  belowTable?: LowestPoint;
  /** Why the command was rejected (the robot holds), or undefined when it may be sent. */
  rejected?: string;
}

export class SafetyEnvelope {
  constructor(private readonly robot: RobotConfig) {}

  /**
   * Filters `target` given the two previously sent targets (`before` may equal `previous` at the
   * start) and the control period `dt`. `geometry` places the tool point and the links' lowest
   * point of joint positions, for the workspace and table checks.
   */
  filter(previous: ArrayLike<number>, before: ArrayLike<number>, target: ArrayLike<number>, dt: number, geometry: TargetGeometry): SafetyVerdict {
    const { joints, safety } = this.robot;
    if (target.length !== joints.length) {
      throw new Error(`An action must give ${joints.length} joint targets (robot ${this.robot.name}), got ${target.length}.`);
    }
    const position = new Float64Array(joints.length);
    let positionClamps = 0;
    let velocityClamps = 0;
    let accelerationClamps = 0;
    const reasons: string[] = [];
    for (let i = 0; i < joints.length; i++) {
      const joint = joints[i];
      let q = target[i];
      if (!Number.isFinite(q)) {
        throw new Error(`The action's target for joint ${joint.name} is ${q}; targets must be finite numbers.`);
      }
      const [lo, hi] = joint.position;
      if (q < lo || q > hi) {
        if (safety.position === 'reject') reasons.push(`${joint.name} target ${q.toFixed(4)} rad is outside [${lo}, ${hi}]`);
        q = Math.min(hi, Math.max(lo, q));
        positionClamps++;
      }
      const step = joint.velocity * dt;
      if (Math.abs(q - previous[i]) > step) {
        if (safety.velocity === 'reject') reasons.push(`${joint.name} would move faster than ${joint.velocity} rad/s`);
        q = previous[i] + Math.sign(q - previous[i]) * step;
        velocityClamps++;
      }
      if (joint.acceleration !== undefined) {
        // Speeds over the last period and this one; their change is bounded by a·dt.
        const lastSpeed = (previous[i] - before[i]) / dt;
        const speed = (q - previous[i]) / dt;
        const most = joint.acceleration * dt;
        if (Math.abs(speed - lastSpeed) > most) {
          if (safety.acceleration === 'reject') reasons.push(`${joint.name} would accelerate beyond ${joint.acceleration} rad/s²`);
          q = previous[i] + (lastSpeed + Math.sign(speed - lastSpeed) * most) * dt;
          accelerationClamps++;
        }
      }
      position[i] = q;
    }
    const outsideWorkspace = !this.inWorkspace(geometry.toolPoint(position));
    if (outsideWorkspace && safety.workspace === 'reject') reasons.push('the tool point would leave the workspace box');
    const lowest = geometry.lowestPoint(position);
    const table = this.robot.workspace.table;
    const belowTable = lowest.z < table ? lowest : undefined;
    if (belowTable && safety.workspace === 'reject') reasons.push(`${lowest.link} would reach z = ${lowest.z.toFixed(4)} m, below the table top at ${table} m`);
    const verdict = { positionClamps, velocityClamps, accelerationClamps, outsideWorkspace, ...(belowTable ? { belowTable } : {}) };
    if (reasons.length) return { position: Float64Array.from(previous), ...verdict, rejected: reasons.join('; ') };
    return { position, ...verdict };
  }

  /** True when a tool-centre point lies inside the workspace box. */
  inWorkspace(tcp: ArrayLike<number>): boolean {
    const { min, max } = this.robot.workspace;
    for (let i = 0; i < 3; i++) if (tcp[i] < min[i] || tcp[i] > max[i]) return false;
    return true;
  }

  /** Clamps a gripper opening into the gripper's range (0 without a gripper). */
  gripperWidth(width: number): number {
    if (!Number.isFinite(width)) throw new Error(`The action's gripper width is ${width}; it must be a finite number.`);
    const gripper = this.robot.gripper;
    if (!gripper) return 0;
    const [lo, hi] = gripper.width;
    return Math.min(hi, Math.max(lo, width));
  }

  /** Clamps a gripper force request to the gripper's effort limit (the limit when absent). */
  gripperEffort(effort: number | undefined): number {
    const limit = this.robot.gripper?.effort ?? 0;
    if (effort === undefined) return limit;
    if (!Number.isFinite(effort) || effort < 0) throw new Error(`The action's gripper effort is ${effort}; it must be a finite number >= 0.`);
    return Math.min(effort, limit);
  }
}
