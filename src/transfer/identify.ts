/**
 * `arbor identify`: runs the excitation programs (src/transfer/excitation.ts) on a robot, through
 * the same `SafeLink` every episode uses (so the envelope and the watchdog guard them), and keeps
 * each as a trace with its program in the meta. The traces are what `arbor calibrate` fits the sim
 * to; one MCAP file of them all opens in Foxglove and `ros2 bag`.
 */
import type { SafeLink } from '../robot/safe-link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { Trace } from '../trace/trace.ts';
import { TOPIC } from '../trace/topics.ts';
import { excitationCommand, type ExcitationProgram } from './excitation.ts';

/** One program as it ran. */
export interface ExcitationRun {
  program: ExcitationProgram;
  /** The recorded topics, the program in `meta.excitation`. */
  trace: Trace;
  /** Root-mean-square of commanded minus measured position of the moving joint (rad); the gripper's width (m). */
  trackingRms: number;
  /** Wall-clock seconds it took. */
  wallTime: number;
}

/** Runs one program on an open link (reset with `seed` first) and returns its trace. */
export async function runExcitation(link: SafeLink, scenario: LoadedScenario, program: ExcitationProgram, seed: number): Promise<ExcitationRun> {
  const started = performance.now();
  const robot = link.robot;
  const period = link.controlPeriod;
  const ticks = Math.round(program.duration / period);
  const commanded: number[] = [];
  try {
    await link.reset(seed);
    for (let tick = 1; tick <= ticks; tick++) {
      // Commands are a function of the tick, not of the clock: a replay in sim sends the same ones.
      const command = excitationCommand(program, robot, tick * period);
      commanded.push(program.joint >= 0 ? command.position[program.joint] : command.gripperWidth);
      await link.act(command);
    }
  } finally {
    await link.stop();
  }
  const recorded = link.trace();
  const trace = new Trace(recorded.topics, { ...recorded.meta, scenario: scenario.name, seed, excitation: program }, recorded.images);
  return { program, trace, trackingRms: trackingRms(trace, program, robot.joints.map((j) => j.name), commanded), wallTime: (performance.now() - started) / 1000 };
}

/**
 * How far the measured motion lagged the command: the RMS over the program of the command sent at
 * tick k against the state observed after it (row k of the topic, row 0 being the reset).
 */
function trackingRms(trace: Trace, program: ExcitationProgram, joints: string[], commanded: number[]): number {
  const measured = program.joint >= 0 ? trace.column(TOPIC.jointStates, `position.${joints[program.joint]}`) : trace.column(TOPIC.gripper, 'position');
  let sum = 0;
  let n = 0;
  for (let k = 0; k < commanded.length && k + 1 < measured.length; k++, n++) sum += (commanded[k] - measured[k + 1]) ** 2;
  return n ? Math.sqrt(sum / n) : NaN;
}

