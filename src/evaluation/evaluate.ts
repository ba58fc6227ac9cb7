/**
 * One policy on a range of seeds, in parallel workers: the success rate, mean score and spread.
 * What `arbor eval` prints and `arbor mcp`'s evaluate tool returns.
 */
import type { PolicyFile } from '../policy/file.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { EpisodeResult } from './evaluator.ts';
import { EvaluatorPool } from './pool.ts';
import { meanStd } from '../scoring/stats.ts';

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
  /** Mean score. */
  score_mean: number;
  /** Sample standard deviation of the score. */
  score_std: number;
  /** Every episode, in seed order. */
  episodes: EvaluatedEpisode[];
}

/** Runs `policy` on `seeds` with `workers` threads; `onResult` sees each episode as it finishes. */
export async function evaluatePolicy(scenario: LoadedScenario, policy: PolicyFile, seeds: number[], workers: number, onResult?: (result: EpisodeResult) => void): Promise<Evaluation> {
  const pool = await EvaluatorPool.create(scenario.file, { workers, jobs: seeds.length });
  try {
    const results = await pool.evaluate(seeds.map((seed) => ({ policy, seed })), onResult);
    const episodes: EvaluatedEpisode[] = results.map((r) =>
      r.ok ? { seed: r.seed, success: r.success, score: r.score, outcome: r.outcome } : { seed: r.seed, success: false, score: 0, outcome: 'crash', reason: r.reason },
    );
    const { mean, std } = meanStd(episodes.map((e) => e.score));
    return { success_rate: episodes.filter((e) => e.success).length / episodes.length, score_mean: mean, score_std: std, episodes };
  } finally {
    await pool.close();
  }
}
