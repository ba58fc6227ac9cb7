/** The sim-to-real commands: `arbor identify` records a robot, `arbor calibrate` fits the sim to it. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { createLink, parseBackend, type Backend } from '../robot/links.ts';
import { loadScenario } from '../scenario/load.ts';
import type { Evaluator } from '../evaluation/evaluator.ts';
import { EvaluatorPool, workerCount } from '../evaluation/pool.ts';
import { DEFAULT_STORE_PATH, Store } from '../store/store.ts';
import { runTransfer, transferReport, type SweepLosses, type TransferReport } from '../transfer/transfer.ts';
import type { RobotConfig } from '../scenario/robot.ts';
import { readRecordings } from '../transfer/recording.ts';
import { EpisodeMcapWriter } from '../trace/mcap.ts';
import { TOPIC } from '../trace/topics.ts';
import { loadTrace, saveTrace } from '../trace/trace.ts';
import { FITTABLE, ReplaySim, calibrate, fittedValues, replayOfExcitation, replayOfIdentify, replayOfRecording, type Calibration, type Replay, type TrackingError } from '../transfer/calibrate.ts';
import { ExcitationKind, excitationPrograms, type ExcitationProgram } from '../transfer/excitation.ts';
import { runExcitation, type ExcitationRun } from '../transfer/identify.ts';
import { writeFileAtomically } from './export-mcap.ts';
import { fixed, successText, table } from './format.ts';
import { choosePolicy, integer, number, parseSeedRange, seed } from './options.ts';
import { progress } from './progress.ts';
import { checkOperatorInput } from './study-commands.ts';
import { stringify } from 'yaml';

interface IdentifyFlags {
  backend: Backend;
  out?: string;
  kinds: ExcitationKind[];
  duration: number;
  seed: number;
  policy?: string;
  yes?: boolean;
  json?: boolean;
}

function kindList(text: string): ExcitationKind[] {
  return text.split(',').map((k) => {
    const kind = ExcitationKind.safeParse(k.trim());
    if (!kind.success) throw new Error(`--kinds: '${k}' is not an excitation; use ${ExcitationKind.options.join(', ')} (comma-separated).`);
    return kind.data;
  });
}

export function registerTransferCommands(program: Command): void {
  registerIdentify(program);
  registerCalibrate(program);
  registerTransfer(program);
}

function registerIdentify(program: Command): void {
  program
    .command('identify')
    .description('run excitation motions on a robot (or the sim) and record them, for arbor calibrate')
    .argument('<scenario>', 'scenario YAML file (its robot, world and safety envelope)')
    .option('--backend <backend>', 'sim, rosbridge://HOST:PORT or ros2[:NAMESPACE]', parseBackend, { kind: 'sim' } as Backend)
    .option('--out <dir>', 'folder for the recordings (default: identify-<time>)')
    .option('--kinds <list>', 'excitations to run: chirp, multisine, gripper (close on nothing), grasp (close on the task\'s object)', kindList, ['chirp', 'gripper'] as ExcitationKind[])
    .option('--duration <s>', 'seconds per excitation', number(2, 120), 6)
    .option('--seed <n>', 'seed of every reset', seed, 0)
    .option('--policy <file>', 'for grasp: a params policy that picks the object; its skill reaches it (default: the scenario defaults)')
    .option('--yes', 'on a robot: run without asking first (the safety envelope and reduced speed still apply)')
    .option('--json', 'print each excitation and its tracking error as JSON on stdout')
    .action(async (file: string, flags: IdentifyFlags) => {
      const scenario = await loadScenario(file);
      const programs = excitationPrograms(scenario.robotConfig, { kinds: flags.kinds, duration: flags.duration });
      const out = flags.out ?? `identify-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      const reach = choosePolicy(flags.policy, scenario);
      if (reach.kind !== 'params') throw new Error(`--policy ${flags.policy}: a grasp reaches the object with the task's skill at a params policy's parameters; give a params policy (this one is ${reach.kind}).`);
      const onRobot = flags.backend.kind !== 'sim';
      if (onRobot && !flags.yes) await confirm(programs, scenario.robotConfig.joints.map((j) => j.name));
      mkdirSync(out, { recursive: true });
      const link = await createLink(scenario, flags.backend);
      const runs: ExcitationRun[] = [];
      try {
        // On a robot every excitation runs with the tool point at the robot's reduced speed.
        if (onRobot) link.limitToolSpeed(link.robot.safety.reduced_speed);
        for (const [i, p] of programs.entries()) {
          process.stderr.write(`identify: ${i + 1}/${programs.length} ${p.name} (${p.duration} s)\n`);
          const run = await runExcitation(link, scenario, p, flags.seed, reach.params);
          saveTrace(run.trace, join(out, `${p.name}.trace`));
          if (run.problem) process.stderr.write(`arbor: ${run.problem}\n`);
          runs.push(run);
        }
      } finally {
        await link.close();
      }
      const mcap = join(out, 'identify.mcap');
      await writeFileAtomically(mcap, async (sink) => {
        const writer = await EpisodeMcapWriter.start(sink);
        for (const [i, run] of runs.entries()) {
          await writer.addEpisode(run.trace, {
            id: i + 1, study: 'identify', candidate: 0, split: run.program.name, seed: flags.seed, status: 'ok', success: true, score: null,
            outcome: 'excitation', terms: {}, metrics: { tracking_rms: run.trackingRms }, crashReason: null,
          });
        }
        return writer.finish();
      });
      report(runs, out, mcap, flags.json ?? false);
    });
}

/** Shows what will move and asks; refuses without a terminal to ask on. */
async function confirm(programs: ExcitationProgram[], joints: string[]): Promise<void> {
  if (!process.stdin.isTTY) throw new Error('identify moves the robot: run it at a terminal to confirm, or pass --yes once you have checked the motions in sim (arbor identify SCENARIO).');
  process.stderr.write(`${table(['excitation', 'joint', 'peak', 'seconds'], programs.map((p) => [p.name, p.joint >= 0 ? joints[p.joint] : 'gripper', fixed(p.amplitude, 3), p.duration]))}\n`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await rl.question('Run these on the robot at reduced speed? Keep the e-stop in reach. [y/N] ');
  rl.close();
  if (answer.trim().toLowerCase() !== 'y') throw new Error('identify: not confirmed; nothing ran.');
}

function report(runs: ExcitationRun[], out: string, mcap: string, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ out, mcap, excitations: runs.map((r) => ({ ...r.program, tracking_rms: r.trackingRms, wall_time: r.wallTime, ...(r.problem ? { problem: r.problem } : {}) })) }));
    return;
  }
  console.log(table(['excitation', 'peak', 'tracking rms', 'wall s'], runs.map((r) => [r.program.name, fixed(r.program.amplitude, 3), fixed(r.trackingRms, 4), fixed(r.wallTime, 1)])));
  console.log(`\n${runs.length} recordings in ${out}/ (one .trace each, all in ${mcap}). Next: arbor calibrate SCENARIO --from ${out}/*.trace`);
}

interface CalibrateFlags {
  from: string[];
  axes: string[];
  out?: string;
  budget: number;
  json?: boolean;
}

function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description("fit the sim's gains, damping and latency to a robot's recordings (from arbor identify), and write a calibration file")
    .argument('<scenario>', 'scenario YAML file whose sim is fitted')
    .requiredOption('--from <files...>', 'recordings: traces (arbor identify\'s, or any episode\'s), arbor MCAP exports, or MCAP ros2 bags with /joint_states and the arm\'s JointTrajectory commands')
    .option('--axes <list>', `axes to fit, of ${Object.keys(FITTABLE).join(', ')}`, (t: string) => t.split(',').map((a) => a.trim()), ['kp', 'damping', 'command_delay'])
    .option('--out <file>', 'calibration file to write (default: calibration.yaml)')
    .option('--budget <n>', 'replays per CMA-ES run', integer(8, 10_000), 60)
    .option('--json', 'print the fit as JSON on stdout')
    .action(async (file: string, flags: CalibrateFlags) => {
      const loaded = await loadScenario(file);
      // The fit starts from the nominal model, not from a calibration the scenario may already name.
      const scenario = { ...loaded, calibration: undefined };
      const period = 1 / scenario.episode.control_rate;
      const replays = (await Promise.all(flags.from.map((f) => replaysOf(f, scenario.robotConfig, period)))).flat();
      // Every third recording is held out of the fit, to judge it on motions it did not see.
      const heldOut = replays.length >= 2 ? replays.filter((_, i) => i % 3 === 2) : [];
      const fitSet = replays.filter((r) => !heldOut.includes(r));
      const link = await createLink(scenario);
      let result: Calibration;
      try {
        result = await calibrate(new ReplaySim(link), fitSet, heldOut, {
          axes: flags.axes, budget: flags.budget,
          onProgress: (n, best) => process.stderr.write(`calibrate: ${n} replays, tracking rms ${best.toExponential(2)}\n`),
        });
      } finally {
        await link.close();
      }
      const out = flags.out ?? 'calibration.yaml';
      writeCalibration(out, result, relative('.', loaded.file), replays);
      reportCalibration(result, scenario.robotConfig.joints.map((j) => j.name), out, flags.json ?? false, { fit: fitSet.length, heldOut: heldOut.length });
    });
}

/**
 * The replays in a file: what it records was commanded (a trace, an MCAP export, a ros2 bag), the
 * targets as they left the safety envelope. An `arbor identify` trace also replays its gripper
 * program and is fitted on the gripper too; one from before traces recorded their commands replays
 * its excitation program instead.
 */
async function replaysOf(file: string, robot: RobotConfig, period: number): Promise<Replay[]> {
  if (file.endsWith('.trace')) {
    const trace = loadTrace(file);
    if (trace.meta.excitation !== undefined) return [(trace.topics.has(TOPIC.command) ? replayOfIdentify : replayOfExcitation)(trace, robot, basename(file), period)];
  }
  return (await readRecordings(file)).map((r) => replayOfRecording(r, robot, period));
}

/** The calibration file: a perturbation file whose axes are fixed at the fitted values. */
function writeCalibration(out: string, result: Calibration, scenario: string, replays: Replay[]): void {
  // Each axis fixed at its value (4 significant digits: the fit's error is larger than that).
  const axes = Object.fromEntries(fittedValues(result.axes).map(({ name, axis, value }) => [name, { kind: axis.kind, ['ticks' in axis ? 'ticks' : 'scale']: Number(value.toPrecision(4)) }]));
  const header = `# arbor calibrate of ${scenario} from ${replays.length} recording(s): ${replays.map((r) => r.name).join(', ')}\n# Use it with calibration: FILE in the scenario, or --calibration FILE.\n`;
  writeFileSync(out, header + stringify({ axes }));
}

function reportCalibration(result: Calibration, joints: string[], out: string, json: boolean, counts: { fit: number; heldOut: number }): void {
  if (json) {
    console.log(JSON.stringify({ ...result, out }));
    return;
  }
  console.log(table(['axis', 'value', '± std error', ''], result.axes.map((a) => [a.name, a.identified ? fixed(a.value, 4) : '-', a.identified ? fixed(a.error, 4) : '-', a.note ?? ''])));
  const rows = (label: string, e: { before: TrackingError; after: TrackingError }) => [
    ...joints.map((j, i) => [`${label} ${j}`, fixed(e.before.joints[i], 5), fixed(e.after.joints[i], 5), ratio(e.before.joints[i], e.after.joints[i])]),
    ...(e.before.gripper !== null ? [[`${label} gripper (m)`, fixed(e.before.gripper, 5), fixed(e.after.gripper, 5), ratio(e.before.gripper, e.after.gripper ?? NaN)]] : []),
    ...(e.before.gripperForce !== null ? [[`${label} finger force (N)`, fixed(e.before.gripperForce, 3), fixed(e.after.gripperForce, 3), ratio(e.before.gripperForce, e.after.gripperForce ?? NaN)]] : []),
  ];
  const all = [...rows(`fit (${counts.fit})`, result.fit), ...(result.heldOut ? rows(`held out (${counts.heldOut})`, result.heldOut) : [])];
  console.log(`\n${table(['tracking rms (rad)', 'nominal sim', 'calibrated', 'better by'], all)}`);
  console.log(`\n${result.evaluations} replays. Wrote ${out}; use it with --calibration ${out}, or calibration: ${out} in the scenario.`);
}

function ratio(before: number, after: number): string {
  const r = before / after;
  // Past 1000× the calibrated sim replays the recording to rounding: the ratio says nothing more.
  return after > 0 && Number.isFinite(r) ? (r > 1000 ? '>1000×' : `${r.toFixed(1)}×`) : '-';
}

interface TransferFlags {
  policy?: string;
  backend: Backend;
  seeds: number[];
  workers?: number;
  operator?: boolean;
  scriptedAnswers?: boolean;
  gauntlet?: string;
  db: string;
  json?: boolean;
}

function registerTransfer(program: Command): void {
  program
    .command('transfer')
    .description('run a policy on the same seeds in sim and on the robot, and report the gap, paired, with what moved and the likeliest cause')
    .argument('<scenario>', 'scenario YAML file')
    .option('--policy <file>', 'policy file (default: the scenario defaults)')
    .requiredOption('--backend <backend>', 'the robot: rosbridge://HOST:PORT or ros2[:NAMESPACE]', parseBackend)
    .requiredOption('--seeds <A..B>', 'seeds A to B inclusive, run on both', parseSeedRange)
    .option('--workers <n>', 'worker threads of the sim side (default: one per core)', integer(1, 4096))
    .option('--operator', 'supervise every robot episode as arbor run --operator does (sim gate, reduced speed first, any key an e-stop)')
    .option('--scripted-answers', "with --operator: the answers on stdin are scripted, not typed (logged as such)")
    .option('--gauntlet <study>', "a gauntlet of this policy on the same seeds (arbor gauntlet's study id): its one-axis worlds are matched against the robot's failures")
    .option('--db <path>', 'study database holding the gauntlet', DEFAULT_STORE_PATH)
    .option('--json', 'print the report as JSON on stdout')
    .action(async (file: string, flags: TransferFlags) => {
      if (flags.backend.kind === 'sim') throw new Error('--backend: transfer compares the sim with a robot; give rosbridge://HOST:PORT or ros2[:NAMESPACE] (arbor sim-serve --perturb serves a stand-in).');
      checkOperatorInput(flags.operator ?? false, flags);
      const scenario = await loadScenario(file);
      const policy = choosePolicy(flags.policy, scenario);
      const sweeps = flags.gauntlet ? gauntletLosses(flags.db, flags.gauntlet, flags.seeds) : undefined;
      const sim = await EvaluatorPool.create(scenario.file, { workers: workerCount({ workers: flags.workers, jobs: flags.seeds.length }).count, jobs: flags.seeds.length });
      const [{ LinkEvaluator }, { TerminalOperator }] = await Promise.all([import('../evaluation/link-evaluator.ts'), import('./operator-console.ts')]);
      let robot: Evaluator | undefined;
      let results: Awaited<ReturnType<typeof runTransfer>>;
      const bar = progress('transfer', 2 * flags.seeds.length);
      let done = 0;
      try {
        robot = await LinkEvaluator.create(scenario, flags.backend, { operator: flags.operator ? new TerminalOperator(process.stdin, process.stderr, flags.scriptedAnswers ?? false) : undefined });
        results = await runTransfer(sim, robot, policy, flags.seeds, (side) => bar.update(++done, { side }));
      } finally {
        bar.stop();
        await sim.close();
        await robot?.close();
      }
      printTransfer(transferReport(flags.seeds, results.sim, results.robot, sweeps), flags.json ?? false);
    });
}

/** The seeds each one-axis world of a stored gauntlet lost against its nominal world, on `seeds`. */
function gauntletLosses(db: string, id: string, seeds: number[]): SweepLosses {
  const store = Store.open(db, { readonly: true });
  try {
    const study = store.study(id);
    if (!study || study.researcher !== 'gauntlet') throw new Error(`--gauntlet ${id}: ${db} has no gauntlet of that id; arbor gauntlet prints its id, and arbor studies lists them.`);
    const outcomes = new Map(store.candidates(id).map((c) => [c.description.replace(/^gauntlet: /, ''), new Map(store.episodes({ candidateId: c.id }).map((e) => [e.seed, e.success]))]));
    const nominal = outcomes.get('nominal');
    if (!nominal) throw new Error(`--gauntlet ${id}: it has no nominal world to compare its sweeps with.`);
    const missing = seeds.filter((s) => !nominal.has(s));
    if (missing.length) throw new Error(`--gauntlet ${id} did not run seeds ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}; run it on the seeds of the transfer (--seeds).`);
    const losses: SweepLosses = new Map();
    for (const [world, bySeed] of outcomes) {
      if (world === 'nominal' || /^T\d$/.test(world)) continue;
      losses.set(world, new Set(seeds.filter((s) => nominal.get(s) && bySeed.get(s) === false)));
    }
    return losses;
  } finally {
    store.close();
  }
}

function printTransfer(report: TransferReport, json: boolean): void {
  if (json) {
    console.log(JSON.stringify(report));
    return;
  }
  const { gap } = report;
  console.log(`sim:    ${successText(report.sim.success_rate, report.sim.n)}`);
  console.log(`robot:  ${successText(report.robot.success_rate, report.robot.n)}`);
  console.log(`gap:    ${(gap.difference * 100).toFixed(1)} points [${(gap.interval.low * 100).toFixed(1)}, ${(gap.interval.high * 100).toFixed(1)}], paired on ${gap.n} seeds; McNemar p ${fixed(gap.p, 4)}`);
  if (report.lost.length) console.log(`lost on the robot: seeds ${report.lost.join(', ')}`);
  if (report.gained.length) console.log(`gained on the robot: seeds ${report.gained.join(', ')}`);
  if (report.metrics.length) console.log(`\n${table(['metric', 'sim', 'robot', 'effect (sd)'], report.metrics.map((m) => [m.name, fixed(m.sim, 4), fixed(m.robot, 4), fixed(m.effect, 2)]))}`);
  if (report.likeliest) {
    const matches = report.likeliest.slice(0, 5);
    console.log(matches.length ? `\n${table(['likeliest axis (gauntlet world)', 'overlap of lost seeds'], matches.map((m) => [m.world, fixed(m.overlap, 2)]))}` : '\nno one-axis world of the gauntlet loses seeds: none explains the gap.');
  }
}
