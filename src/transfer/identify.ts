/**
 * `arbor identify`: runs the excitation programs (src/transfer/excitation.ts) on a robot, through
 * the same `SafeLink` every episode uses (so the envelope and the watchdog guard them), and keeps
 * each as a trace with its program in the meta. The traces are what `arbor calibrate` fits the sim
 * to; one MCAP file of them all opens in Foxglove and `ros2 bag`. A grasp program first reaches the
 * task's object with the task's own skill (its `reach` phases, at the parameters of a params
 * policy that picks it), then closes on it where it stands.
 */
import type { Observation } from '../robot/link.ts';
import type { SafeLink } from '../robot/safe-link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { Trace } from '../trace/trace.ts';
import { TOPIC } from '../trace/topics.ts';
import { excitationCommand, gripperWidthAt, type ExcitationProgram } from './excitation.ts';

/** One program as it ran. */
export interface ExcitationRun {
  program: ExcitationProgram;
  /** The recorded topics, the program in `meta.excitation`. */
  trace: Trace;
  /** Root-mean-square of commanded minus measured position of the moving joint (rad); the gripper's width (m). */
  trackingRms: number;
  /** Wall-clock seconds it took. */
  wallTime: number;
  /** What went wrong that the recording shows (a grasp whose fingers closed on nothing); absent when nothing did. */
  problem?: string;
}

/**
 * Runs one program on an open link (reset with `seed` first) and returns its trace. A grasp first
 * reaches the object with the task's skill at `params` (a params policy's: one that picks the
 * object); its gripper program starts when the reach is done, and the seconds that took are
 * recorded in the program (`reached`).
 */
export async function runExcitation(link: SafeLink, scenario: LoadedScenario, program: ExcitationProgram, seed: number, params: Readonly<Record<string, number>> = {}): Promise<ExcitationRun> {
  const started = performance.now();
  const robot = link.robot;
  const period = link.controlPeriod;
  const commanded: number[] = [];
  let ran = program;
  /** Ticks of a grasp's reach, before its program. */
  let skipped = 0;
  try {
    const first = await link.reset(seed);
    let arm: ArrayLike<number> = robot.home;
    if (program.kind === 'grasp') {
      const reached = await reach(link, scenario, program, params, first);
      [arm, skipped] = [reached.position, reached.ticks];
      ran = { ...program, reached: skipped * period };
    }
    const ticks = Math.round(program.duration / period);
    for (let tick = 1; tick <= ticks; tick++) {
      // Commands are a function of the tick, not of the clock: a replay in sim sends the same ones
      // (a grasp's reach excepted: the trace records what it sent). Ticks count from the reset.
      const t = (skipped + tick) * period;
      const command = program.kind === 'grasp' ? { position: arm, gripperWidth: gripperWidthAt(ran, robot, t) } : excitationCommand(program, robot, t);
      commanded.push(program.joint >= 0 ? command.position[program.joint] : command.gripperWidth);
      await link.act(command);
    }
  } finally {
    await link.stop();
  }
  const recorded = link.trace();
  const trace = new Trace(recorded.topics, { ...recorded.meta, scenario: scenario.name, seed, excitation: ran }, recorded.images);
  const run: ExcitationRun = { program: ran, trace, trackingRms: trackingRms(trace, ran, robot.joints.map((j) => j.name), commanded, skipped), wallTime: (performance.now() - started) / 1000 };
  return program.kind === 'grasp' ? { ...run, problem: missedGrasp(trace, ran, robot, skipped + Math.round((2 * program.duration) / 3 / period)) } : run;
}

/**
 * Whether a grasp's fingers closed on nothing: by the end of the squeeze (row `row`) they closed to
 * within a tenth of their travel of fully shut. Says what to do, or undefined when they held something.
 */
function missedGrasp(trace: Trace, program: ExcitationProgram, robot: SafeLink['robot'], row: number): string | undefined {
  const width = trace.column(TOPIC.gripper, 'position');
  const [shut, open] = robot.gripper!.width;
  const at = width[Math.min(row, width.length - 1)];
  if (at > shut + 0.1 * (open - shut)) return undefined;
  return `${program.name}: the fingers closed to ${(1000 * at).toFixed(1)} mm, on nothing: the reach did not put them around the object, so the recording says nothing of the grip force. Check that --policy picks it at --seed ${trace.meta.seed} (arbor episode SCENARIO --seed N --policy FILE).`;
}

/**
 * A grasp's reach: the task skill's reach phases (at `params`), one control tick at a time, until
 * the last is done; its last arm targets, to hold while the gripper closes, and the ticks it took.
 * Throws when the task has no reach, or when it takes longer than an episode of the scenario.
 */
async function reach(link: SafeLink, scenario: LoadedScenario, program: ExcitationProgram, params: Readonly<Record<string, number>>, first: Observation): Promise<{ position: ArrayLike<number>; ticks: number }> {
  const primitives = scenario.taskDef.controllers[scenario.policy.controller].skill;
  const phases = primitives?.reach ?? [];
  if (!primitives || !phases.length) throw new Error(`${program.name}: the ${scenario.taskDef.kind} task's skill has no reach phases, so there is no object to close on; leave grasp out of --kinds.`);
  const skill = primitives.create({ scenario, kinematics: link.kinematics, controlPeriod: link.controlPeriod }, scenario.task);
  skill.reset(first, params);
  const limit = Math.round(scenario.episode.duration / link.controlPeriod);
  let observation = first;
  let position: ArrayLike<number> = link.robot.home;
  let ticks = 0;
  for (const phase of phases) {
    for (let done = false; !done; ) {
      if (++ticks > limit) throw new Error(`${program.name}: the arm had not reached the object (phase ${phase}) after ${scenario.episode.duration} s, an episode; check it picks with this --policy in sim (arbor episode SCENARIO --policy FILE).`);
      const step = skill.step(phase, observation, params);
      position = Float64Array.from(step.action.position);
      done = step.done;
      // The gripper open, as the replay commands it until the program closes it.
      observation = await link.act({ position, gripperWidth: link.robot.gripper?.width[1] ?? 0 });
    }
  }
  return { position, ticks };
}

/**
 * How far the measured motion lagged the command: the RMS over the program of the command sent at
 * tick k against the state observed after it (row k of the topic, row 0 being the reset), after
 * the `skipped` ticks of a grasp's reach.
 */
function trackingRms(trace: Trace, program: ExcitationProgram, joints: string[], commanded: number[], skipped: number): number {
  const measured = program.joint >= 0 ? trace.column(TOPIC.jointStates, `position.${joints[program.joint]}`) : trace.column(TOPIC.gripper, 'position');
  let sum = 0;
  let n = 0;
  for (let k = 0; k < commanded.length && skipped + k + 1 < measured.length; k++, n++) sum += (commanded[k] - measured[skipped + k + 1]) ** 2;
  return n ? Math.sqrt(sum / n) : NaN;
}

