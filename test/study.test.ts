import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { RandomResearcher } from '../src/researchers/random.ts';
import { spaceOf, type Outcome, type Proposal, type Researcher, type StudyHistory } from '../src/researchers/researcher.ts';
import { createStudy, runStudy, type RunOptions } from '../src/study/study.ts';
import { defaultStudyConfig, trainSeeds, type StudyConfig } from '../src/study/config.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';
import { smallScenario } from './study-helpers.ts';

const REACH = 'test/fixtures/tasks/reach/reach.yaml';
const { dir, file } = smallScenario();
const scenario = await loadScenario(file);
const reach = await loadScenario(REACH);
let pool: EvaluatorPool;
let reachPool: EvaluatorPool;
beforeAll(async () => {
  [pool, reachPool] = await Promise.all([EvaluatorPool.create(file, { workers: 2 }), EvaluatorPool.create(REACH, { workers: 2 })]);
});
afterAll(() => Promise.all([pool.close(), reachPool.close()]));

/** A researcher that records what it was asked with and told, around an inner one. */
function spy(inner: Researcher, edit?: (proposals: Proposal[], generation: number) => Proposal[]) {
  const asked: StudyHistory[] = [];
  const told: Outcome[][] = [];
  const researcher: Researcher = {
    name: 'spy',
    get batchSize() {
      return inner.batchSize;
    },
    ask: async (history) => {
      asked.push(history);
      const proposals = await inner.ask(history);
      return edit ? edit(proposals, history.generation) : proposals;
    },
    tell: (outcomes) => {
      told.push(outcomes);
      return inner.tell(outcomes);
    },
    state: () => inner.state(),
  };
  return { researcher, asked, told };
}

describe('the study loop', () => {
  it('runs baseline, generations and validation, stores every episode once, and says why it stopped', async () => {
    const store = Store.open(join(dir, 'a.db'));
    const config = defaultStudyConfig(scenario, { researcher: 'random', batch: 3 });
    const study = createStudy(store, scenario, config);
    const progress: number[] = [];
    const summary = await runStudy(store, study.id, scenario, pool, { onProgress: (p) => progress.push(p.episodes) });
    expect(summary.status).toBe('done');
    expect(summary.stop_reason).toBe('budget-candidates');
    expect(store.study(study.id)?.stopReason).toBe('budget-candidates');
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
    expect(store.events(study.id).map((e) => e.kind)).toContain('stop');
    store.close();
  });

  it('records a crashing candidate as a crash, with its reason, and goes on (a task from a plug-in)', async () => {
    const store = Store.open(join(dir, 'b.db'));
    const config = defaultStudyConfig(reach, { researcher: 'random', batch: 2, seed: 3 });
    const study = createStudy(store, reach, config);
    const space = spaceOf(reach.policy.params);
    // Generation 1's first proposal sets explode = 0.9: its controller throws in the worker.
    const { researcher, told } = spy(new RandomResearcher(space, 2, 3), (proposals, generation) =>
      generation === 1 ? [{ kind: 'params', body: { params: { gain: 0.2, explode: 0.9 } }, rationale: 'broken on purpose' }, proposals[1]] : proposals,
    );
    const summary = await runStudy(store, study.id, reach, reachPool, { researcher: () => researcher });
    expect(summary.status).toBe('done');
    const crashed = store.candidates(study.id).find((c) => c.rationale === 'broken on purpose')!;
    expect(crashed.status).toBe('crash');
    expect(crashed.nCrashes).toBe(4);
    expect(crashed.note).toMatch(/exploded on purpose/);
    const episodes = store.episodes({ candidateId: crashed.id });
    expect(episodes.every((e) => e.status === 'crash' && /exploded on purpose/.test(e.crashReason ?? ''))).toBe(true);
    // The researcher was told: crash, with the reason.
    expect(told[0][0]).toMatchObject({ status: 'crash', score: 0, reason: expect.stringMatching(/exploded/) });
    // The study went on past the crash: later generations ran and were decided.
    expect(Math.max(...store.candidates(study.id).map((c) => c.generation))).toBeGreaterThan(crashed.generation);
    expect(summary.validation?.success_rate).toBeGreaterThan(0);
    store.close();
  });

  it('records an invalid proposal with its reason and never runs it; the researcher is told why', async () => {
    const store = Store.open(join(dir, 'inv.db'));
    const config = defaultStudyConfig(reach, { researcher: 'random', batch: 2, seed: 4 });
    const study = createStudy(store, reach, config);
    const space = spaceOf(reach.policy.params);
    const { researcher, told, asked } = spy(new RandomResearcher(space, 2, 4), (proposals, generation) =>
      generation === 1
        ? [
            { kind: 'params', body: { params: { gain: 7, toString: 1 } }, rationale: 'out of range' },
            { kind: 'code', body: { source: '' }, rationale: 'a kind this study does not allow' },
          ]
        : proposals,
    );
    await runStudy(store, study.id, reach, reachPool, { researcher: () => researcher });
    const invalid = store.candidates(study.id).filter((c) => c.generation === 1);
    expect(invalid.map((c) => c.status)).toEqual(['invalid', 'invalid']);
    expect(invalid[0].note).toMatch(/gain: = 7 is outside its range \[0\.01, 1\]/);
    expect(invalid[0].note).toMatch(/toString: is not a parameter/);
    expect(invalid[1].note).toMatch(/Kind 'code' is not allowed/);
    for (const c of invalid) expect(store.episodes({ candidateId: c.id })).toEqual([]);
    expect(told[0].map((o) => o.status)).toEqual(['invalid', 'invalid']);
    expect(told[0][0].reason).toMatch(/outside its range/);
    // The next generation's history carries those outcomes.
    expect(asked[1].last.map((o) => o.status)).toEqual(['invalid', 'invalid']);
    store.close();
  });

  it('races: a candidate clearly worse than the best after half its seeds runs no more of them', async () => {
    const store = Store.open(join(dir, 'race.db'));
    const config = defaultStudyConfig(reach, { researcher: 'random', batch: 2, seed: 6, racing: true, budget: { candidates: 3, episodes: 1000, wallTime: 600 } });
    const study = createStudy(store, reach, config);
    const space = spaceOf(reach.policy.params);
    // A tenth of the default gain never gets near the target; the defaults' own gain stays in the race.
    const { researcher, told } = spy(new RandomResearcher(space, 2, 6), () => [
      { kind: 'params', body: { params: { gain: 0.01 } }, rationale: 'too timid' },
      { kind: 'params', body: { params: { gain: 0.05 } }, rationale: 'the defaults again' },
    ]);
    await runStudy(store, study.id, reach, reachPool, { researcher: () => researcher });
    const [timid, same] = store.candidates(study.id).slice(1);
    // Episodes are stored as they finish, so two workers may store them in either order.
    expect(store.episodes({ candidateId: timid.id }).map((e) => e.seed).sort((a, b) => a - b)).toEqual(trainSeeds(config, 1).slice(0, 2).sort((a, b) => a - b));
    expect(timid).toMatchObject({ status: 'discard', nEpisodes: 2, note: expect.stringMatching(/dropped after 2 of 4 seeds.*racing/) });
    expect(store.episodes({ candidateId: same.id }).length).toBe(4);
    expect(told[0][0].reason).toMatch(/dropped after 2 of 4 seeds/);
    store.close();
  });

  it('stops early by patience, and by the target success rate, and says so', async () => {
    const store = Store.open(join(dir, 'p.db'));
    const patient = createStudy(store, reach, defaultStudyConfig(reach, { researcher: 'random', batch: 2, seed: 5, patience: 1, keepMargin: 1e9 }));
    const a = await runStudy(store, patient.id, reach, reachPool);
    expect(a.stop_reason).toBe('patience');
    expect(store.candidates(patient.id).length).toBe(3);
    // The defaults reach every target: once the baseline has two generations of seeds behind it
    // (the baseline's and the first generation's), nothing more is asked.
    const target = createStudy(store, reach, defaultStudyConfig(reach, { researcher: 'random', batch: 2, targetSuccess: 0.9, keepMargin: 1e9 }));
    const b = await runStudy(store, target.id, reach, reachPool);
    expect(b.stop_reason).toBe('target-success');
    expect(store.candidates(target.id).length).toBe(3);
    expect(b.validation?.episodes).toBe(8);
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

describe('a resumed study ends exactly as an uninterrupted one', () => {
  // Two generations of 3 fill the candidate budget: the last generation is the one interrupted.
  const config: Partial<StudyConfig> = { researcher: 'random', batch: 3, seed: 9, budget: { candidates: 7, episodes: 100_000, wallTime: 600 } };
  const table = (store: Store, id: string) =>
    store.exportRows(id).map((r) => ({ id: r.id, generation: r.generation, score: r.score, success: r.success_rate, status: r.status, description: r.description }));

  /** Runs a study to the end, interrupting it once where `interrupt` says, then resuming it. */
  async function runInterrupted(name: string, interrupt?: (abort: () => void) => RunOptions): Promise<{ rows: unknown; summary: unknown; interrupted: boolean }> {
    const store = Store.open(join(dir, `${name}.db`));
    const study = createStudy(store, scenario, defaultStudyConfig(scenario, config));
    let interrupted = false;
    if (interrupt) {
      const abort = new AbortController();
      const own = await EvaluatorPool.create(file, { workers: 2 });
      const first = await runStudy(store, study.id, scenario, own, { signal: abort.signal, ...interrupt(() => abort.abort()) });
      await own.close();
      interrupted = first.status === 'stopped';
    }
    const summary = await runStudy(store, study.id, scenario, pool);
    const result = { rows: table(store, study.id), summary: { validation: summary.validation, baseline: summary.baseline, best: summary.best.candidate, stop: summary.stop_reason }, interrupted };
    store.close();
    return result;
  }

  // Five small studies: a minute on an idle 2-core machine.
  it('whether interrupted in the baseline, after the last proposals are stored, in their evaluation, or in validation', { timeout: 300_000 }, async () => {
    const reference = await runInterrupted('ref');
    expect((reference.rows as { status: string }[]).every((r) => r.status !== 'pending')).toBe(true);
    const phases: [string, (abort: () => void) => RunOptions][] = [
      ['baseline', (abort) => ({ onProgress: (p) => p.phase === 'baseline' && p.episodes >= 2 && abort() })],
      ['stored', (abort) => ({ onStored: (e) => e.kind === 'candidate' && e.candidate === 7 && abort() })],
      ['search', (abort) => ({ onProgress: (p) => p.generation === 2 && p.phase === 'search' && p.episodes >= 4 + 16 + 6 && abort() })],
      ['validation', (abort) => ({ onProgress: (p) => p.phase === 'validation' && abort() })],
    ];
    for (const [name, interrupt] of phases) {
      const resumed = await runInterrupted(name, interrupt);
      expect(resumed.interrupted, name).toBe(true);
      expect(resumed.rows, name).toEqual(reference.rows);
      expect(resumed.summary, name).toEqual(reference.summary);
    }
  });
});

describe('researchers', () => {
  const space = spaceOf(scenario.policy.params);
  it('random search stays in bounds and proposes the same again from a saved state', async () => {
    const r = new RandomResearcher(space, 5, 3);
    const a = await r.ask();
    expect(await r.ask()).toEqual(a);
    for (const p of a) {
      const params = p.body.params as Record<string, number>;
      space.names.forEach((n, i) => expect(params[n] >= space.lower[i] && params[n] <= space.upper[i]).toBe(true));
    }
    r.tell(a.map((proposal, candidate) => ({ candidate, proposal, status: 'discard', score: 0.5, successRate: 0, terms: {}, metrics: {}, outcomes: {}, bestScore: 0.5 })));
    const restored = new RandomResearcher(space, 5, 999, JSON.parse(JSON.stringify(r.state())));
    expect(await restored.ask()).toEqual(await r.ask());
    expect(await r.ask()).not.toEqual(a);
  });
});
