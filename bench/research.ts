/**
 * CMA-ES against random search on the pick-and-place scenario: training episodes and wall time
 * until the best candidate reaches 90% success on the validation seeds (1000..1063), which no
 * candidate trains on (bench/until-target.ts says how).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { benchDb, describeReached, untilTarget } from './until-target.ts';

const TARGET = 0.9;
const CAP = { cmaes: Number(process.env.ARBOR_BENCH_CMAES_EPISODES ?? 2000), random: Number(process.env.ARBOR_BENCH_RANDOM_EPISODES ?? 4000) };
const SEEDS = (process.env.ARBOR_BENCH_SEEDS ?? '1,2').split(',').map(Number);
const scenario = await loadScenario('scenarios/pick-place.yaml');
const validationSeeds = Array.from({ length: 64 }, (_, i) => 1000 + i);
const pool = await EvaluatorPool.create(scenario.file);
const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-'));

console.log(`# research: training episodes until the best reaches ${TARGET * 100}% validation success (seeds 1000..1063), ${pool.size} workers, caps ${CAP.cmaes} (cmaes) and ${CAP.random} (random) training episodes`);
const totals: Record<string, number[]> = { cmaes: [], random: [] };
const used: Record<string, number[]> = { cmaes: [], random: [] };
for (const researcher of ['cmaes', 'random'] as const) {
  for (const seed of SEEDS) {
    const r = await untilTarget(scenario, pool, benchDb(dir, `${researcher}-${seed}`), { researcher, seed }, { episodes: CAP[researcher] }, TARGET, validationSeeds);
    totals[researcher].push(r.missed ? Infinity : r.episodes);
    used[researcher].push(r.episodes);
    console.log(describeReached(`${researcher.padEnd(6)} seed ${seed}`, r));
  }
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
// A seed that missed counts with the episodes it used: a lower bound on what it would need.
const bound = (r: string) => totals[r].map((e, i) => (Number.isFinite(e) ? e : used[r][i]));
const cmaesMean = mean(totals.cmaes);
const randomMissed = totals.random.some((e) => !Number.isFinite(e));
if (!Number.isFinite(cmaesMean)) {
  console.log('cmaes_over_random_episodes: n/a (CMA-ES missed the target within its cap on some seed)');
} else {
  const ratio = cmaesMean / mean(bound('random'));
  console.log(`cmaes_over_random_episodes: ${randomMissed ? '< ' : ''}${ratio.toFixed(2)}   (${randomMissed ? 'random search missed the target on some seeds, counted with the episodes it used; ' : ''}target <= 0.33)`);
}
await pool.close();
