/**
 * The `Evaluator`: what a study hands its episodes to. The worker-thread pool is one; a queue of
 * remote workers is another. Results come back one by one as they finish, and never as a throw:
 * a failed episode is a result with its reason.
 */
import type { PolicyFile } from '../policy/policy.ts';
import type { Score } from '../tasks/task.ts';
import type { Trace } from '../trace/trace.ts';

/** One episode to evaluate. */
export interface EpisodeJob {
  /** The policy to run. */
  policy: PolicyFile;
  /** The episode seed. */
  seed: number;
  /** Opaque, returned with the result; `{candidate: number}` also labels live frames. */
  tag?: unknown;
}

/** What every result carries. */
interface ResultBase {
  /** The job, as given. */
  job: EpisodeJob;
  /** Index of the worker that ran it; -1 when no worker did (cancelled). */
  worker: number;
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
