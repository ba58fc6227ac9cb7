/**
 * A queue worker (`arbor worker redis://...`): takes episode jobs from the BullMQ queue and runs
 * them, N at a time, on an `EvaluatorPool` of N worker threads (one MuJoCo world each) per
 * scenario bundle. Episodes run in threads, so this process's event loop stays free to renew
 * BullMQ's job locks: a long episode is never mistaken for a dead worker.
 *
 * It takes jobs only from the queue of its own build (see `queueName`), so the workers of several
 * builds share one Redis and each serves the studies it can run. Each job is checked where it
 * arrives, and whatever is wrong with one job fails that job with the reason, never the worker:
 *  - data that is not an episode (zod), or an episode of another build put on this build's queue
 *    by hand: failed at once; the refusal is logged and told to the study once per study;
 *  - a bundle not in Redis (or corrupt there, and removed so that the study stores it again):
 *    tried again every 2 s, and failed after `MAX_TRIES` tries;
 *  - any job is tried at most `MAX_TRIES` times, whatever `attempts` its options ask for.
 * Bundles it has not seen are fetched into a cache folder once. A heartbeat every 2 s tells
 * `arbor workers` and dashboards its throughput.
 */
import { hostname } from 'node:os';
import { DelayedError, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { EvaluatorPool, workerCount } from '../pool.ts';
import { buildDifference, describeBuild, localBuild, type Build } from './build.ts';
import { BundleMissing, BundleRefused, defaultBundleCache, materializeBundle } from './bundle-transfer.ts';
import { connectRedis, type RedisAddress } from './connection.ts';
import { BEAT_MS, BEAT_TTL, Heartbeat, JobData, KEEP_SECONDS, PREFIX, keys, packResult, queueName } from './protocol.ts';
import { registerBuild } from './workers.ts';

/** Options of `QueueWorker.start`. */
export interface QueueWorkerOptions {
  /** Name in heartbeats and results (default `host-pid`). */
  name?: string;
  /** Episodes at once (default: one per core; capped by the cores). */
  concurrency?: number;
  /** Where fetched bundles are kept (default `~/.cache/arbor/bundles`). */
  cache?: string;
  /** Seconds a job stays locked without a renewal before other workers take it over (default 30). */
  lockSeconds?: number;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
}

/** Bundles whose pools are kept warm; older idle ones are closed. */
const WARM_BUNDLES = 2;
/** Seconds of completions the heartbeat's rate is measured over. */
const RATE_WINDOW = 60;
/** Workers silent this long leave the list of heartbeats (ms). */
const FORGET_AFTER_MS = 24 * 3600 * 1000;
/** How long a refusal is kept for the study to read (s). */
const REFUSAL_TTL = 24 * 3600;
/** Studies whose refusal this worker remembers having told (more are forgotten and told again). */
const REMEMBERED_REFUSALS = 1000;
/** Times a job is started at most (bundle waits, retries after errors, stalls) before it fails. */
export const MAX_TRIES = 10;
/** Wait between tries of a job whose bundle is not in Redis (ms). */
const BUNDLE_RETRY_MS = 2000;

/** A pool of threads for one bundle. */
interface BundlePool {
  /** The pool, once started. */
  pool: Promise<EvaluatorPool>;
  /** Episodes running on it now. */
  active: number;
  /** When it last took an episode (ms). */
  used: number;
}

export class QueueWorker {
  private readonly pools = new Map<string, BundlePool>();
  private readonly finished: number[] = [];
  private episodes = 0;
  private busy = 0;
  private readonly started = new Date();
  private readonly beat: NodeJS.Timeout;
  private stopping: Promise<void> | undefined;
  private markDone!: () => void;
  private readonly done = new Promise<void>((resolve) => (this.markDone = resolve));
  /** Studies whose jobs of another build this worker refused and said so. */
  private readonly refusedStudies = new Set<string>();

  private constructor(
    readonly name: string,
    readonly slots: number,
    private readonly redis: Redis,
    private readonly build: Build,
    private readonly cache: string,
    private readonly log: (line: string) => void,
    private readonly worker: Worker,
  ) {
    this.beat = setInterval(() => void this.heartbeat(), BEAT_MS);
    void this.heartbeat();
  }

  /** Connects and starts taking jobs. Throws a sentence when Redis does not answer. */
  static async start(address: RedisAddress, options: QueueWorkerOptions = {}): Promise<QueueWorker> {
    const name = options.name ?? `${hostname()}-${process.pid}`;
    const log = options.log ?? (() => undefined);
    const sizing = workerCount({ workers: options.concurrency });
    if (sizing.capped) log(sizing.capped.replace('--workers', '--concurrency'));
    const build = await localBuild();
    const redis = await connectRedis(address, `arbor-worker-${name}`);
    await registerBuild(redis, build);
    const lockDuration = (options.lockSeconds ?? 30) * 1000;
    let self: QueueWorker | undefined;
    const worker = new Worker(queueName(build), (job: Job, token?: string) => self!.process(job, token), {
      connection: address.options,
      prefix: PREFIX,
      name,
      concurrency: sizing.count,
      lockDuration,
      stalledInterval: lockDuration,
      // A job whose worker died is handed on; one that kills three workers in a row is failed.
      maxStalledCount: 3,
      autorun: false,
    });
    worker.on('error', (err) => log(`queue: ${err.message}`));
    self = new QueueWorker(name, sizing.count, redis, build, options.cache ?? defaultBundleCache(), log, worker);
    void worker.run();
    await worker.waitUntilReady();
    log(`worker ${name}: ${sizing.count} episodes at a time on ${describeBuild(build)}; waiting for episodes on ${address.shown} (queue ${queueName(build)})`);
    return self;
  }

  /** Resolves once the worker has stopped and freed everything. */
  get stopped(): Promise<void> {
    return this.done;
  }

  /** Episodes finished since start. */
  get finishedEpisodes(): number {
    return this.episodes;
  }

  /** Stops taking jobs, lets the running ones finish, and frees everything. */
  close(): Promise<void> {
    this.stopping ??= (async () => {
      await this.worker.close();
      clearInterval(this.beat);
      await Promise.all([...this.pools.values()].map(async (p) => (await p.pool.catch(() => undefined))?.close()));
      await this.redis.multi().del(keys.worker(this.name)).zrem(keys.beats, this.name).exec().catch(() => undefined);
      this.redis.disconnect();
      this.markDone();
    })();
    return this.stopping;
  }

  /**
   * Runs one job; the episode's own failures are results. A job that cannot be run throws:
   * `UnrecoverableError` when no later try can help (BullMQ fails it with the reason at once).
   */
  private async process(job: Job, token?: string): Promise<{ bytes: number }> {
    if (job.attemptsStarted > MAX_TRIES) {
      throw new UnrecoverableError(`Job ${job.id} was started ${job.attemptsStarted - 1} times without finishing (last: ${job.failedReason || 'its worker stopped'}); it is failed rather than tried again.`);
    }
    const parsed = JobData.safeParse(job.data);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new UnrecoverableError(`Job ${job.id} is not an arbor episode: ${issue?.path.join('.') || 'its data'}: ${issue?.message}.`);
    }
    const data = parsed.data;
    if (buildDifference(this.build, data.build).length > 0) await this.refuse(job, data.study, data.build);
    const scenarioPath = await this.bundleOf(job, token, data.bundle);
    const entry = this.poolFor(data.bundle, scenarioPath);
    entry.active++;
    this.busy++;
    try {
      const pool = await entry.pool;
      const [result] = await pool.evaluate([{ policy: data.policy, seed: data.seed }]);
      if (!result.ok && result.reason === 'cancelled') throw new Error(`Worker ${this.name} stopped before the episode ran.`);
      const base = { worker: this.name, wallTime: result.wallTime };
      const packed = result.ok
        ? packResult({ ...base, ok: true, success: result.success, score: result.score, outcome: result.outcome, terms: result.terms, metrics: result.metrics }, result.trace, data.maxResultBytes)
        : packResult({ ...base, ok: false, reason: result.reason, ...(result.aborted ? { aborted: true } : {}) }, undefined, data.maxResultBytes);
      // The result first, then BullMQ's completion: the study finds one whenever it sees the other.
      await this.redis.set(keys.result(job.id!), packed, 'EX', KEEP_SECONDS);
      this.episodes++;
      this.finished.push(Date.now());
      return { bytes: packed.length };
    } finally {
      entry.active--;
      entry.used = Date.now();
      this.busy--;
    }
  }

  /**
   * Fails a job of another build found on this build's queue, and tells it (in the log and to the
   * study) once per study. A study queues its jobs on its own build's queue, where workers of its
   * build take them; this one was put here by something else, and nobody here can run it.
   */
  private async refuse(job: Job, study: string, build: Build): Promise<never> {
    const why =
      `the job says it runs on ${describeBuild(build)}, but it is on the queue of ${describeBuild(this.build)} (they differ in ${buildDifference(this.build, build).join(', ')}). ` +
      `arbor queues a study's episodes on its own build's queue (${queueName(build)} for that build), where workers of that build take them; this job was put here by hand or by another tool, and no worker here can run it.`;
    if (!this.refusedStudies.has(study)) {
      if (this.refusedStudies.size >= REMEMBERED_REFUSALS) this.refusedStudies.clear();
      this.refusedStudies.add(study);
      const told = `worker ${this.name} refused the episodes of study ${study}: ${why}`;
      this.log(told);
      await this.redis.multi().lpush(keys.refusals(study), told).ltrim(keys.refusals(study), 0, 19).expire(keys.refusals(study), REFUSAL_TTL).exec();
    }
    throw new UnrecoverableError(`Job ${job.id} of study ${study} was refused: ${why}`);
  }

  /**
   * The path of a job's scenario, its bundle fetched when not cached. A bundle not in Redis (the
   * study stores it again when Redis comes back, and a corrupt one was just removed for it to do
   * so) is waited for: the job is tried again in 2 s, and fails after `MAX_TRIES` tries.
   */
  private async bundleOf(job: Job, token: string | undefined, hash: string): Promise<string> {
    try {
      return await materializeBundle(this.redis, hash, this.cache);
    } catch (err) {
      if (err instanceof BundleRefused) throw new UnrecoverableError(err.message);
      if (!(err instanceof BundleMissing)) throw err;
      if (err.corrupt) this.log(err.message);
      if (job.attemptsStarted >= MAX_TRIES) {
        throw new UnrecoverableError(
          `${err.message} It was still missing after ${MAX_TRIES} tries ${BUNDLE_RETRY_MS / 1000} s apart. A study stores its bundle while it runs, ` +
            'so the study of this job is not running (or the job was not queued by arbor); resuming the study queues its episodes again.',
        );
      }
      await job.moveToDelayed(Date.now() + BUNDLE_RETRY_MS, token);
      throw new DelayedError();
    }
  }

  /** The pool of a bundle, started on first use; the least recently used idle pool beyond `WARM_BUNDLES` is closed. */
  private poolFor(hash: string, scenarioPath: string): BundlePool {
    let entry = this.pools.get(hash);
    if (entry) return entry;
    const pool = EvaluatorPool.create(scenarioPath, { workers: this.slots });
    entry = { pool, active: 0, used: Date.now() };
    this.pools.set(hash, entry);
    pool.then(
      () => this.log(`bundle ${hash.slice(0, 12)}: ${this.slots} threads loaded ${scenarioPath}`),
      (err: Error) => {
        // A later job tries again (the cause may be fixed by then); this one fails with the reason.
        if (this.pools.get(hash)?.pool === pool) this.pools.delete(hash);
        this.log(`bundle ${hash.slice(0, 12)} cannot be loaded: ${err.message}`);
      },
    );
    const idle = [...this.pools].filter(([h, p]) => h !== hash && p.active === 0).sort((a, b) => a[1].used - b[1].used);
    for (const [h, p] of idle.slice(0, Math.max(0, this.pools.size - WARM_BUNDLES))) {
      this.pools.delete(h);
      void p.pool.then((old) => old.close(), () => undefined);
    }
    return entry;
  }

  private async heartbeat(): Promise<void> {
    const now = Date.now();
    while (this.finished.length && this.finished[0] < now - RATE_WINDOW * 1000) this.finished.shift();
    const window = Math.min(RATE_WINDOW, Math.max(1, (now - this.started.getTime()) / 1000));
    const beat: Heartbeat = {
      name: this.name, host: hostname(), pid: process.pid, build: this.build, slots: this.slots, busy: this.busy,
      episodes: this.episodes, rate: this.finished.length / window, started: this.started.toISOString(),
    };
    await this.redis
      .multi()
      .set(keys.worker(this.name), JSON.stringify(beat), 'EX', BEAT_TTL)
      .zadd(keys.beats, now, this.name)
      .zremrangebyscore(keys.beats, '-inf', now - FORGET_AFTER_MS)
      .exec()
      .catch(() => undefined);
  }
}
