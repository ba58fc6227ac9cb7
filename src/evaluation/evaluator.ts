/**
 * The `Evaluator`: what a study hands its episodes to. The worker-thread pool is one; a queue of
 * remote workers is another. Results come back one by one as they finish, and never as a throw:
 * a failed episode is a result with its reason.
 */
import type { PolicyFile } from '../policy/file.ts';
import type { AxisValue } from '../scenario/perturbation.ts';
import type { Split } from '../store/schema.ts';
import type { Score } from '../tasks/task.ts';
import type { Trace } from '../trace/trace.ts';

/** What a study's episode is for: a split it is recorded under, or a researcher's probe (never recorded). */
export type JobSplit = Split | 'probe';

/** One episode to evaluate. */
export interface EpisodeJob {
  /** The policy to run. */
  policy: PolicyFile;
  /** The episode seed. */
  seed: number;
  /** The world's perturbation (sim only; absent: the nominal world, or the scenario's calibrated one). */
  perturbation?: AxisValue[];
  /** The study candidate it is an episode of (it labels live frames and queue jobs); absent outside a study. */
  candidate?: number;
  /** What a study's episode is for; the study records it under this split. Absent outside a study. */
  split?: JobSplit;
}

/** What every result carries. */
interface ResultBase {
  /** The job, as given. */
  job: EpisodeJob;
  /** Index of the worker that ran it; -1 when no worker did (cancelled). */
  worker: number;
  /** Who ran it, for people: a remote worker's name (`host-pid`); absent for the in-process pool's threads. */
  workerName?: string;
  /** The episode seed (a copy of `job.seed`). */
  seed: number;
  /** Wall-clock seconds the episode took (0 when it never ran). */
  wallTime: number;
}

/** A finished episode, or why it has none. */
export type EpisodeResult =
  | (ResultBase & Score & {
      /** The episode finished and was scored. */
      ok: true;
      /** The recorded topics. */
      trace: Trace;
    })
  | (ResultBase & {
      /** The episode crashed, diverged, overran its wall time, was aborted or was cancelled. */
      ok: false;
      /** Why, as a sentence; exactly `cancelled` for jobs dropped by `drain()`. */
      reason: string;
      /** True when the episode did not fail but was cut off (a link dropped): run it again. */
      aborted?: boolean;
    });

export interface Evaluator {
  /**
   * Runs the jobs; resolves with the results in job order and calls `onResult` as each one
   * finishes. Rejects only when the evaluator is closed, or (after all results are in) with the
   * first error `onResult` threw.
   */
  evaluate(jobs: EpisodeJob[], onResult?: (result: EpisodeResult) => void): Promise<EpisodeResult[]>;
  /** Stops taking jobs: jobs in flight finish; queued and later jobs end as `cancelled`. */
  drain(): void;
  /** Drains, waits for the jobs in flight, and frees everything. */
  close(): Promise<void>;
}

/** The results of one `evaluate` call as they arrive. */
export interface ResultGathering {
  /** Takes the result of job `index`: calls `onResult`, and settles the call once all are in. */
  deliver(index: number, result: EpisodeResult): void;
  /** Settles the call now with `error` (later results are ignored). */
  fail(error: Error): void;
  /** True once the call has resolved or rejected. */
  readonly settled: boolean;
}

/**
 * What every evaluator does with one call's results: keep them in job order, hand each to
 * `onResult` as it finishes, and resolve once all are in, or reject with the first error
 * `onResult` threw (after all are in, so no result is lost to a broken callback).
 */
export function gatherResults(
  count: number,
  onResult: ((result: EpisodeResult) => void) | undefined,
  resolve: (results: EpisodeResult[]) => void,
  reject: (error: unknown) => void,
): ResultGathering {
  const results = new Array<EpisodeResult>(count);
  let remaining = count;
  let settled = false;
  let callbackError: { error: unknown } | undefined;
  return {
    deliver(index, result) {
      if (settled) return;
      results[index] = result;
      try {
        onResult?.(result);
      } catch (error) {
        callbackError ??= { error };
      }
      if (--remaining > 0) return;
      settled = true;
      if (callbackError) reject(callbackError.error);
      else resolve(results);
    },
    fail(error) {
      if (settled) return;
      settled = true;
      reject(error);
    },
    get settled() {
      return settled;
    },
  };
}
