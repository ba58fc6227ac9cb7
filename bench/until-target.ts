/**
 * Training episodes until a study's best reaches a validation success rate: the study runs to an
 * episode cap, noting (training episodes, seconds) each time its best changes; then those bests
 * are validated in order and the first that reaches the target is reported. The validation
 * episodes are not counted as training. Shared by the researcher and `npm start` benchmarks.
 */
import { join } from 'node:path';
import type { Evaluator } from '../src/research/evaluator.ts';
import { createStudy, defaultStudyConfig, runStudy, type StudyConfig } from '../src/research/study.ts';
import type { LoadedScenario } from '../src/scenario/load.ts';
import { resolvePolicy } from '../src/policy/policy.ts';
import { Store } from '../src/store/store.ts';

/** When the target was reached (or the cap, with the best validation seen). */
export interface Reached {
  /** Training episodes when the best that reached the target was kept (or all, when missed). */
  episodes: number;
  /** Search wall time at that point (s). */
  seconds: number;
  /** Validation success of that best (or the best seen). */
  validation: number;
  /** True when no best reached the target within the cap. */
  missed?: true;
}

export async function untilTarget(
  scenario: LoadedScenario,
  evaluator: Evaluator,
  dir: string,
  options: { name: string; target: number; cap: number; config: Partial<StudyConfig> },
): Promise<Reached> {
  const store = Store.open(join(dir, `${options.name}.db`));
  const config = defaultStudyConfig(scenario, { ...options.config, patience: undefined, targetSuccess: undefined, budget: { candidates: 100_000, episodes: options.cap, wallTime: 100_000 } });
  const study = createStudy(store, scenario, config);
  const started = performance.now();
  const bests: { candidate: number; episodes: number; seconds: number }[] = [];
  await runStudy(store, study.id, scenario, evaluator, {
    onStored: (event) => {
      if (event.kind !== 'candidate') return;
      const best = store.study(study.id)?.bestCandidate;
      if (best === null || best === undefined || best === bests.at(-1)?.candidate) return;
      // The best changes when a generation ends; this is the first event after it.
      bests.push({ candidate: best, episodes: store.episodes({ studyId: study.id, split: 'train' }).length, seconds: (performance.now() - started) / 1000 });
    },
  });
  const { from, count } = config.validation;
  const seeds = Array.from({ length: count }, (_, i) => from + i);
  let bestValidation = 0;
  try {
    for (const b of bests) {
      const policy = resolvePolicy(store.candidate(b.candidate)!.body, scenario, `candidate ${b.candidate}`);
      const runs = await evaluator.evaluate(seeds.map((seed) => ({ policy, seed })));
      const rate = runs.filter((r) => r.ok && r.success).length / runs.length;
      bestValidation = Math.max(bestValidation, rate);
      if (rate >= options.target) return { episodes: b.episodes, seconds: b.seconds, validation: rate };
    }
    return { episodes: store.episodes({ studyId: study.id, split: 'train' }).length, seconds: (performance.now() - started) / 1000, validation: bestValidation, missed: true };
  } finally {
    store.close();
  }
}
