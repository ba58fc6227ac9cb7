/**
 * The safety envelope of a robot (from robot.yaml): joint targets are clamped into the position
 * limits and may move at most `velocity × dt` per control period; non-finite targets are
 * refused. Every link passes actions through it, the physical ones above all.
 */
import type { RobotConfig } from '../scenario/robot.ts';

/** What the envelope did to one action. */
export interface SafetyVerdict {
  /** The joint targets that may be sent. */
  position: Float64Array;
  /** How many joints were clamped at a position limit. */
  positionClamps: number;
  /** How many joints were slowed to their velocity limit. */
  velocityClamps: number;
}

export class SafetyEnvelope {
  constructor(private readonly robot: RobotConfig) {}

  /** Filters `target` given the previously sent targets and the control period `dt`. */
  filter(previous: ArrayLike<number>, target: ArrayLike<number>, dt: number): SafetyVerdict {
    const joints = this.robot.joints;
    if (target.length !== joints.length) {
      throw new Error(`An action must give ${joints.length} joint targets (robot ${this.robot.name}), got ${target.length}.`);
    }
    const position = new Float64Array(joints.length);
    let positionClamps = 0;
    let velocityClamps = 0;
    for (let i = 0; i < joints.length; i++) {
      const joint = joints[i];
      let q = target[i];
      if (!Number.isFinite(q)) {
        throw new Error(`The action's target for joint ${joint.name} is ${q}; targets must be finite numbers.`);
      }
      const [lo, hi] = joint.position;
      if (q < lo || q > hi) {
        q = Math.min(hi, Math.max(lo, q));
        positionClamps++;
      }
      const step = joint.velocity * dt;
      if (Math.abs(q - previous[i]) > step) {
        q = previous[i] + Math.sign(q - previous[i]) * step;
        velocityClamps++;
      }
      position[i] = q;
    }
    return { position, positionClamps, velocityClamps };
  }

  /** True when a tool-centre point lies inside the workspace box. */
  inWorkspace(tcp: ArrayLike<number>): boolean {
    const { min, max } = this.robot.workspace;
    for (let i = 0; i < 3; i++) if (tcp[i] < min[i] || tcp[i] > max[i]) return false;
    return true;
  }

  /** Clamps a gripper opening into the gripper's range. */
  gripperWidth(width: number): number {
    if (!Number.isFinite(width)) throw new Error(`The action's gripper width is ${width}; it must be a finite number.`);
    const [lo, hi] = this.robot.gripper.width;
    return Math.min(hi, Math.max(lo, width));
  }
}
