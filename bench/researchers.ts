/**
 * Researchers compared on the held-out variant of pick-and-place (zone moved, another calibration
 * error, heavier cubes: scenarios/pick-place-heldout.yaml): training episodes (probes included)
 * until the best reaches 90% validation success, and dollars for Claude. Claude runs only when
 * ANTHROPIC_API_KEY is set (ANTHROPIC_BASE_URL and ARBOR_BENCH_MODEL are honoured); otherwise it
 * is reported as not run, never estimated.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import type { StudyConfig } from '../src/study/config.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { benchDb, describeReached, untilTarget, type Reached } from './until-target.ts';

const TARGET = 0.9;
const SEED = Number(process.env.ARBOR_BENCH_SEED ?? 1);
const CAP = Number(process.env.ARBOR_BENCH_HELDOUT_EPISODES ?? 2000);
const CLAUDE_CAP = Number(process.env.ARBOR_BENCH_CLAUDE_EPISODES ?? 600);
const CLAUDE_DOLLARS = Number(process.env.ARBOR_BENCH_CLAUDE_MAX_USD ?? 5);
const scenario = await loadScenario('scenarios/pick-place-heldout.yaml');
const validationSeeds = Array.from({ length: 64 }, (_, i) => 1000 + i);
const pool = await EvaluatorPool.create(scenario.file);
const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-researchers-'));

const runs: [string, Partial<StudyConfig>, { episodes: number; dollars?: number }][] = [
  ['cmaes', { researcher: 'cmaes', seed: SEED }, { episodes: CAP }],
  ['random', { researcher: 'random', seed: SEED }, { episodes: CAP }],
];
const claude = process.env.ANTHROPIC_API_KEY ? true : false;
if (claude) {
  runs.push(['claude', { researcher: 'claude', seed: SEED, model: process.env.ARBOR_BENCH_MODEL, kinds: ['params', 'code'], batch: 4, probes: 4 }, { episodes: CLAUDE_CAP, dollars: CLAUDE_DOLLARS }]);
}

console.log(`# researchers on ${scenario.name}: training episodes until the best reaches ${TARGET * 100}% validation success (seeds 1000..1063), ${pool.size} workers, cap ${CAP} (cmaes, random), ${CLAUDE_CAP} and $${CLAUDE_DOLLARS} (claude)`);
const results: Record<string, Reached> = {};
for (const [name, overrides, cap] of runs) {
  results[name] = await untilTarget(scenario, pool, benchDb(dir, name), overrides, cap, TARGET, validationSeeds);
  console.log(describeReached(name.padEnd(6), results[name]));
}
if (!claude) console.log('claude: not run (ANTHROPIC_API_KEY is not set)');
console.log('---');
for (const [name, r] of Object.entries(results)) {
  console.log(`${name}_episodes_to_90: ${r.missed ? `>${r.episodes}` : r.episodes}`);
  console.log(`${name}_best_validation: ${r.validation.toFixed(3)}`);
}
if (claude) console.log(`claude_dollars: ${results.claude.dollars.toFixed(4)}`);
else console.log('claude_episodes_to_90: not run');
await pool.close();
