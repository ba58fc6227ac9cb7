/**
 * CMA-ES against random search on the pick-and-place scenario: training episodes and wall time
 * until the best candidate reaches 90% success on the validation seeds (1000..1063), which no
 * candidate trains on (see ./until-target.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvaluatorPool } from '../src/research/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { untilTarget } from './until-target.ts';

const TARGET = 0.9;
const CAP = { cmaes: Number(process.env.ARBOR_BENCH_CMAES_EPISODES ?? 2000), random: Number(process.env.ARBOR_BENCH_RANDOM_EPISODES ?? 4000) };
const SEEDS = (process.env.ARBOR_BENCH_SEEDS ?? '1,2').split(',').map(Number);
const scenario = await loadScenario('scenarios/pick-place.yaml');
const pool = await EvaluatorPool.create(scenario.file);
const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-'));

/** Training episodes until the best of a `researcher` study reaches the target (its episodes capped at `cap`). */
function research(researcher: 'cmaes' | 'random', seed: number, cap: number) {
  return untilTarget(scenario, pool, dir, `${researcher}-${seed}`, TARGET, { researcher, seed, budget: { candidates: 100_000, episodes: cap, wallTime: 100_000 } });
}

console.log(`# research: training episodes until the best reaches ${TARGET * 100}% validation success (seeds 1000..1063), ${pool.size} workers, caps ${CAP.cmaes} (cmaes) and ${CAP.random} (random) training episodes`);
const totals: Record<string, number[]> = { cmaes: [], random: [] };
const used: Record<string, number[]> = { cmaes: [], random: [] };
for (const researcher of ['cmaes', 'random'] as const) {
  for (const seed of SEEDS) {
    const r = await research(researcher, seed, CAP[researcher]);
    const missed = r.missed === true;
    totals[researcher].push(missed ? Infinity : r.episodes);
    used[researcher].push(r.episodes);
    console.log(`${researcher.padEnd(6)} seed ${seed}: ${missed ? `not reached within ${r.episodes}` : r.episodes} training episodes, ${r.seconds.toFixed(1)} s search wall time, best validation ${(r.validation * 100).toFixed(1)}%`);
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
