/**
 * One policy on a range of seeds, in parallel workers: the success rate, mean score and spread.
 * What `arbor eval` prints and `arbor mcp`'s evaluate tool returns.
 */
import type { PolicyFile } from '../policy/file.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { AxisValue } from '../scenario/perturbation.ts';
import type { EpisodeResult } from './evaluator.ts';
import { EvaluatorPool } from './pool.ts';
import { meanStd, wilson, type Interval } from '../scoring/stats.ts';

/** One episode of an evaluation. */
export interface EvaluatedEpisode {
  /** Seed. */
  seed: number;
  /** The task was done. */
  success: boolean;
  /** Score (0 for a crash). */
  score: number;
  /** How it ended (`crash` when it never finished). */
  outcome: string;
  /** Why it crashed. */
  reason?: string;
}

/** An evaluation's figures (snake case: they are printed as JSON). */
export interface Evaluation {
  /** Fraction of successful episodes. */
  success_rate: number;
  /** Wilson 95% interval of the success rate. */
  success_interval: Interval;
  /** Episodes behind the figures. */
  n: number;
  /** Mean score. */
  score_mean: number;
  /** Sample standard deviation of the score. */
  score_std: number;
  /** Every episode, in seed order. */
  episodes: EvaluatedEpisode[];
}

/**
 * Runs `policy` on `seeds` with `workers` threads; `onResult` sees each episode as it finishes.
 * `perturbation` gives each seed's world (absent: the scenario's own, calibrated if it says so).
 * When `signal` aborts, the episodes in flight stop at once and the call rejects with its reason.
 */
export async function evaluatePolicy(
  scenario: LoadedScenario,
  policy: PolicyFile,
  seeds: number[],
  workers: number,
  onResult?: (result: EpisodeResult) => void,
  perturbation?: (seed: number) => AxisValue[],
  signal?: AbortSignal,
): Promise<Evaluation> {
  const pool = await EvaluatorPool.create(scenario.file, { workers, jobs: seeds.length, calibration: scenario.calibration?.file, signal });
  const cancel = () => pool.cancel('cancelled');
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    signal?.throwIfAborted();
    const results = await pool.evaluate(seeds.map((seed) => ({ policy, seed, perturbation: perturbation?.(seed) })), onResult);
    signal?.throwIfAborted();
    const episodes: EvaluatedEpisode[] = results.map((r) =>
      r.ok ? { seed: r.seed, success: r.success, score: r.score, outcome: r.outcome } : { seed: r.seed, success: false, score: 0, outcome: 'crash', reason: r.reason },
    );
    const { mean, std } = meanStd(episodes.map((e) => e.score));
    const successes = episodes.filter((e) => e.success).length;
    return { success_rate: successes / episodes.length, success_interval: wilson(successes, episodes.length), n: episodes.length, score_mean: mean, score_std: std, episodes };
  } finally {
    signal?.removeEventListener('abort', cancel);
    await pool.close();
  }
}
