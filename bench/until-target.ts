/**
 * What the research benchmarks measure: how many training episodes (and seconds) a study needs
 * until its best candidate reaches a validation success rate on seeds it never trained on. Every
 * time the study keeps a new best, that best is noted; after the study the bests are validated in
 * order (validation episodes are not counted as training) and the first that reaches the target
 * is the answer.
 */
import { join } from 'node:path';
import { resolvePolicy, type PolicyFile } from '../src/policy/policy.ts';
import type { Evaluator } from '../src/research/evaluator.ts';
import { createStudy, defaultStudyConfig, runStudy, type StudyConfig } from '../src/research/study.ts';
import type { LoadedScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';

/** When (or whether) a study's best reached the target. */
export interface Reached {
  /** Training episodes until the best that reached it was kept (all of them when missed). */
  episodes: number;
  /** Seconds of search until then. */
  seconds: number;
  /** Validation success of that best (the best seen when missed). */
  validation: number;
  /** Validation success of the scenario's defaults (the baseline). */
  baseline: number;
  /** Set when no best reached the target. */
  missed?: true;
}

/** Runs a study of `scenario` with `overrides` into a store in `dir`, and reports when its best reached `target`. */
export async function untilTarget(scenario: LoadedScenario, pool: Evaluator, dir: string, name: string, target: number, overrides: Partial<StudyConfig>): Promise<Reached> {
  const store = Store.open(join(dir, `${name}.db`));
  const config = defaultStudyConfig(scenario, overrides);
  const validationSeeds = Array.from({ length: config.validation.count }, (_, i) => config.validation.from + i);
  const study = createStudy(store, scenario, config);
  const started = performance.now();
  const bests: { candidate: number; episodes: number; seconds: number }[] = [];
  await runStudy(store, study.id, scenario, pool, {
    onStored: (event) => {
      if (event.kind !== 'candidate') return;
      const best = store.study(study.id)?.bestCandidate;
      if (best === null || best === undefined || best === bests.at(-1)?.candidate) return;
      // The best changes when a generation ends; this is the first event after it.
      bests.push({ candidate: best, episodes: store.episodes({ studyId: study.id, split: 'train' }).length, seconds: (performance.now() - started) / 1000 });
    },
  });
  const validate = async (policy: PolicyFile) => {
    const runs = await pool.evaluate(validationSeeds.map((seed) => ({ policy, seed })));
    return runs.filter((r) => r.ok && r.success).length / runs.length;
  };
  const baseline = store.candidates(study.id)[0];
  const baselineRate = await validate(resolvePolicy(baseline.body, scenario, 'the baseline'));
  let bestValidation = 0;
  try {
    for (const b of bests) {
      const rate = await validate(resolvePolicy(store.candidate(b.candidate)!.body, scenario, `candidate ${b.candidate}`));
      bestValidation = Math.max(bestValidation, rate);
      if (rate >= target) return { episodes: b.episodes, seconds: b.seconds, validation: rate, baseline: baselineRate };
    }
    const episodes = store.episodes({ studyId: study.id, split: 'train' }).length;
    return { episodes, seconds: (performance.now() - started) / 1000, validation: bestValidation, baseline: baselineRate, missed: true };
  } finally {
    store.close();
  }
}
