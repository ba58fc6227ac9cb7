/**
 * Excitation programs for system identification (`arbor identify`): motions that make a joint's
 * dynamics show in its recording. Each program moves one joint about home while the others hold:
 * a chirp sweeps frequency up (the lag and overshoot of a position servo change with frequency, so
 * gain, damping and latency separate), a multisine puts several frequencies in at once (shorter,
 * and harder to fit by luck). A gripper program closes on nothing and opens again; a grasp program
 * closes on the task's object (the task's skill reaches it first), so the fingers stall on it and
 * squeeze with all the force the gripper has: what shows its force limit.
 *
 * The motions are small and slow on purpose: amplitudes stay well inside the joint limits, and
 * the fastest joint speed is a fraction of its velocity limit, so a program is safe to run on an
 * arm at reduced speed. Every program starts and ends at rest at home (a cosine taper), so a
 * recording never begins with a jump. Programs are pure functions of time: the same program gives
 * the same commands on any link, which is what lets `arbor calibrate` replay them in sim.
 */
import { z } from 'zod';
import type { RobotConfig } from '../scenario/robot.ts';

/** How a program moves its joint. */
export const ExcitationKind = z.enum(['chirp', 'multisine', 'gripper', 'grasp']);
export type ExcitationKind = z.infer<typeof ExcitationKind>;

/** One excitation program, as recorded in the meta of the trace it made. */
export const ExcitationProgram = z.strictObject({
  /** A name for the log and the files: `chirp-shoulder_pan`, `gripper-close`, `gripper-grasp`. */
  name: z.string().min(1),
  kind: ExcitationKind,
  /** Index of the moving joint in robot.yaml order; -1 for the gripper and grasp programs. */
  joint: z.number().int().min(-1),
  /** Peak displacement from home (rad); for the gripper and grasp programs, the width closed to (m). */
  amplitude: z.number().nonnegative(),
  /** Lowest and highest frequency (Hz). */
  band: z.tuple([z.number().positive(), z.number().positive()]),
  /** Seconds the program runs, tapers included (a grasp's: after its reach). */
  duration: z.number().positive(),
  /** Seconds a grasp's reach took, before its gripper program began (recorded as it ran). */
  reached: z.number().nonnegative().optional(),
});
export type ExcitationProgram = z.infer<typeof ExcitationProgram>;

/** What the programs may do. */
export interface ExcitationOptions {
  /** Which kinds to make (default chirp and gripper). */
  kinds?: ExcitationKind[];
  /** Seconds per program (default 6). */
  duration?: number;
  /** Frequency band (Hz) (default 0.2 to 1.5). */
  band?: [number, number];
  /** Largest displacement from home (rad) (default 0.15). */
  maxAmplitude?: number;
  /** Fraction of a joint's velocity limit its fastest motion may reach (default 0.25). */
  speedFraction?: number;
}

/** Seconds of cosine taper at each end of a program. */
const TAPER = 0.75;
/** Fraction of the room between home and the nearer limit that a program may use. */
const ROOM_FRACTION = 0.3;
/** Tones of a multisine. */
const TONES = 5;

/**
 * The programs for a robot: one per arm joint and kind, and one for each gripper kind if it has a
 * gripper. A grasp comes last whatever the order asked: it ends with the open fingers about the
 * object, away from home.
 */
export function excitationPrograms(robot: RobotConfig, options: ExcitationOptions = {}): ExcitationProgram[] {
  const kinds = options.kinds ?? ['chirp', 'gripper'];
  const duration = options.duration ?? 6;
  const band = options.band ?? [0.2, 1.5];
  if (!(band[0] < band[1])) throw new Error(`The excitation band ${band[0]}..${band[1]} Hz is empty: give the lower frequency first.`);
  if (duration <= 2 * TAPER) throw new Error(`An excitation program needs more than ${2 * TAPER} s (its tapers); ${duration} s was asked.`);
  const programs: ExcitationProgram[] = [];
  for (const kind of [...kinds.filter((k) => k !== 'grasp'), ...kinds.filter((k) => k === 'grasp')]) {
    if (kind === 'gripper' || kind === 'grasp') {
      if (robot.gripper) programs.push({ name: kind === 'gripper' ? 'gripper-close' : 'gripper-grasp', kind, joint: -1, amplitude: robot.gripper.width[0], band, duration });
      continue;
    }
    robot.joints.forEach((joint, i) => {
      const home = robot.home[i];
      const room = Math.min(home - joint.position[0], joint.position[1] - home);
      // A sine of amplitude A at f Hz peaks at 2πfA rad/s: keep that under the speed allowed.
      const bySpeed = ((options.speedFraction ?? 0.25) * joint.velocity) / (2 * Math.PI * band[1]);
      const amplitude = Math.min(options.maxAmplitude ?? 0.15, ROOM_FRACTION * room, bySpeed);
      if (!(amplitude > 1e-3)) throw new Error(`Joint ${joint.name}: home ${home} leaves no room to move inside its limits [${joint.position.join(', ')}]; move home away from the limit.`);
      programs.push({ name: `${kind}-${joint.name}`, kind, joint: i, amplitude, band, duration });
    });
  }
  return programs;
}

/**
 * The command of a program at time `t` (s): joint targets and the gripper's width. A grasp's arm
 * follows the task's skill to the object (a closed loop on what the arm observes, see identify.ts),
 * so only its gripper width is a function of time (`gripperWidthAt`).
 */
export function excitationCommand(program: ExcitationProgram, robot: RobotConfig, t: number): { position: number[]; gripperWidth: number } {
  if (program.kind === 'grasp') throw new Error(`${program.name}: a grasp's arm motion is the task's reach, not a function of time; replay it from its recorded commands.`);
  const position = [...robot.home];
  if (program.joint >= 0) position[program.joint] += program.amplitude * taper(t, program.duration) * signal(program, t);
  return { position, gripperWidth: gripperWidthAt(program, robot, t) };
}

/**
 * The gripper width a program commands at `t` (s from the reset): open, except in the middle third
 * of a gripper or grasp program (a grasp's counted from the end of its reach), closed to
 * `amplitude` (on nothing: the fingers' travel and speed; on the object: they stall on it and
 * squeeze with the gripper's whole force).
 */
export function gripperWidthAt(program: ExcitationProgram, robot: RobotConfig, t: number): number {
  const open = robot.gripper?.width[1] ?? 0;
  if (program.joint >= 0) return open;
  const since = t - (program.reached ?? 0);
  const third = program.duration / 3;
  return since >= third && since < 2 * third ? program.amplitude : open;
}

/** The unit signal of a program at `t`. */
function signal(program: ExcitationProgram, t: number): number {
  const [f0, f1] = program.band;
  if (program.kind === 'chirp') {
    // Linear chirp: the instantaneous frequency goes from f0 to f1 over the program.
    return Math.sin(2 * Math.PI * (f0 * t + ((f1 - f0) * t * t) / (2 * program.duration)));
  }
  // Multisine with Schroeder phases (a low peak for its power), log-spaced tones, scaled to ≤ 1.
  let sum = 0;
  for (let k = 0; k < TONES; k++) {
    const f = f0 * (f1 / f0) ** (k / (TONES - 1));
    sum += Math.sin(2 * Math.PI * f * t - (Math.PI * k * (k + 1)) / TONES);
  }
  return sum / TONES;
}

/** 0 at both ends, 1 in the middle, smooth (so the program starts and ends at rest). */
function taper(t: number, duration: number): number {
  const edge = Math.min(t, duration - t);
  if (edge <= 0) return 0;
  if (edge >= TAPER) return 1;
  return 0.5 - 0.5 * Math.cos((Math.PI * edge) / TAPER);
}
