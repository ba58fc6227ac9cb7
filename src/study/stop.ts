/**
 * The stop rule: whether the search should end, checked before each ask (so a paid researcher is
 * not asked in vain). A pure function of what is spent and the config.
 */
import type { StopReason, StudyConfig } from './config.ts';
import type { CandidateFigure } from './judge.ts';

/** What the budget has spent so far, as the stop rule sees it. */
export interface BudgetView {
  /** Candidates proposed so far, the baseline included. */
  candidates: number;
  /** About how many proposals the next generation has. */
  batch: number;
  /** Training episodes stored. */
  trainEpisodes: number;
  /** Probe episodes the researcher ran. */
  probeEpisodes: number;
  /** Wall-clock seconds over all runs. */
  elapsed: number;
  /** Seconds the last generation took. */
  lastGenerationSeconds: number;
  /** Dollars spent. */
  costUsd: number;
  /** Generations in a row that kept nothing. */
  sinceKept: number;
  /** The best candidate's training figures. */
  best: Pick<CandidateFigure, 'episodes' | 'success_rate'>;
}

type StopConfig = Pick<StudyConfig, 'budget' | 'seedsPerCandidate' | 'patience' | 'targetSuccess'>;

/** Why the search should end now, or undefined to ask for another generation. */
export function stopReason(view: BudgetView, config: StopConfig): StopReason | undefined {
  const b = config.budget;
  if (view.candidates + view.batch > b.candidates) return 'budget-candidates';
  if (view.trainEpisodes + view.probeEpisodes + (view.batch + 1) * config.seedsPerCandidate > b.episodes) return 'budget-episodes';
  if (view.elapsed + view.lastGenerationSeconds > b.wallTime) return 'wall-time';
  if (b.costUsd !== undefined && view.costUsd >= b.costUsd) return 'cost';
  if (config.patience !== undefined && view.sinceKept >= config.patience) return 'patience';
  // Over two generations of seeds at least: one generation's lucky streak is not evidence.
  if (config.targetSuccess !== undefined && view.best.episodes >= 2 * config.seedsPerCandidate && view.best.success_rate >= config.targetSuccess) return 'target-success';
  return undefined;
}
