/** `arbor check`, `arbor schema`, `arbor episode`, `arbor eval`: the scenario and one-policy commands. */
import type { Command } from 'commander';
import { EpisodeRunner } from '../evaluation/episode.ts';
import { evaluatePolicy } from '../evaluation/evaluate.ts';
import { PREFLIGHT_ADVICE, PREFLIGHT_SEEDS, preflightScorer, type PreflightProblem } from '../evaluation/preflight.ts';
import { resultEvidence } from '../study/evidence.ts';
import { EvaluatorPool, workerCount } from '../evaluation/pool.ts';
import { loadPerturbationFile, loadScenario, scenarioJsonSchema, withCalibration, type LoadedScenario } from '../scenario/load.ts';
import type { AxisValue } from '../scenario/perturbation.ts';
import { perturbTargets, ModelPerturber } from '../sim/perturb.ts';
import { perturbSource } from '../scenario/perturbation-draw.ts';
import { loadRobotWorld, loadScenarioWorld } from '../sim/compose.ts';
import { writeEpisodePictures } from '../scoring/pictures.ts';
import { fixed, successText, table } from './format.ts';
import { choosePolicy, integer, parseSeedRange, seed } from './options.ts';
import { progress } from './progress.ts';

export function registerSimCommands(program: Command): void {
  registerCheck(program);
  program
    .command('schema')
    .description('print the JSON Schema of scenario files')
    .action(async () => console.log(JSON.stringify(await scenarioJsonSchema(), null, 2)));
  registerEpisode(program);
  registerEval(program);
}

/** `arbor check`: a scenario, its robot and its world load, and every name they use exists. */
function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate a scenario file (and its robot and world) and print every problem')
    .argument('<scenario>', 'scenario YAML file')
    .option('--perturb <file>', 'also check a perturbation file against the scenario\'s robot and world')
    .option('--no-preflight', "skip the scorer's preflight (a policy holding the arm at home on 16 seeds must not succeed)")
    .option('--workers <n>', 'worker threads of the preflight (default: one per core)', integer(1, 4096))
    .action(checkScenario);
}

/** `arbor episode`: one episode, its metrics and what happened. */
function registerEpisode(program: Command): void {
  program
    .command('episode')
    .description('run one episode and print its metrics')
    .argument('<scenario>', 'scenario YAML file')
    .requiredOption('--seed <n>', 'episode seed', seed)
    .option('--policy <file>', 'policy file: JSON, or a .ts/.js code policy module (default: the scenario defaults)')
    .option('--json', 'print {success, score, outcome, terms, metrics, summary} as JSON on stdout')
    .option('--images <dir>', 'save its camera frames, task images and vision check drawings as PNG files in DIR')
    .option('--perturb <file|axis=value,...>', 'perturb the world: a perturbation file (each seed draws from it), or axes of the scenario\'s perturbations: block fixed to values')
    .option('--calibration <file>', 'load the world with this calibration instead of the scenario\'s')
    .action(async (file: string, opts: { seed: number; policy?: string; json?: boolean; images?: string } & WorldFlags) => {
      const scenario = await scenarioWithFlags(file, opts);
      const policy = choosePolicy(opts.policy, scenario);
      const perturbation = opts.perturb ? perturbSource(opts.perturb, scenario)(opts.seed) : [];
      const runner = await EpisodeRunner.create(scenario);
      try {
        const run = await runner.run(policy, opts.seed, undefined, perturbation);
        const { summary } = resultEvidence(scenario, { ok: true, ...run });
        if (opts.images) process.stderr.write(`arbor: ${writeEpisodePictures(run.trace, scenario, opts.images).length} pictures written to ${opts.images}\n`);
        if (opts.json) {
          const world = perturbation.length ? { perturbation: Object.fromEntries(perturbation.map((v) => [v.name, v.value])) } : {};
          console.log(JSON.stringify({ success: run.success, score: run.score, outcome: run.outcome, terms: run.terms, metrics: run.metrics, ...(summary ? { summary } : {}), ...world }));
          return;
        }
        console.log(`episode ${scenario.name} seed ${opts.seed}: ${run.outcome}, score ${fixed(run.score)} (${fixed(run.wallTime, 3)} s wall)\n`);
        if (perturbation.length) console.log(`perturbed: ${perturbation.map((v) => `${v.name} (${v.axis.kind}) ${fixed(v.value)}`).join(', ')}\n`);
        console.log(table(['metric', 'value'], Object.entries(run.metrics).map(([k, v]) => [k, typeof v === 'number' ? fixed(v) : String(v)])));
        console.log(`\n${table(['score term', 'value'], Object.entries(run.terms).map(([k, v]) => [k, fixed(v)]))}`);
        if (summary) console.log(`\nwhat happened:\n${summary.map((l) => `  ${l}`).join('\n')}`);
      } finally {
        await runner.close();
      }
    });
}

/** `arbor eval`: one policy on a range of seeds. */
function registerEval(program: Command): void {
  program
    .command('eval')
    .description('run a policy on a range of seeds and print its success rate and score')
    .argument('<scenario>', 'scenario YAML file')
    .requiredOption('--seeds <A..B>', 'seeds A to B inclusive, e.g. 0..63', parseSeedRange)
    .option('--policy <file>', 'policy file: JSON, or a .ts/.js code policy module (default: the scenario defaults)')
    .option('--workers <n>', 'worker threads (default: one per core)', integer(1, 4096))
    .option('--json', 'print {success_rate, success_interval, n, score_mean, score_std, episodes} as JSON on stdout')
    .option('--perturb <file|axis=value,...>', 'perturb every episode\'s world: a perturbation file (each seed draws from it), or axes of the scenario\'s perturbations: block fixed to values')
    .option('--calibration <file>', 'load the world with this calibration instead of the scenario\'s')
    .action(async (file: string, opts: { seeds: number[]; policy?: string; workers?: number; json?: boolean } & WorldFlags) => {
      const scenario = await scenarioWithFlags(file, opts);
      const perturbation = opts.perturb ? perturbSource(opts.perturb, scenario) : undefined;
      const policy = choosePolicy(opts.policy, scenario);
      const seeds = opts.seeds;
      const sizing = workerCount({ workers: opts.workers, jobs: seeds.length });
      if (sizing.capped) process.stderr.write(`arbor: ${sizing.capped}\n`);
      const bar = progress('eval', seeds.length);
      let done = 0;
      let successes = 0;
      try {
        const result = await evaluatePolicy(scenario, policy, seeds, sizing.count, (r) => {
          done++;
          if (r.ok && r.success) successes++;
          bar.update(done, { success: successText(successes / done, done) });
        }, perturbation);
        bar.stop();
        if (opts.json) {
          console.log(JSON.stringify(result));
          return;
        }
        const { episodes } = result;
        const outcomes = new Map<string, number>();
        for (const e of episodes) outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1);
        console.log(`eval ${scenario.name} seeds ${seeds[0]}..${seeds.at(-1)} (${episodes.length} episodes)`);
        console.log(`success_rate: ${fixed(result.success_rate)} (95% interval ${fixed(result.success_interval.low)}..${fixed(result.success_interval.high)}, n=${result.n})`);
        console.log(`score_mean:   ${fixed(result.score_mean)}`);
        console.log(`score_std:    ${fixed(result.score_std)}`);
        console.log(`outcomes:     ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
      } finally {
        bar.stop();
      }
    });
}

/** The flags that choose the world an episode runs in. */
interface WorldFlags {
  /** `--perturb`: a perturbation file, or axis=value pairs. */
  perturb?: string;
  /** `--calibration`: a calibration file in place of the scenario's. */
  calibration?: string;
}

/** The scenario, loaded with `--calibration`'s file when one is given. */
export async function scenarioWithFlags(file: string, flags: Pick<WorldFlags, 'calibration'>): Promise<LoadedScenario> {
  const scenario = await loadScenario(file);
  return flags.calibration ? withCalibration(scenario, flags.calibration) : scenario;
}

/** `arbor check`: the scenario, its robot and world, every name they refer to, then the scorer's preflight. */
async function checkScenario(file: string, opts: { preflight: boolean; workers?: number; perturb?: string }): Promise<void> {
  const scenario = await loadScenario(file);
  const extra = opts.perturb ? loadPerturbationFile(opts.perturb, scenario.robotConfig) : undefined;
  const robot = scenario.robotConfig;
  // The robot must load on its own too (`arbor robot check` tells what is wrong with it).
  (await loadRobotWorld(robot)).dispose();
  // Loading the world proves the MJCF and every name the scenario, robot and task refer to.
  const world = await loadScenarioWorld(scenario);
  try {
    const task = scenario.taskDef;
    for (const need of task.requiredNames?.(scenario.task) ?? []) world.id(need.kind, need.name);
    world.id('site', robot.tcp_site);
    for (const j of robot.joints) {
      world.id('joint', j.name);
      world.id('actuator', j.actuator);
    }
    for (const name of robot.gripper?.joints ?? []) world.id('joint', name);
    for (const name of robot.gripper?.actuators ?? []) world.id('actuator', name);
    for (const name of robot.gripper?.touch_sensors ?? []) world.id('sensor', name);
    if (robot.wrench) {
      world.id('sensor', robot.wrench.force_sensor);
      world.id('sensor', robot.wrench.torque_sensor);
    }
    if (robot.tool) world.id('geom', robot.tool.geom);
    if (robot.tool?.touch_sensor) world.id('sensor', robot.tool.touch_sensor);
    for (const camera of Object.keys(scenario.cameras)) world.id('camera', camera);
    // The task's scene checks what names cannot (a free joint, a box geom).
    task.scene(world, scenario.task, scenario);
    // Every body, geom and object an axis names must be in the world (joints were checked with their lines).
    const axes = [scenario.perturbations, extra].flatMap((b) => Object.entries(b?.axes ?? {}));
    const values = [...axes.map(([name, axis]): AxisValue => ({ name, axis, value: 1 })), ...(scenario.calibration?.values ?? [])];
    new ModelPerturber(world, perturbTargets(world, robot, task.objects(scenario.task))).check(values);
  } finally {
    world.dispose();
  }
  console.log(`${file}: ok (${scenario.name}: task ${scenario.task.kind}, robot ${robot.name}, ${Object.keys(scenario.policy.params).length} parameters)`);
  const composition = world.composition;
  if (composition) {
    console.log(`  robot ${robot.name} attached at '${composition.mount}' (root body ${composition.root})`);
    for (const line of composition.added) console.log(`  added ${line}`);
  }
  if (opts.preflight) await checkScorer(scenario, opts.workers);
}

/**
 * `arbor check`'s preflight of the scorer: refused (exit 1) with every seed that is a success at
 * reset or rewards an arm held at home, each with why.
 */
async function checkScorer(scenario: LoadedScenario, workers: number | undefined): Promise<void> {
  const started = performance.now();
  const sizing = workerCount({ workers, jobs: PREFLIGHT_SEEDS.length });
  const pool = await EvaluatorPool.create(scenario.file, { workers: sizing.count, jobs: PREFLIGHT_SEEDS.length });
  let problems: PreflightProblem[];
  try {
    problems = await preflightScorer(scenario, pool);
  } finally {
    await pool.close();
  }
  const seeds = `seeds ${PREFLIGHT_SEEDS[0]}..${PREFLIGHT_SEEDS.at(-1)}`;
  if (problems.length) {
    const kinds = [...new Set(problems.map((p) => p.kind))];
    const lines = kinds.flatMap((kind) => [...problems.filter((p) => p.kind === kind).map((p) => `  ${p.message}`), `  ${PREFLIGHT_ADVICE[kind]}`]);
    throw new Error(`${scenario.file}: the scorer's preflight failed on ${problems.length} of ${PREFLIGHT_SEEDS.length} seeds (${seeds}):\n${lines.join('\n')}`);
  }
  console.log(`preflight: ok (an arm held at home fails on ${seeds} and none is a success at reset; ${fixed((performance.now() - started) / 1000, 1)} s)`);
}
