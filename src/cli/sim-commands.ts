/** `arbor check`, `arbor schema`, `arbor episode`, `arbor eval`: the scenario and one-policy commands. */
import type { Command } from 'commander';
import { defaultPolicy, loadPolicyFile, type PolicyFile } from '../policy/policy.ts';
import { EpisodeRunner } from '../research/episode.ts';
import { EvaluatorPool } from '../research/pool.ts';
import { meanStd } from '../research/stats.ts';
import { loadScenario, scenarioJsonSchema, type LoadedScenario } from '../scenario/load.ts';
import { ValidationError, formatProblem } from '../scenario/validate.ts';
import { World } from '../sim/world.ts';
import { fixed, parseSeedRange, percent, table } from './format.ts';
import { progress } from './progress.ts';

export function registerSimCommands(program: Command): void {
  program
    .command('check')
    .description('validate a scenario file (and its robot and world) and print every problem')
    .argument('<scenario>', 'scenario YAML file')
    .action(async (file: string) => {
      const scenario = loadScenario(file);
      // Loading the world proves the MJCF and every name the scenario and robot refer to.
      const world = await World.load(scenario.worldPath);
      try {
        world.id('body', scenario.task.object);
        if (scenario.task.zone.geom) world.id('geom', scenario.task.zone.geom);
        world.id('site', scenario.robotConfig.tcp_site);
        for (const j of scenario.robotConfig.joints) {
          world.id('joint', j.name);
          world.id('actuator', j.actuator);
        }
      } finally {
        world.dispose();
      }
      console.log(`${file}: ok (${scenario.name}: robot ${scenario.robotConfig.name}, ${Object.keys(scenario.policy.params).length} parameters)`);
    });

  program
    .command('schema')
    .description('print the JSON Schema of scenario files')
    .action(() => console.log(JSON.stringify(scenarioJsonSchema(), null, 2)));

  program
    .command('episode')
    .description('run one episode and print its metrics')
    .argument('<scenario>', 'scenario YAML file')
    .requiredOption('--seed <n>', 'episode seed', parseInteger)
    .option('--policy <file>', 'policy JSON file (default: the scenario defaults)')
    .option('--json', 'print {success, score, metrics} as JSON on stdout')
    .action(async (file: string, opts: { seed: number; policy?: string; json?: boolean }) => {
      const scenario = loadScenario(file);
      const policy = choosePolicy(opts.policy, scenario);
      const runner = await EpisodeRunner.create(scenario);
      try {
        const run = await runner.run(policy, opts.seed);
        if (opts.json) {
          console.log(JSON.stringify({ success: run.success, score: run.score, breakdown: run.breakdown, metrics: run.metrics }));
          return;
        }
        console.log(`episode ${scenario.name} seed ${opts.seed}: ${run.metrics.outcome}, score ${fixed(run.score)} (${fixed(run.wallTime, 3)} s wall)\n`);
        console.log(table(['metric', 'value'], Object.entries(run.metrics).map(([k, v]) => [k, typeof v === 'number' ? fixed(v) : String(v)])));
        console.log(`\n${table(['score term', 'value'], Object.entries(run.breakdown).map(([k, v]) => [k, fixed(v)]))}`);
      } finally {
        await runner.close();
      }
    });

  program
    .command('eval')
    .description('run a policy on a range of seeds and print its success rate and score')
    .argument('<scenario>', 'scenario YAML file')
    .requiredOption('--seeds <A..B>', 'seeds A to B inclusive, e.g. 0..63')
    .option('--policy <file>', 'policy JSON file (default: the scenario defaults)')
    .option('--workers <n>', 'worker threads (default: one per core)', parseInteger)
    .option('--json', 'print {success_rate, score_mean, score_std, episodes} as JSON on stdout')
    .action(async (file: string, opts: { seeds: string; policy?: string; workers?: number; json?: boolean }) => {
      const scenario = loadScenario(file);
      const policy = choosePolicy(opts.policy, scenario);
      const seeds = parseSeedRange(opts.seeds);
      const pool = await EvaluatorPool.create(scenario.file, { workers: opts.workers });
      const bar = progress('eval', seeds.length, 'success {success}');
      let done = 0;
      let successes = 0;
      try {
        const results = await pool.evaluate(
          seeds.map((seed) => ({ policy, seed })),
          (r) => {
            done++;
            if (r.ok && r.success) successes++;
            bar.update(done, { success: percent(successes / done) });
          },
        );
        bar.stop();
        const episodes = results.map((r) =>
          r.ok
            ? { seed: r.seed, success: r.success, score: r.score, outcome: r.metrics.outcome }
            : { seed: r.seed, success: false, score: 0, outcome: 'crash', reason: r.reason },
        );
        const scores = episodes.map((e) => e.score);
        const { mean, std } = meanStd(scores);
        const successRate = episodes.filter((e) => e.success).length / episodes.length;
        if (opts.json) {
          console.log(JSON.stringify({ success_rate: successRate, score_mean: mean, score_std: std, episodes }));
          return;
        }
        const outcomes = new Map<string, number>();
        for (const e of episodes) outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1);
        console.log(`eval ${scenario.name} seeds ${opts.seeds} (${episodes.length} episodes)`);
        console.log(`success_rate: ${fixed(successRate)}`);
        console.log(`score_mean:   ${fixed(mean)}`);
        console.log(`score_std:    ${fixed(std)}`);
        console.log(`outcomes:     ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
      } finally {
        bar.stop();
        await pool.close();
      }
    });
}

function choosePolicy(file: string | undefined, scenario: LoadedScenario): PolicyFile {
  return file ? loadPolicyFile(file, scenario) : defaultPolicy(scenario);
}

export function parseInteger(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`'${text}' must be a whole number of 0 or more.`);
  return n;
}

/** Prints a validation error as one line per problem. */
export function describeError(error: unknown): string {
  if (error instanceof ValidationError) return error.problems.map(formatProblem).join('\n');
  return error instanceof Error ? error.message : String(error);
}
