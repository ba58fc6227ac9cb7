/**
 * A small, real study for the viewer's tests, benchmarks and screenshots: a real store (SQLite)
 * in a directory, a few candidates of the pick-and-place scenario decided keep / discard / crash,
 * and real MuJoCo episodes with their traces. Nothing here is used by `arbor view` itself.
 */
import { join, resolve } from 'node:path';
import { defaultPolicy, type PolicyFile } from '../policy/policy.ts';
import { EpisodeRunner } from '../research/episode.ts';
import { loadScenario, type LoadedScenario } from '../scenario/load.ts';
import { Store } from '../store/store.ts';

/** What `makeDemoStudy` made. */
export interface DemoStudy {
  /** Path of the database. */
  dbPath: string;
  /** Study id. */
  studyId: string;
  /** Candidate ids, in order. */
  candidates: number[];
  /** Episode ids of each candidate (same order), one per seed. */
  episodes: number[][];
  /** The scenario. */
  scenario: LoadedScenario;
}

/** The scenario the demo study uses. */
export const DEMO_SCENARIO = resolve(import.meta.dirname, '../../scenarios/pick-place.yaml');

/** Makes a study of `seeds.length` episodes per candidate: baseline (keep), tuned (keep, best), slow (discard), broken (crash). */
export async function makeDemoStudy(dir: string, seeds: number[] = [1, 2]): Promise<DemoStudy> {
  const scenario = loadScenario(DEMO_SCENARIO);
  const dbPath = join(dir, 'arbor.db');
  const store = Store.open(dbPath);
  const runner = await EpisodeRunner.create(scenario);
  try {
    const study = store.createStudy({ scenarioPath: scenario.file, scenarioName: scenario.name, researcher: 'demo', config: { seeds } });
    const base = defaultPolicy(scenario);
    const variants: { description: string; rationale: string; policy: PolicyFile; crash?: boolean }[] = [
      { description: 'baseline: the scenario defaults', rationale: 'Start from the defaults to measure the baseline.', policy: base },
      {
        description: 'deeper grasp, slower transport',
        rationale: 'The cube slips out during fast transport; grasp deeper and carry it slower.',
        policy: { kind: 'params', params: { ...base.params, grasp_depth: 0.02, transport_speed: 0.8, ik_gain: 0.6 } },
      },
      {
        description: 'very slow approach',
        rationale: 'Approach slower to avoid knocking the cube.',
        policy: { kind: 'params', params: { ...base.params, approach_speed: 0.1, transport_speed: 0.3 } },
      },
      { description: 'aggressive gains', rationale: 'Try a much stiffer IK.', policy: { kind: 'params', params: { ...base.params, ik_gain: 1.0 } }, crash: true },
    ];
    const candidates: number[] = [];
    const episodes: number[][] = [];
    let best: { id: number; score: number } | undefined;
    for (const [k, v] of variants.entries()) {
      const c = store.addCandidate(study.id, { parentId: k === 0 ? null : candidates[0], generation: k === 0 ? 0 : 1, kind: 'params', body: v.policy, rationale: v.rationale, description: v.description });
      candidates.push(c.id);
      const ids: number[] = [];
      const scores: number[] = [];
      let successes = 0;
      for (const seed of seeds) {
        if (v.crash) {
          const e = store.recordEpisode({ studyId: study.id, candidateId: c.id, split: 'train', seed, status: 'crash', success: false, score: null, outcome: 'crash', metrics: {}, breakdown: {}, wallTime: 0, crashReason: 'demo: the controller diverged' });
          if (e) ids.push(e.id);
          continue;
        }
        const run = await runner.run(v.policy, seed);
        const e = store.recordEpisode({
          studyId: study.id,
          candidateId: c.id,
          split: k === 0 ? 'baseline' : 'train',
          seed,
          status: 'ok',
          success: run.success,
          score: run.score,
          outcome: run.metrics.outcome,
          metrics: run.metrics,
          breakdown: run.breakdown,
          trace: run.trace,
          wallTime: run.wallTime,
        });
        if (e) ids.push(e.id);
        scores.push(run.score);
        if (run.success) successes++;
      }
      episodes.push(ids);
      const mean = scores.length ? scores.reduce((a, b) => a + b, 0) / scores.length : null;
      const std = mean === null ? null : Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / scores.length);
      const keep = mean !== null && (!best || mean > best.score || k === 0);
      store.decideCandidate(c.id, {
        status: v.crash ? 'crash' : keep ? 'keep' : 'discard',
        scoreMean: mean,
        scoreStd: std,
        successRate: v.crash ? null : successes / seeds.length,
        nEpisodes: seeds.length,
        nCrashes: v.crash ? seeds.length : 0,
      });
      if (keep && mean !== null && (!best || mean > best.score)) {
        best = { id: c.id, score: mean };
        store.updateStudy(study.id, { bestCandidate: c.id });
      }
    }
    store.updateStudy(study.id, { status: 'done' });
    return { dbPath, studyId: study.id, candidates, episodes, scenario };
  } finally {
    await runner.close();
    store.close();
  }
}
