/**
 * The page's frame clock: the interval between animation frames and the time each render took,
 * over the last few seconds, for the info line's frame rate and for the benchmarks.
 */

/** Samples kept of each (about 4 s at 60 frames per second). */
const WINDOW = 240;

export class FrameClock {
  /** Milliseconds between the last animation frames. */
  readonly frameTimes: number[] = [];
  /** Milliseconds the last renders took. */
  readonly renderMs: number[] = [];
  private last: number | undefined;

  /** Notes an animation frame at `now` (ms) and returns the seconds since the previous one (0 for the first). */
  tick(now: number): number {
    const interval = this.last === undefined ? 0 : now - this.last;
    this.last = now;
    push(this.frameTimes, interval);
    return interval / 1000;
  }

  /** Notes a render that took `ms`. */
  rendered(ms: number): void {
    push(this.renderMs, ms);
  }

  /** Animation frames per second over the window. */
  get fps(): number {
    const mean = this.frameTimes.reduce((a, b) => a + b, 0) / Math.max(1, this.frameTimes.length);
    return mean > 0 ? 1000 / mean : 0;
  }
}

function push(window: number[], value: number): void {
  window.push(value);
  if (window.length > WINDOW) window.shift();
}
