/**
 * `npm start`'s study as a user runs it: `arbor run scenarios/pick-place.yaml` in a child process
 * (start-up, search, validation), once per researcher seed. Reports the wall time and the
 * validation success of each, the median and the worst, and how many reached 90%. Also the
 * training episodes until the best reaches 90% validation, with CMA-ES's earlier start (before:
 * σ0 = 0.3, no racing) and the scenario's current one (after), on the same seeds.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { defaultStudyConfig } from '../src/study/config.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { benchDb, untilTarget } from './until-target.ts';

const SCENARIO = 'scenarios/pick-place.yaml';
const SEEDS = (process.env.ARBOR_BENCH_START_SEEDS ?? '1,2,3,4,5').split(',').map(Number);
const TARGET = 0.9;
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-start-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`# npm start: arbor run ${SCENARIO}, one process per researcher seed, all cores`);
const walls: number[] = [];
let reached = 0;
for (const seed of SEEDS) {
  const started = performance.now();
  const { stdout } = await run(process.execPath, ['bin/arbor.js', 'run', SCENARIO, '--seed', String(seed), '--db', join(dir, `start-${seed}.db`), '--json'], { maxBuffer: 1 << 26 });
  const wall = (performance.now() - started) / 1000;
  const out = JSON.parse(stdout) as { stop_reason: string; validation: { success_rate: number } | null; candidates: { n_episodes: number | null }[] };
  const validation = out.validation?.success_rate ?? 0;
  walls.push(wall);
  if (validation >= TARGET) reached++;
  console.log(`seed ${seed}: ${wall.toFixed(1)} s wall, validation ${(validation * 100).toFixed(1)}%, stopped by ${out.stop_reason}, ${out.candidates.length} candidates`);
}
console.log(`npm_start_wall_s_median:  ${median(walls).toFixed(1)}   (target <= 60 s with >= ${TARGET * 100}% validation)`);
console.log(`npm_start_wall_s_worst:   ${Math.max(...walls).toFixed(1)}`);
console.log(`npm_start_reached_90pct:  ${reached}/${SEEDS.length} seeds`);

console.log(`\n# training episodes until the best reaches ${TARGET * 100}% validation (CMA-ES, same seeds)`);
const scenario = await loadScenario(SCENARIO);
const pool = await EvaluatorPool.create(scenario.file);
const now = defaultStudyConfig(scenario);
const { from, count } = now.validation;
const validationSeeds = Array.from({ length: count }, (_, i) => from + i);
const variants = {
  before: { sigma0: 0.3, racing: false, batch: undefined },
  after: { sigma0: now.sigma0, racing: now.racing, batch: now.batch },
};
for (const [name, config] of Object.entries(variants)) {
  const figures: string[] = [];
  for (const seed of SEEDS) {
    const r = await untilTarget(scenario, pool, benchDb(dir, `${name}-${seed}`), { researcher: 'cmaes', seed, ...config }, { episodes: 2000 }, TARGET, validationSeeds);
    figures.push(r.missed ? `>${r.episodes}` : String(r.episodes));
  }
  console.log(`episodes_to_90pct_${name}: ${figures.join(' / ')}   (σ0 ${config.sigma0}, racing ${config.racing}, λ ${config.batch ?? 'default'})`);
}
await pool.close();
