/** The sim-to-real commands that run on a robot: `arbor identify`. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { createLink, parseBackend, type Backend } from '../robot/links.ts';
import { loadScenario } from '../scenario/load.ts';
import { EpisodeMcapWriter } from '../trace/mcap.ts';
import { saveTrace } from '../trace/trace.ts';
import { ExcitationKind, excitationPrograms, type ExcitationProgram } from '../transfer/excitation.ts';
import { runExcitation, type ExcitationRun } from '../transfer/identify.ts';
import { writeFileAtomically } from './export-mcap.ts';
import { fixed, table } from './format.ts';
import { number, seed } from './options.ts';

interface IdentifyFlags {
  backend: Backend;
  out?: string;
  kinds: ExcitationKind[];
  duration: number;
  seed: number;
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
  program
    .command('identify')
    .description('run excitation motions on a robot (or the sim) and record them, for arbor calibrate')
    .argument('<scenario>', 'scenario YAML file (its robot, world and safety envelope)')
    .option('--backend <backend>', 'sim, rosbridge://HOST:PORT or ros2[:NAMESPACE]', parseBackend, { kind: 'sim' } as Backend)
    .option('--out <dir>', 'folder for the recordings (default: identify-<time>)')
    .option('--kinds <list>', 'excitations to run: chirp, multisine, gripper', kindList, ['chirp', 'gripper'] as ExcitationKind[])
    .option('--duration <s>', 'seconds per excitation', number(2, 120), 6)
    .option('--seed <n>', 'seed of every reset', seed, 0)
    .option('--yes', 'on a robot: run without asking first (the safety envelope and reduced speed still apply)')
    .option('--json', 'print each excitation and its tracking error as JSON on stdout')
    .action(async (file: string, flags: IdentifyFlags) => {
      const scenario = await loadScenario(file);
      const programs = excitationPrograms(scenario.robotConfig, { kinds: flags.kinds, duration: flags.duration });
      const out = flags.out ?? `identify-${new Date().toISOString().replace(/[:.]/g, '-')}`;
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
          const run = await runExcitation(link, scenario, p, flags.seed);
          saveTrace(run.trace, join(out, `${p.name}.trace`));
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
    console.log(JSON.stringify({ out, mcap, excitations: runs.map((r) => ({ ...r.program, tracking_rms: r.trackingRms, wall_time: r.wallTime })) }));
    return;
  }
  console.log(table(['excitation', 'peak', 'tracking rms', 'wall s'], runs.map((r) => [r.program.name, fixed(r.program.amplitude, 3), fixed(r.trackingRms, 4), fixed(r.wallTime, 1)])));
  console.log(`\n${runs.length} recordings in ${out}/ (one .trace each, all in ${mcap}). Next: arbor calibrate SCENARIO --from ${out}/*.trace`);
}
