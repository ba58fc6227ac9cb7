/**
 * One evaluator worker thread (started by `EvaluatorPool` through worker-entry.js): loads the
 * scenario and one MuJoCo world once, then runs the episodes the pool sends, one at a time, and
 * posts each result back with its trace encoded (the buffer is transferred, not copied).
 * Every episode failure is caught here and reported as a value; only a hang needs the pool's guard.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PolicyFile } from '../policy/file.ts';
import type { AxisValue } from '../scenario/perturbation.ts';
import { LinkDroppedError } from '../robot/graph.ts';
import { parseBackend } from '../robot/links.ts';
import { SimDivergedError } from '../robot/sim-link.ts';
import { loadScenario, withCalibration } from '../scenario/load.ts';
import type { Score } from '../tasks/task.ts';
import { encodeTrace } from '../trace/trace.ts';
import { EpisodeRunner } from './episode.ts';
import { throttledFrames } from './live.ts';

/** What the pool passes to a new worker. */
export interface WorkerInit {
  /** Scenario file to load. */
  scenarioPath: string;
  /** Where episodes run (`sim`, `rosbridge://...`, `ros2`); default sim. */
  backend?: string;
  /** Live frames per second of wall time; absent when nobody watches. */
  liveFps?: number;
  /** Where policies keep the study's cache (prompt policies: model replies); absent: none. */
  cacheDir?: string;
  /** A calibration file in place of the scenario's own; absent: the scenario's. */
  calibration?: string;
}

/** Pool → worker. */
export type ToWorker =
  | {
      type: 'run';
      /** Pool-wide job id, echoed in every reply about this job. */
      id: number;
      /** The policy to run. */
      policy: PolicyFile;
      /** The episode seed. */
      seed: number;
      /** The world's perturbation (absent: nominal). */
      perturbation?: AxisValue[];
    }
  | {
      type: 'live';
      /** Live frames per second from the next episode on; absent: none (nobody watches). */
      fps?: number;
    };

/** Worker → pool. */
export type FromWorker =
  | {
      type: 'ready';
      /** The scenario's `episode.wall_time_limit` (s), for the pool's hang guard. */
      wallTimeLimit: number;
    }
  | {
      type: 'startup-error';
      /** Why the scenario or the world could not be loaded. */
      message: string;
    }
  | {
      type: 'frame';
      /** Job id. */
      id: number;
      /** Simulated time (s). */
      time: number;
      /** A copy of the world's qpos. */
      qpos: Float64Array;
    }
  | ({
      type: 'done';
      /** Job id. */
      id: number;
      /** The encoded trace (`encodeTrace`). */
      trace: Uint8Array;
      /** Wall-clock seconds of the episode. */
      wallTime: number;
    } & Score)
  | {
      type: 'failed';
      /** Job id. */
      id: number;
      /** The error's message. */
      reason: string;
      /** Wall-clock seconds until the failure. */
      wallTime: number;
      /** The link to the robot dropped: the episode was cut off, not failed. */
      aborted?: boolean;
      /** The worker ends after this answer: the pool must start another, not hand it the job sent ahead. */
      fatal?: boolean;
    };

const port = parentPort;
if (!port) throw new Error('src/evaluation/worker.ts runs inside a worker thread; use EvaluatorPool to start it.');
const init = workerData as WorkerInit;
/** Live frames per second, changed by the pool as viewers come and go. */
let liveFps = init.liveFps;
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/** Loads the scenario and its world; reports a failure to the pool instead of throwing. */
async function start(): Promise<EpisodeRunner | undefined> {
  try {
    const loaded = await loadScenario(init.scenarioPath);
    const scenario = init.calibration ? withCalibration(loaded, init.calibration) : loaded;
    const runner = await EpisodeRunner.create(scenario, parseBackend(init.backend ?? 'sim'), undefined, { cacheDir: init.cacheDir });
    post({ type: 'ready', wallTimeLimit: scenario.episode.wall_time_limit });
    return runner;
  } catch (err) {
    post({ type: 'startup-error', message: (err as Error)?.message ?? String(err) });
    return undefined;
  }
}

// Without a runner nothing listens, and the thread ends on its own after the error is posted.
const runner = await start();
// The pool sends the next job while one runs: jobs wait their turn here, one episode at a time.
let turn = Promise.resolve();
if (runner) {
  port.on('message', (message: ToWorker) => {
    if (message.type === 'live') liveFps = message.fps;
    else turn = turn.then(() => runJob(runner, message));
  });
}

/** Posts the world's current state as a live frame (links that have a world state to show). */
function postFrame(runner: EpisodeRunner, id: number): void {
  const snapshot = runner.link.snapshot();
  if (!snapshot) return;
  post({ type: 'frame', id, time: snapshot.time, qpos: snapshot.qpos }, [snapshot.qpos.buffer as ArrayBuffer]);
}

/** Runs one episode and posts its result. Episodes run one at a time: a run blocks this thread. */
async function runJob(runner: EpisodeRunner, { id, policy, seed, perturbation }: Extract<ToWorker, { type: 'run' }>): Promise<void> {
  const started = performance.now();
  const frames = liveFps ? throttledFrames(liveFps, () => postFrame(runner, id)) : undefined;
  try {
    const run = await runner.run(policy, seed, frames?.tick, perturbation);
    frames?.last();
    const trace = encodeTrace(run.trace);
    const { success, score, outcome, terms, metrics, wallTime } = run;
    post({ type: 'done', id, success, score, outcome, terms, metrics, trace, wallTime }, [trace.buffer as ArrayBuffer]);
  } catch (err) {
    const wallTime = (performance.now() - started) / 1000;
    const reason = (err as Error)?.message ?? String(err);
    if (err instanceof WebAssembly.RuntimeError) {
      // MuJoCo's wasm instance aborted (out of memory, a trap): it cannot be trusted again. Report,
      // then end this thread; the pool starts a fresh worker in its place.
      post({ type: 'failed', id, reason: `MuJoCo's WebAssembly instance failed (${reason}); worker restarted`, wallTime, fatal: true });
      process.exit(1);
    }
    if (!(err instanceof SimDivergedError)) frames?.last();
    post({ type: 'failed', id, reason, wallTime, aborted: err instanceof LinkDroppedError });
  }
}
