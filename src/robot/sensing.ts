/**
 * What stands between a policy and the world it acts in, on a real arm: commands that reach the
 * joints some control ticks late, states that reach the policy some ticks late, noisy encoders,
 * a noisy wrist sensor, noisy and offset object poses. The sim link runs the perturbation axes
 * of these kinds through here; the recorded topics keep the truth (what a lab's ground truth
 * would show), the policy sees this.
 *
 * Without such axes the sim link never makes one, so nominal episodes stay bit for bit.
 */
import { Rng } from '../scenario/rng.ts';
import type { AxisValue } from '../scenario/perturbation.ts';
import type { Action, Observation, Pose } from './link.ts';

/** A stream of its own: drawing noise leaves the task's draws of the same seed as they were. */
const NOISE_STREAM = 0x5e45_1a7e;

export class Sensing {
  private readonly commands: Action[];
  private readonly observations: Observation[] = [];
  private readonly rng: Rng;

  private constructor(
    private readonly commandDelay: number,
    private readonly observationDelay: number,
    private readonly noise: { joint: number[]; wrench: number[]; pose: number[] },
    private readonly offset: [number, number, number],
    seed: number,
    hold: Action,
  ) {
    this.rng = new Rng((seed ^ NOISE_STREAM) >>> 0);
    // Until the first command arrives, the joints keep the one they had: hold where the episode starts.
    this.commands = Array.from({ length: commandDelay }, () => hold);
  }

  /**
   * The sensing of an episode under `values` (the link axes among them), or undefined when none
   * of them is a link axis. `hold` is what the robot is commanded before the policy's first command.
   */
  static of(values: readonly AxisValue[], seed: number, hold: Action): Sensing | undefined {
    const sum = (kind: string) => values.filter((v) => v.axis.kind === kind).reduce((a, v) => a + v.value, 0);
    const stds = (kind: string) => values.filter((v) => v.axis.kind === kind && v.value > 0).map((v) => v.value);
    const offset: [number, number, number] = [0, 0, 0];
    for (const { axis, value } of values) {
      if (axis.kind !== 'perception_offset') continue;
      const n = Math.hypot(...axis.direction);
      for (let k = 0; k < 3; k++) offset[k] += (value * axis.direction[k]) / n;
    }
    const noise = { joint: stds('joint_noise'), wrench: stds('wrench_noise'), pose: stds('pose_noise') };
    const commandDelay = sum('command_delay');
    const observationDelay = sum('observation_delay');
    const idle = commandDelay === 0 && observationDelay === 0 && offset.every((o) => o === 0) && Object.values(noise).every((s) => s.length === 0);
    return idle ? undefined : new Sensing(commandDelay, observationDelay, noise, offset, seed, hold);
  }

  /** The command that reaches the joints this tick, given the one the policy sends now. */
  command(action: Action): Action {
    if (this.commandDelay === 0) return action;
    // Copied: a policy may reuse its action's array for the next tick.
    this.commands.push({ ...action, position: Float64Array.from(action.position) });
    return this.commands.shift()!;
  }

  /** What the policy sees this tick, given the true observation now. */
  observe(truth: Observation): Observation {
    this.observations.push(this.sensed(truth));
    // The first ticks of an episode see its first state until a delayed one arrives.
    while (this.observations.length > this.observationDelay + 1) this.observations.shift();
    return this.observations[0];
  }

  /** The observation through the noisy, offset sensors (a copy: the truth is recorded as it is). */
  private sensed(truth: Observation): Observation {
    const { noise, rng } = this;
    const position = Float64Array.from(truth.position);
    const wrench = Float64Array.from(truth.wrench);
    for (const std of noise.joint) for (let i = 0; i < position.length; i++) position[i] += std * rng.normal();
    for (const std of noise.wrench) for (let i = 0; i < wrench.length; i++) wrench[i] += std * rng.normal();
    const objects: Record<string, Pose> = {};
    for (const [name, pose] of Object.entries(truth.objects)) {
      const p: [number, number, number] = [pose.position[0] + this.offset[0], pose.position[1] + this.offset[1], pose.position[2] + this.offset[2]];
      for (const std of noise.pose) for (let k = 0; k < 3; k++) p[k] += std * rng.normal();
      objects[name] = { position: p, orientation: pose.orientation };
    }
    return { ...truth, position, wrench, objects };
  }
}
