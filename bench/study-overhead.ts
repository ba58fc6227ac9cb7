/**
 * What a study costs outside its episodes: milliseconds per generation of the study loop itself
 * (asking, storing proposals, recording results, judging, telling, checkpointing), and the store
 * reads it makes per generation. The episodes are free here: an evaluator that answers every job
 * at once with a score drawn from its policy and seed and the trace of one real pick-and-place
 * episode, so recording writes real artifacts. What is left is the loop.
 *
 * Rows: researcher and batch, the database on disk (each episode's artifact is fsynced) or in
 * /dev/shm (fsync is free: the loop's own work shows). `ms/generation` is the median time from one
 * ask to the next; `reads/generation` the median number of store reads between two asks (a read:
 * one call of a Store method that reads: study, candidate(s), episode(s), events...).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPolicy } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import type { EpisodeJob, EpisodeResult, Evaluator } from '../src/evaluation/evaluator.ts';
import { CmaesResearcher } from '../src/researchers/cmaes-researcher.ts';
import { RandomResearcher } from '../src/researchers/random.ts';
import { spaceOf, type Researcher } from '../src/researchers/researcher.ts';
import { createStudy, runStudy } from '../src/study/study.ts';
import { defaultStudyConfig } from '../src/study/config.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';
import type { Trace } from '../src/trace/trace.ts';
import { counted } from '../test/study-helpers.ts';

const GENERATIONS = Number(process.env.ARBOR_BENCH_GENERATIONS ?? 30);
const SEEDS = 8;
const scenario = await loadScenario('scenarios/pick-place.yaml');
const space = spaceOf(scenario.policy.params);
const disks = { disk: tmpdir(), ...(existsSync('/dev/shm') ? { shm: '/dev/shm' } : {}) };

const runner = await EpisodeRunner.create(scenario);
const trace = (await runner.run(defaultPolicy(scenario), 1)).trace;
await runner.close();

/** Answers every job at once: a smooth score of the parameters (so some candidates are kept), a little noise per seed. */
function freeEvaluator(trace: Trace): Evaluator {
  const score = (job: EpisodeJob) => {
    const params = job.policy.kind === 'params' ? job.policy.params : {};
    const distance = space.names.reduce((sum, n, i) => sum + ((params[n] - space.defaults[i]) / (space.upper[i] - space.lower[i]) - 0.1) ** 2, 0);
    const noise = (Math.sin(job.seed * 12.9898) * 43758.5453) % 1;
    return Math.max(0, Math.min(1, 1 - distance + 0.02 * noise));
  };
  return {
    async evaluate(jobs, onResult) {
      const results = jobs.map((job): EpisodeResult => {
        const s = score(job);
        return { ok: true, job, worker: 0, seed: job.seed, wallTime: 0, success: s > 0.9, score: s, outcome: s > 0.9 ? 'success' : 'miss', terms: { fit: s }, metrics: {}, trace };
      });
      for (const r of results) onResult?.(r);
      return results;
    },
    drain() {},
    close: async () => {},
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function row(label: string, make: (state: unknown) => Researcher, batch: number, where: string): Promise<void> {
  const dir = mkdtempSync(join(where, 'arbor-bench-overhead-'));
  const { store, reads } = counted(Store.open(join(dir, 'study.db')));
  const config = defaultStudyConfig(scenario, {
    researcher: 'random', batch, seedsPerCandidate: SEEDS, patience: undefined, targetSuccess: undefined,
    budget: { candidates: 1 + batch * GENERATIONS, episodes: 10_000_000, wallTime: 100_000 }, validation: { from: 1000, count: 8 },
  });
  const study = createStudy(store, scenario, config);
  const asks: { at: number; reads: number }[] = [];
  const researcher = (state: unknown): Researcher => {
    const inner = make(state);
    return {
      name: inner.name,
      get batchSize() {
        return inner.batchSize;
      },
      ask: (history) => {
        asks.push({ at: performance.now(), reads: reads() });
        return inner.ask(history);
      },
      tell: (outcomes) => inner.tell(outcomes),
      state: () => inner.state(),
    };
  };
  const started = performance.now();
  await runStudy(store, study.id, scenario, freeEvaluator(trace), { researcher });
  const total = performance.now() - started;
  const ms = asks.slice(1).map((a, i) => a.at - asks[i].at);
  const perGeneration = asks.slice(1).map((a, i) => a.reads - asks[i].reads);
  console.log(
    `${label.padEnd(34)} ${String(asks.length).padStart(3)} generations   ${median(ms).toFixed(1).padStart(6)} ms/generation (p90 ${[...ms].sort((a, b) => a - b)[Math.floor(ms.length * 0.9)].toFixed(1)})` +
      `   ${String(median(perGeneration)).padStart(3)} reads/generation (max ${Math.max(...perGeneration)})   whole study ${(total / 1000).toFixed(2)} s`,
  );
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

console.log(`# study overhead outside episodes: pick-and-place, ${SEEDS} seeds per candidate, ${GENERATIONS} generations, episodes free`);
for (const [disk, where] of Object.entries(disks)) {
  await row(`random batch 4, ${disk}`, (state) => new RandomResearcher(space, 4, 1, state ?? undefined), 4, where);
  await row(`random batch 16, ${disk}`, (state) => new RandomResearcher(space, 16, 1, state ?? undefined), 16, where);
  await row(`cmaes (popsize 12), ${disk}`, (state) => new CmaesResearcher(space, 1, state ?? undefined, { sigma0: 0.2, popsize: 12 }), 12, where);
}
