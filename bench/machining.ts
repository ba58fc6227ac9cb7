/**
 * The machining scenarios' default studies (CMA-ES, the budget each scenario sets): the defaults'
 * validation success, and the training episodes and seconds until the best reaches 90% on the
 * validation seeds (see ./until-target.ts). Episodes are what the figure is about; seconds depend
 * on what else the machine runs, so the load average is printed beside them.
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPolicy } from '../src/policy/file.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { benchDb, untilTarget } from './until-target.ts';

const TARGET = 0.9;
const SEEDS = (process.env.ARBOR_BENCH_SEEDS ?? '1').split(',').map(Number);
const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-machining-'));
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

for (const name of ['machining-edge', 'machining-contour']) {
  const scenario = await loadScenario(`scenarios/${name}.yaml`);
  const pool = await EvaluatorPool.create(scenario.file);
  const b = scenario.budget;
  console.log(`# ${name}: default study (cmaes, ${b.candidates} candidates x ${b.seeds_per_candidate} seeds), ${pool.size} workers, until ${TARGET * 100}% validation success on seeds ${b.validation_seeds.from}..${b.validation_seeds.from + b.validation_seeds.count - 1}`);
  const validationSeeds = Array.from({ length: b.validation_seeds.count }, (_, i) => b.validation_seeds.from + i);
  try {
    const baseline = await pool.evaluate(validationSeeds.map((seed) => ({ policy: defaultPolicy(scenario), seed })));
    const baselineRate = baseline.filter((r) => r.ok && r.success).length / baseline.length;
    for (const seed of SEEDS) {
      const before = load();
      // The default budget's candidates, each on its seeds, bound the episodes the default study may use.
      const cap = { episodes: b.candidates * b.seeds_per_candidate };
      const r = await untilTarget(scenario, pool, benchDb(dir, `${name}-${seed}`), { seed }, cap, TARGET, validationSeeds);
      console.log(
        `${name} seed ${seed}: defaults ${(baselineRate * 100).toFixed(1)}% -> ${r.missed ? `not reached within ${r.episodes} training episodes (best ${(r.validation * 100).toFixed(1)}%)` : `${(r.validation * 100).toFixed(1)}% after ${r.episodes} training episodes`}, ${r.seconds.toFixed(0)} s search wall time (load average ${before} -> ${load()})`,
      );
    }
  } finally {
    await pool.close();
  }
}
