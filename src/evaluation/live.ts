/**
 * The live feed of a running study: every evaluating worker reports the state of the episode it
 * runs, throttled to the viewer's frame rate. The study publishes here; whoever watches (the
 * viewer's server, wired by the CLI) subscribes. research never imports the viewer.
 */
import { EventEmitter } from 'node:events';

/** One live snapshot of an episode being evaluated. */
export interface LiveFrame {
  /** Worker index (0-based) that runs the episode. */
  worker: number;
  /** Study id. */
  study: string;
  /** Candidate id in the store. */
  candidate: number;
  /** Episode seed. */
  seed: number;
  /** Simulated time (s). */
  time: number;
  /** The full MuJoCo qpos of the world (robot joints, fingers, object free joint). */
  qpos: Float64Array;
}

/** How fast one worker (a pool thread or an `arbor worker` process) runs a study's episodes. */
export interface WorkerThroughput {
  /** Its name: `thread N` in the pool, the worker's name (`host-pid`) in a queue. */
  worker: string;
  /** Episodes it finished for this study so far. */
  episodes: number;
  /** Episodes per second over the last 30 s. */
  rate: number;
}

/** Study-level events the dashboard refreshes on. */
export interface LiveEvents {
  frame: [LiveFrame];
  /** A candidate was added or got its result. */
  candidate: [{ study: string; candidate: number }];
  /** An episode was stored. */
  episode: [{ study: string; candidate: number; seed: number }];
  /** Per-worker throughput, every couple of seconds while episodes run. */
  workers: [{ study: string; workers: WorkerThroughput[] }];
  /** The feed started (true) or stopped (false) being watched. */
  watched: [boolean];
}

/** A throttled live-frame source for one episode: `tick` posts at most `fps` frames per second of wall time; `last` posts at once (the episode's end, which the throttle may have skipped). */
export interface FrameThrottle {
  tick: () => void;
  last: () => void;
}

export function throttledFrames(fps: number, post: () => void): FrameThrottle {
  const interval = 1000 / fps;
  let next = 0;
  return {
    tick: () => {
      const now = performance.now();
      if (now < next) return;
      next = now + interval;
      post();
    },
    last: post,
  };
}

export class LiveFeed extends EventEmitter<LiveEvents> {
  private watchers = 0;

  /** True while something shows the frames: a viewer in this process, or one connected to the relay. */
  get watched(): boolean {
    return this.watchers > 0;
  }

  /**
   * Counts one watcher until the returned function is called (again: no effect). Producers skip
   * frames nobody watches: a study's workers post none until a viewer comes.
   */
  watch(): () => void {
    if (this.watchers++ === 0) this.emit('watched', true);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      if (--this.watchers === 0) this.emit('watched', false);
    };
  }
}
