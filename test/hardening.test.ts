/**
 * Issue 8's cases that concern scenario values, seeds, workers and policy names, each the way a
 * user meets it (the CLI) and at the function that guards it. Each failed on the earlier main.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resolvePolicy } from '../src/policy/file.ts';
import { workerCount } from '../src/evaluation/pool.ts';
import { createStudy } from '../src/study/study.ts';
import { defaultStudyConfig } from '../src/study/config.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { ValidationError } from '../src/scenario/validate.ts';
import { Store } from '../src/store/store.ts';
import { scenario } from './helpers.ts';

const run = promisify(execFile);
const arbor = (args: string[]) => run(process.execPath, ['bin/arbor.js', ...args], { maxBuffer: 1 << 24 });
const fails = (args: string[]) => arbor(args).then(() => undefined, (e: { code: number; stderr: string }) => e);
const root = resolve('.');
const sc = await scenario();

/** A copy of the pick-place scenario with `edit` applied, in a temp dir; returns its path. */
function variant(edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-hard-'));
  const text = readFileSync('scenarios/pick-place.yaml', 'utf8').replace('robot: ../robots/', `robot: ${root}/robots/`).replace('world: ../sim/', `world: ${root}/sim/`);
  const file = join(dir, 'variant.yaml');
  writeFileSync(file, edit(text));
  return file;
}

async function problems(file: string): Promise<ValidationError> {
  const error = await loadScenario(file).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('3. one scenario value must not exhaust memory; a failed run never stays running', () => {
  it('refuses seeds_per_candidate: 1e9 at check, naming the field and the bound', async () => {
    const file = variant((t) => t.replace('seeds_per_candidate: 8', 'seeds_per_candidate: 1e9'));
    const error = await fails(['check', file]);
    expect(error?.code).toBe(1);
    expect(error?.stderr).toMatch(/budget\.seeds_per_candidate: must be at most 10000 \(seeds per candidate\)/);
  });

  it('refuses a study whose episode budget cannot hold the baseline generation, before running anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-hard-'));
    const error = await fails(['run', 'scenarios/pick-place.yaml', '--budget-episodes', '2', '--db', join(dir, 'a.db')]);
    expect(error?.stderr).toMatch(/episode budget \(2\) is smaller than the baseline generation \(8 seeds per candidate\)/);
    expect(() => createStudy(Store.open(join(dir, 'b.db')), sc, defaultStudyConfig(sc, { budget: { candidates: 10, episodes: 2, wallTime: 60 } }))).toThrow(/raise --budget-episodes/);
  });

  it('marks a study failed, with the reason in its log, when its world cannot be loaded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-hard-'));
    // A world the scenario check cannot see is broken: MuJoCo rejects it when the workers load it.
    const world = join(dir, 'broken.xml');
    writeFileSync(world, `<mujoco><include file="${root}/robots/arm6/model.xml"/><worldbody><geom type="box" size="0.1 0.1"/></worldbody></mujoco>`);
    const file = variant((t) => t.replace(`world: ${root}/sim/pick_place.xml`, `world: ${world}`));
    const db = join(dir, 'a.db');
    const error = await fails(['run', file, '--db', db, '--workers', '1']);
    expect(error?.code).toBe(1);
    const store = Store.open(db, { readonly: true });
    const [study] = store.studies();
    expect(study.status).toBe('failed');
    expect(store.events(study.id).at(-1)?.message).toMatch(/The run failed: .*broken\.xml/);
    store.close();
  });
});

describe('4. --workers is capped by the jobs and the cores, and says so', () => {
  it('caps 1000 workers for 2 jobs at 2, and by the cores otherwise', async () => {
    expect(workerCount({ workers: 1000, jobs: 2 })).toEqual({ count: 2, capped: '--workers 1000 is capped at 2: there are only 2 episodes to run.' });
    const cores = workerCount({}).count;
    expect(workerCount({ workers: 1000 }).capped).toMatch(new RegExp(`capped at ${cores}: this machine has ${cores} cores`));
    expect(() => workerCount({ workers: 0 })).toThrow(/must be a positive whole number/);
    const { stderr } = await arbor(['eval', 'scenarios/pick-place.yaml', '--seeds', '1000..1001', '--workers', '1000', '--json']);
    expect(stderr).toMatch(/--workers 1000 is capped at 2: there are only 2 episodes to run\./);
  });
});

describe('5. parameter names from Object.prototype are not parameters', () => {
  it('refuses toString, valueOf, constructor and __proto__ in a policy, naming each', () => {
    for (const text of ['{"kind":"params","params":{"toString":0.1,"valueOf":-1e300}}', '{"kind":"params","params":{"__proto__":0.1}}', '{"kind":"params","params":{"constructor":1}}']) {
      const error = (() => {
        try {
          resolvePolicy(JSON.parse(text), sc, 'mine.json');
        } catch (e) {
          return e as ValidationError;
        }
      })();
      expect(error, text).toBeInstanceOf(ValidationError);
      for (const name of Object.keys(JSON.parse(text).params)) expect(error!.message).toMatch(new RegExp(`params\\.${name}: is not a parameter`));
    }
  });

  it('refuses them as parameter names in a scenario', async () => {
    const error = await problems(variant((t) => t.replace('    ik_damping:', '    toString:        { min: 0, max: 1, default: 0 }\n    ik_damping:')));
    expect(error.problems.some((p) => p.path === 'policy.params.toString' && /reserved JavaScript name/.test(p.message))).toBe(true);
  });

  it('refuses them on the command line too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-hard-'));
    const policy = join(dir, 'p.json');
    writeFileSync(policy, '{"kind":"params","params":{"toString":0.1,"valueOf":-1e300}}');
    const error = await fails(['eval', 'scenarios/pick-place.yaml', '--seeds', '0..1', '--policy', policy]);
    expect(error?.stderr).toMatch(/p\.json: params\.toString: is not a parameter of scenario 'pick-place'/);
  });
});

describe('8. physically invalid scenarios fail check with hints', () => {
  it.each([
    ['object_mass: [0.1, 0.8]', 'object_mass: [0, 0]', 'task.randomization.object_mass.0', /at least 0.001 kg/],
    ['object_half_size: [0.02, 0.03]', 'object_half_size: [-0.02, 0.03]', 'task.randomization.object_half_size.0', /at least 0.002 m/],
    ['object_friction: [0.5, 1.2]', 'object_friction: [-1, 1.2]', 'task.randomization.object_friction.0', /at least 0.01/],
    ['object_x: [0.38, 0.58]', 'object_x: [1e308, 1e308]', 'task.randomization.object_x.0', /at most 10 m/],
  ])('%s → %s', async (from, to, path, message) => {
    const error = await problems(variant((t) => t.replace(from, to)));
    const problem = error.problems.find((p) => p.path === path);
    expect(problem?.message).toMatch(message);
    expect(problem?.hint).toBe('change the value to fit the range');
    expect(problem?.line).toBeGreaterThan(0);
  });
});

describe('9. seeds are whole numbers in a stated range; others are refused', () => {
  it.each(['4294967301', '99999999999999999999', '-1', '1.5'])('--seed %s', async (seed) => {
    const error = await fails(['episode', 'scenarios/pick-place.yaml', '--seed', seed]);
    expect(error?.code).toBe(1);
    expect(error?.stderr).toMatch(new RegExp(`option '--seed <n>' argument '${seed.replace('.', '\\.')}' is invalid\\. '.*' must be a whole number from 0 to 2147483647`));
  });

  it('a seed range past the limit is refused too', async () => {
    const error = await fails(['eval', 'scenarios/pick-place.yaml', '--seeds', '4294967290..4294967301']);
    expect(error?.stderr).toMatch(/--seeds <A\.\.B>.*seeds must be whole numbers from 0 to 2147483647/);
  });
});
