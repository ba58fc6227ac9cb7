import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvaluatorPool } from '../src/research/pool.ts';
import { RandomResearcher } from '../src/research/random.ts';
import { spaceOf, type Proposal, type Researcher, type Told } from '../src/research/researcher.ts';
import { createStudy, defaultStudyConfig, runStudy, trainSeeds } from '../src/research/study.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';
import { smallScenario } from './study-helpers.ts';

const { dir, file } = smallScenario();
const scenario = loadScenario(file);
let pool: EvaluatorPool;
beforeAll(async () => {
  pool = await EvaluatorPool.create(file, { workers: 2 });
});
afterAll(() => pool.close());

describe('the study loop', () => {
  it('runs baseline, generations and validation, and stores every episode once', async () => {
    const store = Store.open(join(dir, 'a.db'));
    const config = defaultStudyConfig(scenario, { researcher: 'random', batch: 3 });
    const study = createStudy(store, scenario, config);
    const progress: number[] = [];
    const summary = await runStudy(store, study.id, scenario, pool, { onProgress: (p) => progress.push(p.episodes) });
    expect(summary.status).toBe('done');
    const candidates = store.candidates(study.id);
    // Budget 12 candidates: the baseline, then generations of 3 while they fit.
    expect(candidates.length).toBe(10);
    expect(candidates.every((c) => c.status !== 'pending')).toBe(true);
    expect(candidates[0].status).toBe('keep');
    // Each generation: 3 proposals and the incumbent on the generation's 4 seeds.
    const train = store.episodes({ studyId: study.id, split: 'train' });
    expect(train.length).toBe(4 + 3 * (3 + 1) * 4);
    const keys = new Set(train.map((e) => `${e.candidateId}/${e.seed}`));
    expect(keys.size).toBe(train.length);
    for (const c of candidates.slice(1)) {
      const seeds = store.episodes({ candidateId: c.id, split: 'train' }).map((e) => e.seed).sort((a, b) => a - b);
      // A kept candidate is the incumbent later and also runs on later generations' seeds.
      if (c.status === 'keep') expect(seeds).toEqual(expect.arrayContaining(trainSeeds(config, c.generation)));
      else expect(seeds).toEqual(trainSeeds(config, c.generation));
    }
    expect(summary.validation?.episodes).toBe(8);
    expect(summary.validation?.seeds).toBe('1000..1007');
    expect(store.episodes({ studyId: study.id, split: 'validation' }).every((e) => e.seed >= 1000)).toBe(true);
    expect(progress.at(-1)).toBe(train.length);
    expect(store.study(study.id)?.status).toBe('done');
    store.close();
  });

  it('records a crashing candidate as a crash, with its reason, and goes on', async () => {
    const store = Store.open(join(dir, 'b.db'));
    const config = defaultStudyConfig(scenario, { researcher: 'random', batch: 2 });
    const study = createStudy(store, scenario, config);
    const space = spaceOf(scenario.policy.params);
    // Generation 1 proposes a policy without its parameters: the controller throws in the worker.
    const researcher = (state: unknown): Researcher => {
      const inner = new RandomResearcher(space, 2, 5, state);
      let asked = 0;
      return {
        name: 'crashy',
        ask: (): Proposal[] => {
          const proposals = inner.ask();
          return asked === 0 ? [{ params: {}, rationale: 'broken on purpose' }, proposals[1]] : proposals;
        },
        tell: (results: Told[]) => {
          asked++;
          inner.tell(results);
        },
        state: () => inner.state(),
      };
    };
    const summary = await runStudy(store, study.id, scenario, pool, { researcher });
    expect(summary.status).toBe('done');
    const crashed = store.candidates(study.id).find((c) => c.rationale === 'broken on purpose')!;
    expect(crashed.status).toBe('crash');
    expect(crashed.nCrashes).toBe(4);
    const episodes = store.episodes({ candidateId: crashed.id });
    expect(episodes.every((e) => e.status === 'crash' && /needs parameters/.test(e.crashReason ?? ''))).toBe(true);
    // The study went on past the crash: later generations ran and were decided.
    expect(Math.max(...store.candidates(study.id).map((c) => c.generation))).toBeGreaterThan(crashed.generation);
    store.close();
  });

  it('stops on abort after the episodes in flight, and resume finishes with nothing run twice', async () => {
    const store = Store.open(join(dir, 'c.db'));
    const config = defaultStudyConfig(scenario, { researcher: 'cmaes' });
    const study = createStudy(store, scenario, config);
    const abort = new AbortController();
    const stoppedPool = await EvaluatorPool.create(file, { workers: 2 });
    const first = await runStudy(store, study.id, scenario, stoppedPool, {
      signal: abort.signal,
      onProgress: (p) => {
        if (p.episodes >= 10) abort.abort();
      },
    });
    await stoppedPool.close();
    expect(first.status).toBe('stopped');
    expect(store.study(study.id)?.status).toBe('stopped');
    const before = store.episodes({ studyId: study.id });
    expect(before.length).toBeGreaterThanOrEqual(10);
    const second = await runStudy(store, study.id, scenario, pool);
    expect(second.status).toBe('done');
    const after = store.episodes({ studyId: study.id });
    for (const e of before) expect(after.find((a) => a.id === e.id)?.score).toBe(e.score);
    expect(new Set(after.map((e) => `${e.candidateId}/${e.split}/${e.seed}`)).size).toBe(after.length);
    store.close();
  });
});

describe('researchers', () => {
  const space = spaceOf(scenario.policy.params);
  it('random search stays in bounds and proposes the same again from a saved state', () => {
    const r = new RandomResearcher(space, 5, 3);
    const a = r.ask();
    expect(r.ask()).toEqual(a);
    for (const p of a) space.names.forEach((n, i) => expect(p.params[n] >= space.lower[i] && p.params[n] <= space.upper[i]).toBe(true));
    r.tell(a.map((proposal) => ({ proposal, score: 0.5 })));
    const restored = new RandomResearcher(space, 5, 999, JSON.parse(JSON.stringify(r.state())));
    expect(restored.ask()).toEqual(r.ask());
    expect(r.ask()).not.toEqual(a);
  });
});
