import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy, loadPolicyFile, resolvePolicy, type ParamsPolicyFile, type PolicyFile } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import type { LiveFrame } from '../src/evaluation/live.ts';
import type { EpisodeJob, EpisodeResult } from '../src/evaluation/evaluator.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { startMessagesServer, type MessagesServer } from './fixtures/messages-server.ts';
import { plannerModel } from './fixtures/planner-model.ts';
import { sortScenario } from './fixtures/prompt-study.ts';

const SCENARIO = 'scenarios/pick-place.yaml';

describe('EvaluatorPool (real MuJoCo, 2 workers)', () => {
  let scenario: LoadedScenario;
  let baseline: ParamsPolicyFile;
  let tuned: PolicyFile;
  let pool: EvaluatorPool;

  beforeAll(async () => {
    scenario = await loadScenario(SCENARIO);
    baseline = defaultPolicy(scenario);
    tuned = loadPolicyFile('scenarios/pick-place.tuned.json', scenario);
    pool = await EvaluatorPool.create(SCENARIO, { workers: 2 });
  });
  afterAll(() => pool?.close());

  it('gives what a direct run gives, in job order, with the jobs echoed', async () => {
    const jobs: EpisodeJob[] = [
      { policy: tuned, seed: 3, candidate: 1, split: 'train' },
      { policy: baseline, seed: 3, candidate: 2, split: 'train' },
      { policy: tuned, seed: 8, candidate: 3, split: 'train' },
      { policy: baseline, seed: 21, candidate: 4, split: 'train' },
    ];
    const finished: (number | undefined)[] = [];
    const results = await pool.evaluate(jobs, (r) => finished.push(r.job.candidate));
    expect(pool.size).toBe(2);
    expect(results.map((r) => r.job.candidate)).toEqual([1, 2, 3, 4]);
    expect([...finished].sort()).toEqual([1, 2, 3, 4]);
    expect(new Set(results.map((r) => r.worker))).toEqual(new Set([0, 1]));

    const runner = await EpisodeRunner.create(scenario);
    try {
      for (const [i, r] of results.entries()) {
        if (!r.ok) throw new Error(`job ${i} crashed: ${r.reason}`);
        const direct = await runner.run(jobs[i].policy, jobs[i].seed);
        expect(r.seed).toBe(jobs[i].seed);
        expect(r.score).toBe(direct.score);
        expect(r.success).toBe(direct.success);
        expect(r.metrics).toEqual(direct.metrics);
        expect(r.trace.meta.seed).toBe(jobs[i].seed);
        expect(r.trace.topic('/clock').stamps).toEqual(direct.trace.topic('/clock').stamps);
      }
    } finally {
      await runner.close();
    }
    // The tuned policy succeeds where the defaults drop the cube: the comparison saw both outcomes.
    expect(results.some((r) => r.ok && r.success)).toBe(true);
  });

  it('turns a throwing or NaN policy into a crash result, and later jobs still succeed', async () => {
    const { ik_gain: _, ...missing } = baseline.params;
    const jobs: EpisodeJob[] = [
      { policy: { kind: 'params', params: missing }, seed: 1 },
      { policy: { kind: 'params', params: { ...baseline.params, ik_gain: NaN } }, seed: 2 },
      { policy: tuned, seed: 3 },
      { policy: tuned, seed: 4 },
    ];
    const results = await pool.evaluate(jobs);
    const [throws, nan, ...later] = results;
    expect(throws).toMatchObject({ ok: false, seed: 1, reason: expect.stringMatching(/needs parameters ik_gain/) });
    expect(nan).toMatchObject({ ok: false, seed: 2, reason: expect.stringMatching(/NaN/) });
    for (const r of later) expect(r.ok).toBe(true);
  });

  it('rejects create with the worker\'s message when the scenario path is bad', async () => {
    await expect(EvaluatorPool.create('scenarios/no-such-scenario.yaml', { workers: 2 })).rejects.toThrow(
      /no-such-scenario\.yaml.*does not exist/,
    );
  });
});

describe('EvaluatorPool drain and live frames', () => {
  it('finishes the jobs in flight, cancels the queued ones, and streams tagged frames', async () => {
    const scenario = await loadScenario(SCENARIO);
    const frames: LiveFrame[] = [];
    const pool = await EvaluatorPool.create(SCENARIO, {
      workers: 2,
      live: { study: 'drain-test', fps: 20, onFrame: (f) => frames.push(f) },
    });
    try {
      const policy = defaultPolicy(scenario);
      const jobs = [1, 2, 3, 4, 5, 6].map((seed) => ({ policy, seed, candidate: 40 + seed }));
      const pending = pool.evaluate(jobs);
      pool.drain();
      const results: EpisodeResult[] = await pending;
      expect(results.map((r) => r.ok)).toEqual([true, true, false, false, false, false]);
      for (const r of results.slice(2)) expect(r).toMatchObject({ ok: false, reason: 'cancelled', worker: -1 });

      const nq = frames[0].qpos.length;
      expect(nq).toBeGreaterThan(scenario.robotConfig.joints.length);
      expect(frames.every((f) => f.study === 'drain-test' && f.qpos.length === nq)).toBe(true);
      expect(new Set(frames.map((f) => `${f.seed}:${f.candidate}:${f.worker}`))).toEqual(
        new Set(results.slice(0, 2).map((r) => `${r.seed}:${40 + r.seed}:${r.worker}`)),
      );
      // The final frame of each episode comes at its end.
      const last = frames.filter((f) => f.seed === 1).at(-1)!;
      const ended = results[0].ok ? results[0].trace.topic('/clock').stamps.at(-1)! : NaN;
      expect(last.time).toBeCloseTo(ended, 6);

      const after = await pool.evaluate([{ policy, seed: 9 }]);
      expect(after[0]).toMatchObject({ ok: false, reason: 'cancelled' });
    } finally {
      await pool.close();
    }
    await expect(pool.evaluate([])).rejects.toThrow(/closed/);
  });
});

describe('EvaluatorPool live frames while watched', () => {
  it('posts no frames while hidden, frames once shown, and none again once hidden', async () => {
    const scenario = await loadScenario(SCENARIO);
    const policy = defaultPolicy(scenario);
    const frames: LiveFrame[] = [];
    const pool = await EvaluatorPool.create(SCENARIO, { workers: 2, live: { study: 'watch-test', fps: 50, hidden: true, onFrame: (f) => frames.push(f) } });
    try {
      const run = async (seeds: number[]) => {
        frames.length = 0;
        const results = await pool.evaluate(seeds.map((seed) => ({ policy, seed })));
        expect(results.every((r) => r.ok)).toBe(true);
        return new Set(frames.map((f) => f.seed));
      };
      expect(await run([1, 2, 3])).toEqual(new Set());
      pool.showLive(true);
      // Every episode sends at least its final frame, on both workers.
      expect(await run([4, 5, 6])).toEqual(new Set([4, 5, 6]));
      pool.showLive(false);
      expect(await run([7, 8, 9])).toEqual(new Set());
    } finally {
      await pool.close();
    }
  });
});

describe('EvaluatorPool: a worker stopped with a job sent ahead', () => {
  let server: MessagesServer | undefined;
  afterAll(() => server?.close());

  it('gives that job to the replacement worker, which runs it', async () => {
    // The pool sends a busy worker its next job ahead. When the running episode hangs (its planner's
    // model never answers) the guard stops that worker, and the job it had been sent must not be lost
    // with it. A one-worker pool sends ahead as soon as a second job waits.
    const { dir, file } = sortScenario({ seeds: 1, validation: 1, candidates: 1, patience: 1 });
    // The guard fires at the wall-time limit × 1.5 + 5 s: 8 s with 2.
    const scenarioFile = join(dir, 'sort-2s.yaml');
    writeFileSync(scenarioFile, readFileSync(file, 'utf8').replace(/wall_time_limit: \d+/, 'wall_time_limit: 2'));
    const scenario = await loadScenario(scenarioFile);
    const planner = plannerModel();
    server = await startMessagesServer((request, index) => (index === 0 ? { kind: 'hold' } : planner(request, index)));
    const key = process.env.ANTHROPIC_API_KEY;
    process.env.ANTHROPIC_API_KEY = 'test-key';
    const policy = resolvePolicy({ kind: 'prompt', config: { base_url: server.url } }, scenario);
    const pool = await EvaluatorPool.create(scenarioFile, { workers: 1 });
    try {
      const [hung, next] = await pool.evaluate([{ policy, seed: 1 }, { policy, seed: 2 }]);
      expect(hung).toMatchObject({ ok: false, seed: 1 });
      expect(hung.ok ? '' : hung.reason).toMatch(/did not finish within 8 s .* worker 0 was stopped and replaced/);
      expect(next).toMatchObject({ ok: true, seed: 2 });
      // The held request was the first; the replacement's planner asked again for job 2.
      expect(server.requests.length).toBeGreaterThanOrEqual(2);
    } finally {
      await pool.close();
      if (key === undefined) delete process.env.ANTHROPIC_API_KEY;
      else process.env.ANTHROPIC_API_KEY = key;
    }
  }, 30_000);
});
