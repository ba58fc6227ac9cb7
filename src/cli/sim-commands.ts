/** `arbor check`, `arbor schema`, `arbor episode`, `arbor eval`: the scenario and one-policy commands. */
import type { Command } from 'commander';
import { EpisodeRunner } from '../evaluation/episode.ts';
import { evaluatePolicy } from '../evaluation/evaluate.ts';
import { resultEvidence } from '../study/evidence.ts';
import { workerCount } from '../evaluation/pool.ts';
import { loadScenario, scenarioJsonSchema } from '../scenario/load.ts';
import { World } from '../sim/world.ts';
import { writeEpisodePictures } from '../scoring/pictures.ts';
import { fixed, percent, table } from './format.ts';
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
    .action(async (file: string) => {
      const scenario = await loadScenario(file);
      const robot = scenario.robotConfig;
      // The robot's own model must load on its own too: network links use it for kinematics.
      (await World.load(robot.mjcfPath)).dispose();
      // Loading the world proves the MJCF and every name the scenario, robot and task refer to.
      const world = await World.load(scenario.worldPath);
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
      } finally {
        world.dispose();
      }
      console.log(`${file}: ok (${scenario.name}: task ${scenario.task.kind}, robot ${robot.name}, ${Object.keys(scenario.policy.params).length} parameters)`);
    });
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
    .action(async (file: string, opts: { seed: number; policy?: string; json?: boolean; images?: string }) => {
      const scenario = await loadScenario(file);
      const policy = choosePolicy(opts.policy, scenario);
      const runner = await EpisodeRunner.create(scenario);
      try {
        const run = await runner.run(policy, opts.seed);
        const { summary } = resultEvidence(scenario, { ok: true, ...run });
        if (opts.images) process.stderr.write(`arbor: ${writeEpisodePictures(run.trace, scenario, opts.images).length} pictures written to ${opts.images}\n`);
        if (opts.json) {
          console.log(JSON.stringify({ success: run.success, score: run.score, outcome: run.outcome, terms: run.terms, metrics: run.metrics, ...(summary ? { summary } : {}) }));
          return;
        }
        console.log(`episode ${scenario.name} seed ${opts.seed}: ${run.outcome}, score ${fixed(run.score)} (${fixed(run.wallTime, 3)} s wall)\n`);
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
    .option('--json', 'print {success_rate, score_mean, score_std, episodes} as JSON on stdout')
    .action(async (file: string, opts: { seeds: number[]; policy?: string; workers?: number; json?: boolean }) => {
      const scenario = await loadScenario(file);
      const policy = choosePolicy(opts.policy, scenario);
      const seeds = opts.seeds;
      const sizing = workerCount({ workers: opts.workers, jobs: seeds.length });
      if (sizing.capped) process.stderr.write(`arbor: ${sizing.capped}\n`);
      const bar = progress('eval', seeds.length, 'success {success}');
      let done = 0;
      let successes = 0;
      try {
        const result = await evaluatePolicy(scenario, policy, seeds, sizing.count, (r) => {
          done++;
          if (r.ok && r.success) successes++;
          bar.update(done, { success: percent(successes / done) });
        });
        bar.stop();
        if (opts.json) {
          console.log(JSON.stringify(result));
          return;
        }
        const { episodes } = result;
        const outcomes = new Map<string, number>();
        for (const e of episodes) outcomes.set(e.outcome, (outcomes.get(e.outcome) ?? 0) + 1);
        console.log(`eval ${scenario.name} seeds ${seeds[0]}..${seeds.at(-1)} (${episodes.length} episodes)`);
        console.log(`success_rate: ${fixed(result.success_rate)}`);
        console.log(`score_mean:   ${fixed(result.score_mean)}`);
        console.log(`score_std:    ${fixed(result.score_std)}`);
        console.log(`outcomes:     ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}`);
      } finally {
        bar.stop();
      }
    });
}
