/**
 * The study as an object: driven step by step from outside it ends as `run()` ends; a generation
 * reads the store a small constant number of times, whatever its size; a code candidate is
 * compiled once in the study's process; `arbor run` and `arbor resume` parse the study's config once.
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerStudyCommands } from '../src/cli/study-commands.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { compileCount } from '../src/policy/code.ts';
import { RandomResearcher } from '../src/researchers/random.ts';
import { spaceOf, type Researcher } from '../src/researchers/researcher.ts';
import { defaultStudyConfig, studyConfigParses } from '../src/study/config.ts';
import { createStudy, runStudy, Study } from '../src/study/study.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';
import { counted, scenarioCopy } from './study-helpers.ts';

const REACH = 'test/fixtures/tasks/reach/reach.yaml';
const reach = await loadScenario(REACH);
const space = spaceOf(reach.policy.params);
const { dir } = scenarioCopy(REACH, (text) => text);
let pool: EvaluatorPool;
beforeAll(async () => {
  pool = await EvaluatorPool.create(REACH, { workers: 2 });
});
afterAll(() => pool.close());

/** The stored rows of a study that do not depend on time or ids. */
function rows(store: Store, id: string) {
  return store.candidates(id).map((c) => ({ generation: c.generation, body: c.body, status: c.status, score: c.scoreMean, episodes: c.nEpisodes, note: c.note }));
}

describe('a study as an object', () => {
  it('driven step by step from outside (baseline, ask, evaluate, decide, tell, validate) ends as run() ends', async () => {
    const store = Store.open(join(dir, 'steps.db'));
    const config = defaultStudyConfig(reach, { researcher: 'random', batch: 2, seed: 3, racing: true, budget: { candidates: 7, episodes: 1000, wallTime: 600 } });
    const whole = createStudy(store, reach, config);
    const summary = await runStudy(store, whole.id, reach, pool);
    const stepped = createStudy(store, reach, config);
    const study = await Study.open(store, stepped.id, reach, pool);
    await study.baseline();
    const generations: number[][] = [];
    for (let asked = await study.ask(); asked.length; asked = await study.ask()) {
      generations.push(asked.map((c) => c.id));
      await study.evaluate();
      const outcomes = study.decide();
      expect(outcomes.map((o) => o.candidate)).toEqual(generations.at(-1));
      await study.tell(outcomes);
    }
    const steppedSummary = await study.validate();
    expect(generations.length).toBe(3);
    expect(rows(store, stepped.id)).toEqual(rows(store, whole.id));
    const { study: _a, wall_time: _b, ...same } = summary;
    expect(steppedSummary).toMatchObject({ ...same, best: { ...summary.best, candidate: expect.any(Number) }, baseline: { ...summary.baseline, candidate: expect.any(Number) } });
    store.close();
  });

  it('reads the store a small constant number of times per generation, however many candidates it has', async () => {
    const perGeneration = async (batch: number) => {
      const { store, reads } = counted(Store.open(join(dir, `reads-${batch}.db`)));
      const config = defaultStudyConfig(reach, { researcher: 'random', batch, seed: 8, racing: true, budget: { candidates: 1 + 3 * batch, episodes: 1000, wallTime: 600 } });
      const record = createStudy(store, reach, config);
      const at: number[] = [];
      const researcher = (state: unknown): Researcher => {
        const inner = new RandomResearcher(space, batch, 8, state ?? undefined);
        return { name: inner.name, batchSize: batch, ask: () => (at.push(reads()), inner.ask()), tell: (o) => inner.tell(o), state: () => inner.state() };
      };
      await runStudy(store, record.id, reach, pool, { researcher });
      store.close();
      return at.slice(1).map((n, i) => n - at[i]);
    };
    const small = await perGeneration(2);
    const large = await perGeneration(6);
    expect(small.length).toBe(2);
    expect(large.length).toBe(2);
    // Racing: the first heat's stored seeds, the heat's verdict, the second heat's stored seeds, the
    // generation's verdict. One read each, for all the candidates together.
    for (const n of [...small, ...large]) expect(n).toBeLessThanOrEqual(4);
  });

  it('compiles each code candidate once in its process, not again for its episodes or its verdict', async () => {
    const store = Store.open(join(dir, 'code.db'));
    const config = defaultStudyConfig(reach, { researcher: 'random', batch: 2, seed: 2, kinds: ['params', 'code'], budget: { candidates: 5, episodes: 1000, wallTime: 600 } });
    const record = createStudy(store, reach, config);
    let proposed = 0;
    const researcher = (): Researcher => ({
      name: 'coder',
      batchSize: 2,
      ask: async () =>
        [0, 1].map(() => {
          proposed++;
          // A source no other test compiles, so the count starts from a cold cache.
          return { kind: 'code' as const, body: { source: `export function act(obs) { return { position: obs.position, gripperWidth: 0.01 * ${proposed} + ${Math.random()} }; }` }, rationale: `hold still ${proposed}` };
        }),
      tell: () => {},
      state: () => null,
    });
    const before = compileCount();
    const summary = await runStudy(store, record.id, reach, pool, { researcher });
    expect(proposed).toBe(4);
    const code = store.candidates(record.id).filter((c) => c.kind === 'code');
    expect(code.map((c) => c.status)).not.toContain('invalid');
    expect(code.every((c) => store.episodes({ candidateId: c.id }).length > 0)).toBe(true);
    expect(summary.status).toBe('done');
    expect(compileCount() - before).toBe(4);
    store.close();
  });

  it('parses the study config once in arbor run, and once in arbor resume, whatever the generations', async () => {
    const db = join(dir, 'cli.db');
    /** Runs an `arbor` study command in this process; its one line of JSON results. */
    const arbor = async (...args: string[]) => {
      const program = new Command().exitOverride();
      registerStudyCommands(program);
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        await program.parseAsync([...args, '--workers', '1', '--db', db, '--json'], { from: 'user' });
        return JSON.parse(String(log.mock.calls.at(-1)?.[0]));
      } finally {
        log.mockRestore();
      }
    };
    let before = studyConfigParses();
    const run = await arbor('run', REACH, '--researcher', 'random', '--budget-candidates', '9');
    expect(studyConfigParses() - before).toBe(1);
    expect(run).toMatchObject({ status: 'done', stop_reason: 'budget-candidates' });
    expect(run.candidates.length).toBe(9);
    const store = Store.open(db);
    const fresh = createStudy(store, reach, defaultStudyConfig(reach, { researcher: 'random', budget: { candidates: 9, episodes: 1000, wallTime: 600 } }));
    store.close();
    before = studyConfigParses();
    const resumed = await arbor('resume', fresh.id);
    expect(studyConfigParses() - before).toBe(1);
    expect(resumed).toMatchObject({ study: fresh.id, status: 'done' });
  });
});
