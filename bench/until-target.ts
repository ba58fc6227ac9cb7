/**
 * Episodes until the best reaches a validation success rate: a study runs to its episode cap,
 * noting (training episodes, seconds, dollars) each time the best changes; those bests are then
 * validated in order on seeds no candidate trained on, and the first that reaches the target is
 * the answer. Validation episodes are not counted as training. Shared by the researcher and
 * `npm start` benches.
 */
import { join } from 'node:path';
import type { Evaluator } from '../src/evaluation/evaluator.ts';
import { createStudy, probeEpisodes, runStudy } from '../src/study/study.ts';
import { defaultStudyConfig, type StudyConfig } from '../src/study/config.ts';
import { PolicyFile } from '../src/policy/file.ts';
import type { LoadedScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';

/** When the target was reached (or how far a study got without it). */
export interface Reached {
  /** Training episodes (probes included) when the best that reached it was found; all of them when missed. */
  episodes: number;
  /** Seconds of search until then. */
  seconds: number;
  /** Dollars spent until then (LLM researchers). */
  dollars: number;
  /** The best validation success rate seen. */
  validation: number;
  /** The target was not reached within the cap. */
  missed?: true;
}

/**
 * Runs one study of `overrides` on `scenario` to `cap.episodes` training episodes (and `cap.dollars`
 * when given) and finds when it reached `target`.
 */
export async function untilTarget(
  scenario: LoadedScenario, evaluator: Evaluator, dbFile: string, overrides: Partial<StudyConfig>, cap: { episodes: number; dollars?: number }, target: number, validationSeeds: number[],
): Promise<Reached> {
  const store = Store.open(dbFile);
  // To the cap: the scenario's early stops would end the run before the target is known.
  const config = defaultStudyConfig(scenario, { ...overrides, patience: undefined, targetSuccess: undefined, budget: { candidates: 100_000, episodes: cap.episodes, wallTime: 100_000, costUsd: cap.dollars } });
  const study = createStudy(store, scenario, config);
  const started = performance.now();
  const bests: { candidate: number; episodes: number; seconds: number; dollars: number }[] = [];
  // Probe episodes an LLM researcher ran count as training: they are episodes it learned from.
  const trainEpisodes = () => store.episodes({ studyId: study.id, split: 'train' }).length + probeEpisodes(store.study(study.id)!);
  await runStudy(store, study.id, scenario, evaluator, {
    onStored: (event) => {
      if (event.kind !== 'candidate') return;
      const best = store.study(study.id)?.bestCandidate;
      if (best === null || best === undefined || best === bests.at(-1)?.candidate) return;
      // The best changes when a generation ends; this is the first event after it.
      bests.push({ candidate: best, episodes: trainEpisodes(), seconds: (performance.now() - started) / 1000, dollars: store.study(study.id)?.costUsd ?? 0 });
    },
  });
  try {
    let bestValidation = 0;
    for (const b of bests) {
      const policy = PolicyFile.parse(store.candidate(b.candidate)!.body);
      const runs = await evaluator.evaluate(validationSeeds.map((seed) => ({ policy, seed })));
      const rate = runs.filter((r) => r.ok && r.success).length / runs.length;
      bestValidation = Math.max(bestValidation, rate);
      if (rate >= target) return { episodes: b.episodes, seconds: b.seconds, dollars: b.dollars, validation: rate };
    }
    return { episodes: trainEpisodes(), seconds: (performance.now() - started) / 1000, dollars: store.study(study.id)?.costUsd ?? 0, validation: bestValidation, missed: true };
  } finally {
    store.close();
  }
}

/** A result as one line. */
export function describeReached(label: string, r: Reached): string {
  const dollars = r.dollars > 0 ? `, $${r.dollars.toFixed(2)}` : '';
  return `${label}: ${r.missed ? `not reached within ${r.episodes}` : r.episodes} training episodes, ${r.seconds.toFixed(1)} s search wall time${dollars}, best validation ${(r.validation * 100).toFixed(1)}%`;
}

/** Where a bench keeps its databases. */
export function benchDb(dir: string, name: string): string {
  return join(dir, `${name}.db`);
}
