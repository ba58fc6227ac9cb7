/**
 * Robust studies with real episodes in real worker threads and a real SQLite file: every training
 * episode runs in its seed's world drawn at the robust tier (the trace meta says which, and the
 * same seed is the same world for every candidate), validation stores and prints the best in the
 * nominal world and at the tier on the same seeds (`arbor show` and the dashboard's view carry
 * both, with intervals), a tier the scenario lacks is refused with its
 * file and line, and the keep rule `no_tier_regresses` refuses a candidate that loses, paired, in
 * one world. Tiny budgets: this file runs in seconds.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { ValidationError } from '../src/scenario/validate.ts';
import { createStudy, runStudy } from '../src/study/study.ts';
import { defaultStudyConfig, StudyConfig, trainSeeds } from '../src/study/config.ts';
import { compareInWorld, Judge, byCandidate } from '../src/study/judge.ts';
import type { CandidateRecord, EpisodeRecord } from '../src/store/schema.ts';
import { Store } from '../src/store/store.ts';
import { drawValues } from '../src/scenario/perturbation-draw.ts';
import { ViewerData } from '../src/viewer/data.ts';
import { scenarioCopy } from './study-helpers.ts';

const run = promisify(execFile);

/** pick-place with a small robust budget: a baseline and one generation of 2 on 2 seeds, 4 validation seeds, at T2. */
function robustScenario(budget: string) {
  return scenarioCopy('scenarios/pick-place.yaml', (text) => text.replace(/^budget:[\s\S]*$/m, `budget:\n${budget}`), 'robust.yaml');
}

const small = robustScenario('  candidates: 3\n  seeds_per_candidate: 2\n  wall_time: 600\n  validation_seeds: { from: 1000, count: 4 }\n  robust: T2\n');
const scenario = await loadScenario(small.file);
let pool: EvaluatorPool;
beforeAll(async () => {
  pool = await EvaluatorPool.create(small.file, { workers: 2 });
});
afterAll(() => pool.close());

describe('a robust study', () => {
  it("trains every episode in its seed's world at the tier (through a stop and a resume), and validates nominal and at the tier on the same seeds", async () => {
    const db = join(small.dir, 'robust.db');
    const store = Store.open(db);
    const config = defaultStudyConfig(scenario, { researcher: 'random', batch: 2 });
    expect(config.robust?.tier).toBe('T2');
    const study = createStudy(store, scenario, config);
    // Stopped in the first generation and resumed: the worlds of a seed do not depend on the run.
    const abort = new AbortController();
    const stoppedPool = await EvaluatorPool.create(small.file, { workers: 2 });
    const first = await runStudy(store, study.id, scenario, stoppedPool, { signal: abort.signal, onProgress: (p) => p.phase === 'search' && p.episodes >= 3 && abort.abort() });
    await stoppedPool.close();
    expect(first.status).toBe('stopped');
    const before = store.episodes({ studyId: study.id });
    const summary = await runStudy(store, study.id, scenario, pool);
    expect(summary.status).toBe('done');
    const after = store.episodes({ studyId: study.id });
    for (const e of before) expect(after.find((a) => a.id === e.id)?.score).toBe(e.score);
    expect(new Set(after.map((e) => `${e.candidateId}/${e.split}/${e.seed}`)).size).toBe(after.length);
    // The tier and its block are part of the stored config: a resume draws the same worlds.
    expect(StudyConfig.parse(store.study(study.id)!.config).robust?.tier).toBe('T2');

    const block = scenario.perturbations!;
    const train = store.episodes({ studyId: study.id, split: 'train' });
    expect(train.length).toBe(2 + 3 * 2);
    const worlds = new Map<number, string>();
    for (const e of train) {
      const meta = store.loadEpisodeTrace(e).meta as { perturbation?: { name: string; value: number }[] };
      const drawn = drawValues(block, 0.5, e.seed).map(({ name, value }) => ({ name, value }));
      expect(drawn.length).toBeGreaterThan(0);
      expect(meta.perturbation?.map(({ name, value }) => ({ name, value }))).toEqual(drawn);
      // The same seed is the same world for every candidate that ran it (paired).
      const world = JSON.stringify(meta.perturbation);
      if (worlds.has(e.seed)) expect(world).toBe(worlds.get(e.seed));
      worlds.set(e.seed, world);
    }
    expect([...worlds.keys()].sort((a, b) => a - b)).toEqual([...trainSeeds(config, 0), ...trainSeeds(config, 1)]);

    // Validation: the best nominal and at T2, on the same four seeds.
    const best = summary.best.candidate;
    const nominal = store.episodes({ candidateId: best, split: 'validation' });
    const tier = store.episodes({ candidateId: best, split: 'validation_tier' });
    expect(nominal.map((e) => e.seed).sort()).toEqual([1000, 1001, 1002, 1003]);
    expect(tier.map((e) => e.seed).sort()).toEqual([1000, 1001, 1002, 1003]);
    expect((store.loadEpisodeTrace(nominal[0]).meta as { perturbation?: unknown }).perturbation).toBeUndefined();
    expect((store.loadEpisodeTrace(tier[0]).meta as { perturbation?: unknown[] }).perturbation?.length).toBeGreaterThan(0);
    expect(summary.validation?.episodes).toBe(4);
    expect(summary.validation_tier).toMatchObject({ tier: 'T2', episodes: 4, seeds: '1000..1003' });
    expect(summary.validation_tier?.success_rate).toBe(tier.filter((e) => e.success).length / 4);
    store.close();

    // `arbor show` carries both figures, each with its Wilson interval and n.
    const text = (await run(process.execPath, ['bin/arbor.js', 'show', study.id, '--db', db])).stdout;
    expect(text).toMatch(/robust: +T2 \(training worlds drawn per seed at T2; keep rule mean\)/);
    expect(text).toMatch(/validation: +success [\d.]+% \[[\d.]+–[\d.]+%\] n=4, score [\d.]+ on seeds 1000\.\.1003 \(nominal\)/);
    expect(text).toMatch(/validation_T2: +success [\d.]+% \[[\d.]+–[\d.]+%\] n=4, score [\d.]+ on seeds 1000\.\.1003 \(the same seeds at T2\)/);
    const json = JSON.parse((await run(process.execPath, ['bin/arbor.js', 'show', study.id, '--db', db, '--json'])).stdout);
    expect(json.validation_tier).toMatchObject({ tier: 'T2', n: 4, seeds: '1000..1003' });
    expect(json.validation_tier.success_interval).toHaveProperty('low');
    expect(json.validation).toMatchObject({ n: 4 });

    // The dashboard's view carries them too.
    const data = new ViewerData(db);
    const view = await data.study(study.id);
    expect(view.validation.slice(0, 2).map((v) => [v.label, v.n, v.seeds])).toEqual([['nominal', 4, '1000..1003'], ['T2', 4, '1000..1003']]);
    expect(view.validation[1].successInterval.high).toBeGreaterThanOrEqual(view.validation[1].successRate);
    await data.close();
  });
});

describe('a robust tier the scenario lacks', () => {
  it('is refused by the loader with file, line, the field and the tiers there are', async () => {
    const bad = robustScenario('  candidates: 3\n  robust: T7\n');
    const error = await loadScenario(bad.file).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const message = (error as Error).message;
    expect(message).toContain(bad.file);
    expect(message).toMatch(/:\d+/); // the line
    expect(message).toContain('budget.robust');
    expect(message).toContain("'T7' is not a tier of the perturbations: block");
    expect(message).toContain('T0, T1, T2, T3, T4');
  });

  it('is refused without a perturbations: block, and on the command line in the same words', async () => {
    const none = scenarioCopy('scenarios/pick-place.yaml', (text) => text.replace(/^perturbations:[\s\S]*?(?=^budget:)/m, '').replace(/^budget:[\s\S]*$/m, 'budget:\n  robust: T2\n'), 'none.yaml');
    await expect(loadScenario(none.file)).rejects.toThrow(/budget\.robust[\s\S]*no perturbations: block/);
    await expect(run(process.execPath, ['bin/arbor.js', 'run', small.file, '--robust', 'T9', '--db', join(small.dir, 'refused.db')])).rejects.toThrow(
      /--robust T9: 'T9' is not a tier of the perturbations: block; use one of its tiers: T0, T1, T2, T3, T4\./,
    );
    expect(() => StudyConfig.parse({ ...defaultStudyConfig(scenario), keepIf: 'no_tier_regresses', robust: undefined })).toThrow(/no_tier_regresses[\s\S]*no robust tier/);
  });
});

describe('the keep rule no_tier_regresses', () => {
  const candidate = (id: number): CandidateRecord => ({
    id, studyId: 's', parentId: id === 1 ? null : 1, generation: id === 1 ? 0 : 1, kind: 'params', body: { kind: 'params', params: {} }, rationale: '', description: '',
    status: id === 1 ? 'keep' : 'pending', scoreMean: null, scoreStd: null, successRate: null, nEpisodes: null, nCrashes: null, createdAt: '', decidedAt: null, note: null, costUsd: 0,
  });
  const episodes = (candidateId: number, split: 'train' | 'train_nominal', successes: boolean[], score: (ok: boolean, i: number) => number): EpisodeRecord[] =>
    successes.map((success, seed) => ({
      id: candidateId * 1000 + seed, studyId: 's', candidateId, split, seed, status: 'ok', success, score: score(success, seed), outcome: success ? 'success' : 'drop',
      metrics: {}, terms: {}, tracePath: null, wallTime: 0, crashReason: null, createdAt: '',
    }) as EpisodeRecord);
  const seeds = Array.from({ length: 16 }, (_, i) => i);
  const best = candidate(1);
  const challenger = candidate(2);
  // At the tier the challenger is better on every seed (the mean clears any margin) ...
  const train = byCandidate([
    ...episodes(1, 'train', seeds.map((s) => s % 2 === 0), (ok) => (ok ? 0.8 : 0.2)),
    ...episodes(2, 'train', seeds.map(() => true), (_, i) => 0.9 + i * 0.001),
  ]);
  // ... and in the nominal world it fails 8 seeds the best passes, gaining none.
  const nominal = byCandidate([...episodes(1, 'train_nominal', seeds.map(() => true), () => 0.9), ...episodes(2, 'train_nominal', seeds.map((s) => s >= 8), () => 0.5)]);
  const robust = { tier: 'T2', perturbations: scenario.perturbations! };

  it('refuses a candidate that beats the best on the mean but regresses in one world, and says where', () => {
    const [verdict] = new Judge({ keepMargin: 2, racing: false, keepIf: 'no_tier_regresses', robust }, train, nominal).judge(best, [challenger], seeds);
    expect(verdict.beats).toBe(false);
    expect(verdict.outcome.reason).toMatch(/regresses in the nominal world: lost 8 and gained 0 of 16 paired seeds \(McNemar p = 0\.0078/);
  });

  it('keeps it on the mean alone without the rule, and keeps it with the rule when no world regresses', () => {
    expect(new Judge({ keepMargin: 2, racing: false, robust }, train, nominal).judge(best, [challenger], seeds)[0].beats).toBe(true);
    const fine = byCandidate([...episodes(1, 'train_nominal', seeds.map(() => true), () => 0.9), ...episodes(2, 'train_nominal', seeds.map((s) => s !== 3), () => 0.9)]);
    expect(new Judge({ keepMargin: 2, racing: false, keepIf: 'no_tier_regresses', robust }, train, fine).judge(best, [challenger], seeds)[0].beats).toBe(true);
  });

  it('counts a loss as a regression only when it is significant and losses outnumber gains', () => {
    expect(compareInWorld('T2', [true, true, true, true, true, true], [false, false, false, false, false, false])).toMatchObject({ lost: 6, gained: 0, regresses: true });
    expect(compareInWorld('T2', [true, true, true, true, true], [false, false, false, false, false]).regresses).toBe(false); // p = 0.0625
    expect(compareInWorld('T2', [false, false, false, false, false, false], [true, true, true, true, true, true]).regresses).toBe(false);
  });
});
