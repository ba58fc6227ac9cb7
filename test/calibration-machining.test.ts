import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultPolicy, type PolicyFile } from '../src/policy/file.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';

// The machining scenarios are calibrated like pick-and-place: their defaults are poor but not
// hopeless, and a tuned policy shows each task is solvable. Physics, controller or scorer changes
// that break this fail here.
const seeds = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe.each(['machining-edge', 'machining-contour'])('%s calibration', (name) => {
  const file = `scenarios/${name}.yaml`;
  const rate = async (policy: PolicyFile, from: number) => {
    const pool = await EvaluatorPool.create(file, { workers: 2 });
    try {
      const results = await pool.evaluate(seeds(from, 64).map((seed) => ({ policy, seed })));
      expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.reason)).toEqual([]);
      return results.filter((r) => r.ok && r.success).length / 64;
    } finally {
      await pool.close();
    }
  };

  it('the defaults succeed on 5% to 40% of seeds 0..63', async () => {
    const success = await rate(defaultPolicy(await loadScenario(file)), 0);
    expect(success).toBeGreaterThanOrEqual(0.05);
    expect(success).toBeLessThanOrEqual(0.4);
  }, 180_000);

  it('the tuned policy succeeds on at least 90% of seeds 1000..1063', async () => {
    const success = await rate(JSON.parse(readFileSync(`scenarios/${name}.tuned.json`, 'utf8')) as PolicyFile, 1000);
    expect(success).toBeGreaterThanOrEqual(0.9);
  }, 180_000);
});
