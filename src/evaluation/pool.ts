/**
 * The evaluator pool: worker threads, one MuJoCo world each, that run episodes in parallel.
 * `evaluate(jobs)` spreads (policy, seed) jobs over the workers and answers in job order. An
 * episode that throws, diverges or hangs becomes a crash result, never a rejection: a worker that
 * does not answer within the scenario's wall-time limit × 1.5 + 5 s is stopped and replaced, so a
 * hung policy cannot stall a study. Traces come back encoded (transferred) and are decoded here.
 *
 * While a worker runs a job, the pool sends it the next one ahead, so the worker starts it as soon
 * as it posts the last: it never waits for this thread (decoding, storing, live frames) between
 * episodes. Near the end of the queue nothing is sent ahead, so no idle worker watches a job wait
 * behind a busy one.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { decodeTrace, type Trace } from '../trace/trace.ts';
import { gatherResults, type EpisodeJob, type EpisodeResult, type Evaluator } from './evaluator.ts';
import type { LiveFrame } from './live.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker.ts';

/** worker-entry.js registers tsx in the thread, then loads worker.ts. */
const WORKER_ENTRY = new URL('./worker-entry.js', import.meta.url);

/** The parts of a result the pool adds to a worker's answer. */
type ResultBase = Pick<EpisodeResult, 'job' | 'worker' | 'seed' | 'wallTime'>;

/** Live viewing of the episodes being evaluated. */
export interface PoolLiveOptions {
  /** Study id stamped on every frame. */
  study: string;
  /** Frames per second of wall time, per worker (default 30). */
  fps?: number;
  /** Start with no frames, until `showLive(true)` (nobody watches yet); default: frames from the start. */
  hidden?: boolean;
  /** Called in the main thread for each frame; must be cheap and must not throw. */
  onFrame: (frame: LiveFrame) => void;
}

/** Options of `EvaluatorPool.create`. */
export interface PoolOptions {
  /** Worker threads (default `os.availableParallelism()`); capped by the cores (sim) and by `jobs`. */
  workers?: number;
  /** The most jobs the pool will ever run at once (e.g. the seeds of an eval): no more workers than that. */
  jobs?: number;
  /** Where episodes run: `sim` (default), `rosbridge://HOST:PORT`, `ros2[:NS]`. */
  backend?: string;
  /** Post live frames while episodes run; off (and free) when absent. */
  live?: PoolLiveOptions;
  /** A directory every worker's policies share as their cache (a study's model replies); absent: none. */
  cacheDir?: string;
  /** Stops the workers while they start (a caller that gave up); `create` then rejects with its reason. */
  signal?: AbortSignal;
  /** A calibration file the workers load the world with, in place of the scenario's own (`--calibration`). */
  calibration?: string;
}

/** A job waiting for, or running on, a worker. */
interface Pending {
  /** Pool-wide job id. */
  id: number;
  /** The job. */
  job: EpisodeJob;
  /** Hands the result to its `evaluate` call. */
  deliver: (result: EpisodeResult) => void;
}

/** A job on a worker. */
interface Running extends Pending {
  /** `performance.now()` when it was sent. */
  sent: number;
  /** The hang guard. */
  timer: NodeJS.Timeout;
}

/** One worker position; its thread is replaced when it hangs or dies. */
interface Slot {
  /** Worker index, stable across replacements. */
  index: number;
  /** `idle` and `busy` have a worker; `starting` waits for a replacement; `dead` has none for good. */
  state: 'idle' | 'busy' | 'starting' | 'dead';
  /** The thread, when there is one. */
  worker?: Worker;
  /** The job in flight when `busy`. */
  running?: Running;
  /** The job sent ahead while `running` runs; the worker starts it when `running` ends. */
  next?: Pending;
  /** Why the slot is dead. */
  deadReason?: string;
}

export class EvaluatorPool implements Evaluator {
  private readonly queue: Pending[] = [];
  private nextId = 0;
  private draining = false;
  private closing: Promise<void> | undefined;
  /** Replacement workers still starting. */
  private readonly starting = new Set<Promise<unknown>>();
  /** Resolved whenever a job finishes (close waits for in-flight jobs). */
  private idleWaiters: (() => void)[] = [];

  private constructor(
    /** What each worker (and each replacement) starts with. */
    private readonly init: WorkerInit,
    private readonly live: PoolLiveOptions | undefined,
    /** The scenario's `episode.wall_time_limit` (s). */
    private readonly wallTimeLimit: number,
    private readonly slots: Slot[],
  ) {}

  /**
   * Starts the workers and waits until each has loaded the scenario and its world. Rejects with
   * the worker's message when the scenario cannot be loaded.
   */
  static async create(scenarioPath: string, options: PoolOptions = {}): Promise<EvaluatorPool> {
    options.signal?.throwIfAborted();
    const { count } = workerCount(options);
    const fps = options.live?.fps;
    if (fps !== undefined && !(fps > 0)) throw new Error(`\`live.fps=${fps}\` must be positive; leave it out for 30.`);
    const liveFps = options.live && !options.live.hidden ? (fps ?? 30) : undefined;
    const init: WorkerInit = { scenarioPath, backend: options.backend, liveFps, cacheDir: options.cacheDir, calibration: options.calibration };
    const started = await Promise.allSettled(Array.from({ length: count }, () => startWorker(init, options.signal)));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed || options.signal?.aborted) {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.worker.terminate() : undefined)));
      options.signal?.throwIfAborted();
      throw (failed as PromiseRejectedResult).reason;
    }
    const workers = started.map((s) => (s as PromiseFulfilledResult<Started>).value);
    const slots: Slot[] = workers.map((_, index) => ({ index, state: 'idle' }));
    const pool = new EvaluatorPool(init, options.live, workers[0].wallTimeLimit, slots);
    workers.forEach((w, i) => pool.attach(slots[i], w.worker));
    return pool;
  }

  /** Number of worker positions. */
  get size(): number {
    return this.slots.length;
  }

  /** Seconds the pool waits for an episode before it stops and replaces the worker. */
  get guardSeconds(): number {
    return this.wallTimeLimit * 1.5 + 5;
  }

  /**
   * Runs jobs across the workers; resolves with the results in job order and calls `onResult`
   * as each one finishes (completion order). Never rejects because of an episode: a throw, a
   * diverged sim or a wall-time overrun is an `{ok: false}` result. Rejects only when the pool is
   * closed, or (after all results are in) with the first error `onResult` threw.
   */
  evaluate(jobs: EpisodeJob[], onResult?: (result: EpisodeResult) => void): Promise<EpisodeResult[]> {
    if (this.closing) return Promise.reject(new Error('The evaluator pool is closed; create a new one to evaluate more.'));
    if (jobs.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const gathering = gatherResults(jobs.length, onResult, resolve, reject);
      jobs.forEach((job, i) => this.queue.push({ id: this.nextId++, job, deliver: (result) => gathering.deliver(i, result) }));
      this.pump();
    });
  }

  /**
   * Turns live frames on or off (a viewer came or went) from each worker's next episode on; a
   * pool made without `live` has none to show. Frames nobody watches cost the workers and this
   * thread a message each.
   */
  showLive(on: boolean): void {
    if (!this.live) return;
    this.init.liveFps = on ? (this.live.fps ?? 30) : undefined;
    const message: ToWorker = { type: 'live', fps: this.init.liveFps };
    for (const slot of this.slots) slot.worker?.postMessage(message);
  }

  /** Stops taking jobs: jobs in flight finish; queued and later jobs end as `cancelled` (Ctrl-C). */
  drain(): void {
    this.draining = true;
    // A job sent ahead has not started: it is cancelled like a queued one. Its worker may still
    // run it, but nobody waits for that answer (a reply for a job not running is ignored).
    for (const slot of this.slots) this.queue.unshift(...this.takeNext(slot));
    this.pump();
  }

  /**
   * Drains and stops the jobs in flight at once, their workers with them: each ends as a crash
   * with `reason`. For a caller that gave up (an MCP request cancelled); the pool takes no more jobs.
   */
  cancel(reason: string): void {
    this.drain();
    for (const slot of this.slots) {
      if (slot.state === 'busy') this.restart(slot, { ok: false, reason });
    }
  }

  /** Drains, waits for the jobs in flight, and stops every worker. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.drain();
      while (this.slots.some((s) => s.state === 'busy')) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      }
      while (this.starting.size) await Promise.allSettled([...this.starting]);
      const workers = this.slots.flatMap((s) => (s.worker ? [s.worker] : []));
      for (const slot of this.slots) kill(slot, 'the pool is closed');
      await Promise.all(workers.map((w) => w.terminate()));
    })();
    return this.closing;
  }

  /** Hands queued jobs to idle workers, or ends them when no worker will ever take them. */
  private pump(): void {
    if (this.draining || this.slots.every((s) => s.state === 'dead')) {
      const dead = this.slots.find((s) => s.deadReason)?.deadReason;
      const reason = this.draining ? 'cancelled' : `No evaluator worker is left: ${dead}`;
      for (const pending of this.queue.splice(0)) {
        pending.deliver({ ok: false, job: pending.job, worker: -1, seed: pending.job.seed, reason, wallTime: 0 });
      }
      return;
    }
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.state === 'idle') this.dispatch(slot, this.queue.shift()!);
    }
    // Send ahead only while every other worker could still take a queued job after this one.
    for (const slot of this.slots) {
      if (this.queue.length < this.slots.length) return;
      if (slot.state === 'busy' && !slot.next) this.sendAhead(slot, this.queue.shift()!);
    }
  }

  private dispatch(slot: Slot, pending: Pending): void {
    slot.state = 'busy';
    slot.worker!.ref();
    this.start(slot, pending);
    const unsent = this.post(slot, pending);
    if (unsent) this.finish(slot, { ok: false, reason: unsent });
  }

  /** Sends a busy slot's worker its next job; when that fails, the job goes back to the queue's head. */
  private sendAhead(slot: Slot, pending: Pending): void {
    slot.next = pending;
    const unsent = this.post(slot, pending);
    if (unsent) {
      slot.next = undefined;
      this.queue.unshift(pending);
    }
  }

  /** Makes a job the slot's running one, from when the worker starts it: the hang guard counts from here. */
  private start(slot: Slot, pending: Pending): void {
    const timer = setTimeout(() => this.onHang(slot), this.guardSeconds * 1000);
    slot.running = { ...pending, sent: performance.now(), timer };
  }

  /** Posts a job to the slot's worker; says why when it cannot be sent. */
  private post(slot: Slot, { id, job }: Pending): string | undefined {
    const message: ToWorker = { type: 'run', id, policy: job.policy, seed: job.seed, perturbation: job.perturbation };
    try {
      slot.worker!.postMessage(message);
      return undefined;
    } catch (err) {
      return `The job cannot be sent to a worker: ${(err as Error).message}`;
    }
  }

  /** The job sent ahead to a slot's worker, taken back (to requeue or cancel): none, or one. */
  private takeNext(slot: Slot): Pending[] {
    const next = slot.next;
    slot.next = undefined;
    return next ? [next] : [];
  }

  /**
   * Ends the running job of a slot with `outcome`: the job sent ahead (the worker has begun it) or
   * the queue moves on first, then the result is handed over, so the caller's work on it (storing
   * it) overlaps the next episode.
   */
  private finish(slot: Slot, outcome: DistributiveOmit<EpisodeResult, keyof ResultBase> & { wallTime?: number }): void {
    const running = slot.running!;
    clearTimeout(running.timer);
    slot.running = undefined;
    const [next] = slot.state === 'busy' ? this.takeNext(slot) : [];
    if (next) this.start(slot, next);
    else if (slot.state === 'busy') {
      slot.state = 'idle';
      slot.worker?.unref();
    }
    this.pump();
    const wallTime = outcome.wallTime ?? (performance.now() - running.sent) / 1000;
    const { job } = running;
    running.deliver({ ...outcome, job, worker: slot.index, seed: job.seed, wallTime } as EpisodeResult);
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private onMessage(slot: Slot, message: FromWorker): void {
    const running = slot.running;
    if (message.type === 'ready' || message.type === 'startup-error' || running?.id !== message.id) return;
    if (message.type === 'frame') {
      const { candidate = -1, seed } = running.job;
      const { time, qpos } = message;
      this.live?.onFrame({ worker: slot.index, study: this.live.study, candidate, seed, time, qpos });
    } else if (message.type === 'failed') {
      const outcome = { ok: false as const, reason: message.reason, wallTime: message.wallTime, ...(message.aborted ? { aborted: true } : {}) };
      // A worker that ends after this answer must not be handed the job sent ahead.
      if (message.fatal) this.restart(slot, outcome);
      else this.finish(slot, outcome);
    } else {
      const { success, score, outcome, terms, metrics, wallTime } = message;
      if (!Number.isFinite(score)) {
        this.finish(slot, { ok: false, reason: `The episode scored ${score}, so it counts as a crash (the sim likely diverged).`, wallTime });
        return;
      }
      let trace: Trace;
      try {
        trace = decodeTrace(message.trace);
      } catch (err) {
        this.finish(slot, { ok: false, reason: `The episode's trace cannot be decoded: ${(err as Error).message}`, wallTime });
        return;
      }
      this.finish(slot, { ok: true, success, score, outcome, terms, metrics, trace, wallTime });
    }
  }

  /** The guard fired: the worker is stuck in an episode. Stop it, report, start a new one. */
  private onHang(slot: Slot): void {
    const limit = this.wallTimeLimit;
    this.restart(slot, {
      ok: false,
      reason:
        `The episode did not finish within ${this.guardSeconds} s (the scenario's wall-time limit of ${limit} s × 1.5 + 5 s), ` +
        `so worker ${slot.index} was stopped and replaced.`,
    });
  }

  /** Stops a busy slot's worker, ends its running job with `outcome` and starts a new worker in its place. */
  private restart(slot: Slot, outcome: { ok: false; reason: string; wallTime?: number; aborted?: boolean }): void {
    const worker = slot.worker;
    this.retire(slot);
    void worker?.terminate();
    this.finish(slot, outcome);
    this.replace(slot);
  }

  /** The worker thread ended on its own (an uncaught error, out of memory). */
  private onExit(slot: Slot, worker: Worker, code: number, lastError: string | undefined): void {
    if (slot.worker !== worker) return;
    this.retire(slot);
    const why = lastError ?? `it exited with code ${code}`;
    if (slot.running) this.finish(slot, { ok: false, reason: `Worker ${slot.index} stopped during the episode: ${why}` });
    this.replace(slot);
  }

  /** Detaches the slot's worker; the slot waits for a replacement. Its job sent ahead goes back to the queue's head. */
  private retire(slot: Slot): void {
    slot.worker = undefined;
    slot.state = 'starting';
    this.queue.unshift(...this.takeNext(slot));
  }

  /** Starts a new worker for a slot; when even that fails, the slot is dead for good. */
  private replace(slot: Slot): void {
    if (this.draining) {
      kill(slot, 'the pool was drained');
      this.pump();
      return;
    }
    const start = startWorker(this.init).then(
      ({ worker }) => {
        if (this.draining) {
          kill(slot, 'the pool was drained');
          return worker.terminate();
        }
        this.attach(slot, worker);
        this.pump();
      },
      (err: Error) => {
        kill(slot, `a replacement for worker ${slot.index} failed to start: ${err.message}`);
        this.pump();
      },
    );
    this.starting.add(start);
    void start.finally(() => this.starting.delete(start));
  }

  /** Makes a started worker the slot's, idle and not keeping the process alive. */
  private attach(slot: Slot, worker: Worker): void {
    let lastError: string | undefined;
    worker.on('message', (message: FromWorker) => this.onMessage(slot, message));
    worker.on('error', (err) => (lastError = err.message));
    worker.on('exit', (code) => this.onExit(slot, worker, code, lastError));
    worker.unref();
    slot.worker = worker;
    slot.state = 'idle';
    // A replacement was made with the frame rate of when it started; a viewer may have come or gone since.
    if (this.live) worker.postMessage({ type: 'live', fps: this.init.liveFps } satisfies ToWorker);
  }
}

/** Most worker threads per core for network backends, whose episodes mostly wait on the robot. */
const NETWORK_WORKERS_PER_CORE = 4;

/**
 * How many workers to start: the request (default one per core), capped by the cores (sim
 * episodes are CPU-bound; network ones get a few per core) and by the jobs there will be. `capped`
 * says why in a sentence when the request was cut.
 */
export function workerCount(options: Pick<PoolOptions, 'workers' | 'jobs' | 'backend'>): { count: number; capped?: string } {
  const cores = availableParallelism();
  const requested = options.workers ?? cores;
  if (!Number.isInteger(requested) || requested < 1) {
    throw new Error(`\`--workers ${requested}\` must be a positive whole number; leave it out to use one per core.`);
  }
  const network = options.backend !== undefined && options.backend !== 'sim';
  const byCores = network ? cores * NETWORK_WORKERS_PER_CORE : cores;
  const byJobs = options.jobs !== undefined ? Math.max(1, options.jobs) : Infinity;
  const count = Math.min(requested, byCores, byJobs);
  if (count === requested) return { count };
  const why = count === byJobs ? `there are only ${options.jobs} episodes to run` : `this machine has ${cores} cores${network ? ` (${NETWORK_WORKERS_PER_CORE} network workers per core)` : ''}`;
  return { count, capped: `--workers ${requested} is capped at ${count}: ${why}.` };
}

/** Marks a slot as never taking jobs again. */
function kill(slot: Slot, reason: string): void {
  slot.state = 'dead';
  slot.worker = undefined;
  slot.deadReason = reason;
}

/** `Omit` applied to each member of a union. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface Started {
  /** The ready worker. */
  worker: Worker;
  /** The scenario's `episode.wall_time_limit` (s). */
  wallTimeLimit: number;
}

/** Starts one worker and waits for it to load the scenario, or for its startup error; `signal` stops it while it starts. */
function startWorker(init: WorkerInit, signal?: AbortSignal): Promise<Started> {
  const worker = new Worker(WORKER_ENTRY, { workerData: init });
  const stop = () => void worker.terminate();
  signal?.addEventListener('abort', stop, { once: true });
  return new Promise((resolve, reject) => {
    const done = () => {
      signal?.removeEventListener('abort', stop);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (message: FromWorker) => {
      if (message.type === 'ready') {
        done();
        resolve({ worker, wallTimeLimit: message.wallTimeLimit });
      } else if (message.type === 'startup-error') {
        done();
        void worker.terminate();
        reject(new Error(message.message));
      }
    };
    const onError = (err: Error) => {
      done();
      void worker.terminate();
      reject(err);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`An evaluator worker exited with code ${code} before it loaded the scenario ${init.scenarioPath}.`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}
