/**
 * Per-worker throughput of a study's episodes, whatever evaluates them: the threads of the
 * in-process pool or the `arbor worker` processes of a queue. The dashboard's workers panel and
 * the progress line read it. It counts results as they come; episodes ended by a drain are no
 * one's work and are not counted.
 */
import type { EpisodeResult, Evaluator } from './evaluator.ts';
import type { WorkerThroughput } from './live.ts';

/** Seconds of results a rate is measured over. */
const WINDOW_SECONDS = 30;

export class ThroughputMeter {
  private readonly workers = new Map<string, { episodes: number; times: number[] }>();
  private readonly started = Date.now();

  /** Counts a finished episode for its worker. */
  record(result: EpisodeResult, now = Date.now()): void {
    if (result.worker < 0) return;
    const name = result.workerName ?? `thread ${result.worker}`;
    const w = this.workers.get(name) ?? { episodes: 0, times: [] };
    w.episodes++;
    w.times.push(now);
    this.workers.set(name, w);
  }

  /** Each worker's episodes so far and its episodes/s over the last 30 s (or since the start, if sooner), by name. */
  snapshot(now = Date.now()): WorkerThroughput[] {
    const window = Math.min(WINDOW_SECONDS, Math.max(1, (now - this.started) / 1000));
    return [...this.workers]
      .map(([worker, w]) => {
        while (w.times.length && w.times[0] < now - window * 1000) w.times.shift();
        return { worker, episodes: w.episodes, rate: w.times.length / window };
      })
      .sort((a, b) => (a.worker < b.worker ? -1 : a.worker > b.worker ? 1 : 0));
  }
}

/** `inner`, with every result it delivers counted by `meter`. */
export function metered(inner: Evaluator, meter: ThroughputMeter): Evaluator {
  return {
    evaluate: (jobs, onResult) =>
      inner.evaluate(jobs, (result) => {
        meter.record(result);
        onResult?.(result);
      }),
    drain: () => inner.drain(),
    close: () => inner.close(),
  };
}
