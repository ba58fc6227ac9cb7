import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../src/policy/file.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { SCENARIO_PATH, scenario, tunedPolicy } from './helpers.ts';

// The scenario is calibrated so research has room: its defaults are poor but not hopeless, and
// a tuned policy shows the task is solvable. Physics or controller changes that break this fail here.
let pool: EvaluatorPool;
beforeAll(async () => {
  pool = await EvaluatorPool.create(SCENARIO_PATH, { workers: 2 });
});
afterAll(() => pool.close());

const seeds = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

describe('pick-place calibration', () => {
  it('the defaults succeed on 5% to 40% of seeds 0..63', async () => {
    const policy = defaultPolicy(await scenario());
    const results = await pool.evaluate(seeds(0, 64).map((seed) => ({ policy, seed })));
    expect(results.every((r) => r.ok)).toBe(true);
    const rate = results.filter((r) => r.ok && r.success).length / 64;
    expect(rate).toBeGreaterThanOrEqual(0.05);
    expect(rate).toBeLessThanOrEqual(0.4);
  });

  it('the tuned policy succeeds on at least 90% of seeds 1000..1063', async () => {
    const policy = tunedPolicy();
    const results = await pool.evaluate(seeds(1000, 64).map((seed) => ({ policy, seed })));
    const rate = results.filter((r) => r.ok && r.success).length / 64;
    expect(rate).toBeGreaterThanOrEqual(0.9);
  });
});
