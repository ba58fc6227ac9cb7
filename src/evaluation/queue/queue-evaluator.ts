/**
 * The queue evaluator: a study's episodes go onto a BullMQ queue in Redis and `arbor worker`
 * processes on any number of machines run them. It implements `Evaluator`, so the study, the
 * researchers and the store do not know the difference; only the study process writes the store.
 *
 * Each episode is one job with a deterministic id (study, candidate, split, seed and a digest of
 * what it is), so adding it again is a no-op. A worker leaves the result under a key of its own;
 * the study takes it when BullMQ says the job completed, records it, and deletes the key. Because
 * the evaluator also checks every outstanding job against Redis every few seconds (its result
 * there? its job gone? failed?), nothing hangs on a lost event:
 *  - a worker killed mid-episode: BullMQ's stalled-job check hands the job to another worker;
 *  - the study killed: finished results wait in Redis and `resume` collects them, adding only
 *    the jobs that have neither a result nor a job any more;
 *  - Redis restarted (and emptied): the study waits, stores the bundle again and re-adds the
 *    lost jobs when it is back;
 *  - a result that cannot be read (garbage in Redis, over the cap, a gzip bomb): it is removed and
 *    that episode runs again; after `UNREADABLE_RESULTS` such results it is recorded as failed
 *    with the reason. The study goes on either way.
 * The jobs go on the queue of the study's build (`queueName`), which only workers of that build
 * take; when no live worker runs it, the study says so, naming the builds the workers run.
 * Live frames are not streamed from remote workers; per-worker throughput is (see `workerName`).
 */
import { QueueEvents, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { LoadedScenario } from '../../scenario/load.ts';
import { gatherResults, type EpisodeJob, type EpisodeResult, type Evaluator } from '../evaluator.ts';
import { buildDifference, buildId, describeBuild, localBuild, type Build } from './build.ts';
import { hasBundle, uploadBundle } from './bundle-transfer.ts';
import { makeBundle, type ScenarioBundle } from './bundle.ts';
import { connectRedis, type RedisAddress } from './connection.ts';
import { BEAT_TTL, DEFAULT_MAX_RESULT_BYTES, KEEP_SECONDS, PREFIX, jobId, keys, queueName, unpackResult, type Heartbeat, type JobData, type RemoteResult } from './protocol.ts';
import { liveHeartbeats, registerBuild } from './workers.ts';

/** Options of `QueueEvaluator.create`. */
export interface QueueEvaluatorOptions {
  /** The study whose episodes these are: job ids start with it. */
  study: string;
  /** Largest compressed result (trace included) a worker may return, in bytes. */
  maxResultBytes?: number;
  /** How often outstanding jobs are checked against Redis besides BullMQ's events (ms; default 5000). */
  checkMs?: number;
  /** Seconds `close` waits for episodes in flight before leaving them to a resume (default 60). */
  closeWaitSeconds?: number;
  /** Told what a person should know: Redis lost and back, a worker refusing the study's jobs. */
  onNotice?: (message: string) => void;
}

/** An episode handed to the queue and not yet answered. */
interface Outstanding {
  /** The job as the study gave it. */
  job: EpisodeJob;
  /** Hands the result to its `evaluate` call. */
  deliver: (result: EpisodeResult) => void;
  /** Ends its `evaluate` call with an error (the workers could not run it). */
  fail: (error: Error) => void;
  /** Results of it found in Redis that could not be read. */
  unreadable: number;
}

/** Job options: retried twice on a worker error, kept a while when failed so the study sees why. */
const JOB_OPTIONS = { attempts: 3, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: { age: KEEP_SECONDS } } as const;
/** Unreadable results of one episode after which it is recorded as failed instead of run again. */
const UNREADABLE_RESULTS = 3;

export class QueueEvaluator implements Evaluator {
  private readonly outstanding = new Map<string, Outstanding>();
  /** Worker names in the order they first answered: their index is the result's `worker`. */
  private readonly workerIndex = new Map<string, number>();
  private readonly seenRefusals = new Set<string>();
  /** Episodes whose result is being taken now. */
  private readonly collecting = new Set<string>();
  private draining = false;
  private closing: Promise<void> | undefined;
  private checking: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  /** Set while Redis is away, so the outage is told once. */
  private lost = false;
  /** Since when no worker is alive (ms), and the absence already told, so it is told once. */
  private noWorkersSince: number | undefined;
  private toldNoWorkers: number | undefined;
  /** The Redis address, for messages. */
  private readonly shown: string;
  private idleWaiters: (() => void)[] = [];

  private constructor(
    address: RedisAddress,
    private readonly redis: Redis,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly bundle: ScenarioBundle,
    private readonly build: Build,
    private readonly options: QueueEvaluatorOptions,
  ) {
    this.shown = address.shown;
    // A completed job has left its result (the worker stores it first): take it. A failed one is checked.
    events.on('completed', ({ jobId: id }) => void (this.outstanding.has(id) && this.collect(id).catch((err: Error) => this.checkFailed(err))));
    events.on('failed', ({ jobId: id }) => void (this.outstanding.has(id) && this.check([id])));
    redis.on('close', () => {
      if (this.lost || this.closing) return;
      this.lost = true;
      this.notice(`lost Redis at ${address.shown}; waiting for it to come back (finished episodes are safe in the store).`);
    });
    redis.on('ready', () => {
      if (!this.lost) return;
      this.lost = false;
      this.notice(`Redis at ${address.shown} is back; checking the ${this.outstanding.size} outstanding episodes.`);
      this.check();
    });
    this.timer = setInterval(() => this.check(), options.checkMs ?? 5000);
    this.timer.unref();
  }

  /**
   * Connects to Redis, stores the scenario bundle there and starts listening for results.
   * Throws a sentence when Redis does not answer or the scenario cannot travel.
   */
  static async create(address: RedisAddress, scenario: LoadedScenario, options: QueueEvaluatorOptions): Promise<QueueEvaluator> {
    const bundle = makeBundle(scenario);
    const build = await localBuild();
    const redis = await connectRedis(address, `arbor-study-${options.study}`);
    try {
      await uploadBundle(redis, bundle);
      const connection = address.options;
      const queue = new Queue(queueName(build), { connection, prefix: PREFIX, streams: { events: { maxLen: 2000 } } });
      const events = new QueueEvents(queueName(build), { connection, prefix: PREFIX });
      queue.on('error', () => undefined); // outages are told once, by the evaluator's own connection
      events.on('error', () => undefined);
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      return new QueueEvaluator(address, redis, queue, events, bundle, build, options);
    } catch (err) {
      redis.disconnect();
      throw err;
    }
  }

  /** The bundle's hash (what workers fetch). */
  get bundleHash(): string {
    return this.bundle.hash;
  }

  evaluate(jobs: EpisodeJob[], onResult?: (result: EpisodeResult) => void): Promise<EpisodeResult[]> {
    if (this.closing) return Promise.reject(new Error('The queue evaluator is closed; create a new one to evaluate more.'));
    if (jobs.length === 0) return Promise.resolve([]);
    // Remote workers would run a perturbed job in the nominal world: refuse rather than mislabel it.
    if (jobs.some((j) => j.perturbation?.length)) return Promise.reject(new Error('The queue does not carry perturbations to remote workers yet; run perturbed episodes (a gauntlet) on the in-process pool.'));
    return new Promise((resolve, reject) => {
      const ids = jobs.map((job) => jobId(this.options.study, this.bundle.hash, job));
      const repeated = ids.find((id, i) => this.outstanding.has(id) || ids.indexOf(id) !== i);
      if (repeated) {
        reject(new Error(`Episode ${repeated} is already being evaluated; a study asks for each episode once.`));
        return;
      }
      const gathering = gatherResults(jobs.length, onResult, resolve, reject);
      // A job the workers cannot run ends the whole call; its other results stay in Redis for a resume.
      const fail = (error: Error) => {
        for (const id of ids) this.outstanding.delete(id);
        this.wakeIdle();
        gathering.fail(error);
      };
      jobs.forEach((job, i) => this.outstanding.set(ids[i], { job, fail, deliver: (result) => gathering.deliver(i, result), unreadable: 0 }));
      if (this.draining) {
        for (const id of ids) this.cancel(id);
        return;
      }
      void this.check(ids, true);
    });
  }

  /** Stops taking jobs: episodes a worker runs finish; queued and later ones end as `cancelled`. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    void (async () => {
      for (const id of [...this.outstanding.keys()]) {
        // Only a job no worker holds can be removed (BullMQ answers 0 for an active one).
        if ((await this.queue.remove(id).catch(() => 0)) === 1) this.cancel(id);
      }
    })();
  }

  /** Drains, waits (a while) for the episodes in flight, and closes the connections. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.drain();
      const deadline = Date.now() + (this.options.closeWaitSeconds ?? 60) * 1000;
      while (this.outstanding.size > 0 && Date.now() < deadline) {
        await new Promise<void>((wake) => {
          this.idleWaiters.push(wake);
          setTimeout(wake, 1000).unref();
        });
      }
      // Results still to come wait in Redis: a resume collects them without running them again.
      for (const id of [...this.outstanding.keys()]) this.cancel(id);
      clearInterval(this.timer);
      await settleWithin(Promise.allSettled([this.events.close(), this.queue.close(), this.checking]), 3000);
      this.redis.disconnect();
    })();
    return this.closing;
  }

  /**
   * Looks at outstanding jobs in Redis: takes finished results, ends failed jobs, and adds jobs
   * that are neither there nor finished (new ones, and ones lost with a restarted Redis). With
   * `fresh`, a job that failed in an earlier run is removed and added again instead.
   */
  private check(ids?: string[], fresh = false): Promise<void> {
    if (!ids) {
      // The periodic check: one at a time, and none while Redis is away (it runs again on 'ready').
      if (this.checking || this.lost || this.closing) return Promise.resolve();
      this.checking = this.check([...this.outstanding.keys()]).finally(() => (this.checking = undefined));
      return this.checking;
    }
    return this.checkNow(ids, fresh).catch((err: Error) => this.checkFailed(err));
  }

  private checkFailed(err: Error): void {
    if (!this.closing) this.notice(`checking the outstanding episodes failed (${err.message}); trying again in a few seconds.`);
  }

  private async checkNow(ids: string[], fresh: boolean): Promise<void> {
    if (!(await hasBundle(this.redis, this.bundle.hash))) await uploadBundle(this.redis, this.bundle);
    await this.tellRefusals();
    if (ids.length) await this.tellIfNoWorkers();
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.exists(keys.job(this.queue.name, id)).zscore(keys.failed(this.queue.name), id).exists(keys.result(id));
    const answers = (await pipe.exec()) ?? [];
    const toAdd: string[] = [];
    const toCollect: string[] = [];
    for (const [i, id] of ids.entries()) {
      if (!this.outstanding.has(id)) continue;
      const [jobThere, failedAt, resultThere] = answers.slice(3 * i, 3 * i + 3).map(([err, value]) => (err ? null : value));
      if (resultThere === 1) toCollect.push(id);
      else if (failedAt !== null) {
        if (fresh) {
          await this.queue.remove(id);
          toAdd.push(id);
        } else await this.failJob(id);
      } else if (jobThere === 0) toAdd.push(id);
    }
    for (const id of toCollect) await this.collect(id);
    if (toAdd.length && !this.draining) {
      const build = this.build;
      await registerBuild(this.redis, build);
      await this.queue.addBulk(toAdd.flatMap((id) => {
        const o = this.outstanding.get(id);
        if (!o) return [];
        const data: JobData = { study: this.options.study, bundle: this.bundle.hash, build, policy: o.job.policy, seed: o.job.seed, maxResultBytes: this.options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES };
        return [{ name: 'episode', data, opts: { ...JOB_OPTIONS, jobId: id } }];
      }));
    }
  }

  /**
   * Takes a finished result out of Redis and hands it to its `evaluate` call. One take of an
   * episode at a time: an event and a check must not both read (and count) the same garbage.
   */
  private async collect(id: string): Promise<void> {
    const o = this.outstanding.get(id);
    if (!o || this.collecting.has(id)) return;
    this.collecting.add(id);
    let why: string | undefined;
    try {
      const max = this.options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
      // GETRANGE reads at most the cap and one byte more: enough to know a result is over it.
      const answers = await this.redis.multi().exists(keys.result(id)).getrangeBuffer(keys.result(id), 0, max).exec();
      const packed = answers?.[1]?.[1];
      if (answers?.[0]?.[1] !== 1 || !Buffer.isBuffer(packed) || this.outstanding.get(id) !== o) return;
      let remote: RemoteResult | undefined;
      try {
        remote = unpackResult(packed, max);
      } catch (err) {
        why = (err as Error).message;
      }
      if (remote) {
        this.outstanding.delete(id);
        o.deliver(this.toResult(o.job, remote));
      }
      // Deleted only once delivered (recorded): a study killed before this finds it again on resume.
      await this.redis.del(keys.result(id));
    } finally {
      this.collecting.delete(id);
    }
    if (why === undefined) this.wakeIdle();
    else await this.unreadable(id, o, why);
  }

  /** A result as the study records it. */
  private toResult(job: EpisodeJob, r: RemoteResult): EpisodeResult {
    const base = { job, seed: job.seed, wallTime: r.wallTime, worker: this.indexOf(r.worker), workerName: r.worker };
    return r.ok
      ? { ...base, ok: true, success: r.success, score: r.score, outcome: r.outcome, terms: r.terms, metrics: r.metrics, trace: r.trace! }
      : { ...base, ok: false, reason: r.reason, ...(r.aborted ? { aborted: true } : {}) };
  }

  /**
   * A result that cannot be read fails only its episode: it is removed, and the episode runs again
   * (the check adds its job back, unless the job is still queued and its real result is to come).
   * After `UNREADABLE_RESULTS` of them the episode is recorded as failed, with the reason.
   */
  private async unreadable(id: string, o: Outstanding, why: string): Promise<void> {
    const message = `The result of episode ${id} in Redis cannot be read: ${why}`;
    if (++o.unreadable >= UNREADABLE_RESULTS) {
      const reason = `${message} Its results were unreadable ${o.unreadable} times, so the episode is recorded as failed; something besides arbor writes into this Redis (see who may, docs/scale.md).`;
      this.notice(reason);
      this.outstanding.delete(id);
      o.deliver({ ok: false, job: o.job, worker: -1, seed: o.job.seed, wallTime: 0, reason });
      this.wakeIdle();
      return;
    }
    this.notice(`${message} Running the episode again.`);
    await this.check([id]);
  }

  /** A job BullMQ gave up on: the workers cannot run it, so its evaluation fails with their reason. */
  private async failJob(id: string): Promise<void> {
    const reason = (await this.redis.hget(keys.job(this.queue.name, id), 'failedReason')) ?? 'no reason given';
    this.outstanding.get(id)?.fail(new Error(`The remote workers could not run episode ${id}: ${reason}`));
  }

  /** Ends an outstanding job as `cancelled` (drained). */
  private cancel(id: string): void {
    const o = this.outstanding.get(id);
    if (!o) return;
    this.outstanding.delete(id);
    o.deliver({ ok: false, job: o.job, worker: -1, seed: o.job.seed, wallTime: 0, reason: 'cancelled' });
    this.wakeIdle();
  }

  /** Tells each new refusal of this study's jobs by a worker on another build. */
  private async tellRefusals(): Promise<void> {
    for (const message of await this.redis.lrange(keys.refusals(this.options.study), 0, 19)) {
      if (this.seenRefusals.has(message)) continue;
      this.seenRefusals.add(message);
      this.notice(message);
    }
  }

  /**
   * Says once (until workers come back) that no worker of this study's build has been alive for a
   * heartbeat's time to live, and how to start one; when workers of other builds are, it names
   * their builds and what differs. Not at once: right after a Redis restart, the workers have not
   * beaten yet.
   */
  private async tellIfNoWorkers(): Promise<void> {
    const live = await liveHeartbeats(this.redis);
    const others = live.filter((w) => buildDifference(w.build, this.build).length > 0);
    if (live.length > others.length) {
      this.noWorkersSince = undefined;
      return;
    }
    const now = Date.now();
    this.noWorkersSince ??= now;
    if (now - this.noWorkersSince < BEAT_TTL * 1000 || this.toldNoWorkers === this.noWorkersSince) return;
    this.toldNoWorkers = this.noWorkersSince;
    this.notice(
      others.length === 0
        ? `no worker has taken episodes from ${this.shown} for ${BEAT_TTL} s; start one with: arbor worker ${this.shown}`
        : this.otherBuildsNotice(others),
    );
  }

  /** What to say when the live workers all run other builds than the study's. */
  private otherBuildsNotice(others: Heartbeat[]): string {
    const byBuild = new Map<string, Heartbeat[]>();
    for (const w of others) byBuild.set(buildId(w.build), [...(byBuild.get(buildId(w.build)) ?? []), w]);
    const described = [...byBuild.values()].map((ws) => {
      const names = ws.slice(0, 3).map((w) => w.name).join(', ') + (ws.length > 3 ? ` and ${ws.length - 3} more` : '');
      return `${names} run${ws.length === 1 ? 's' : ''} ${describeBuild(ws[0].build)} (it differs in ${buildDifference(ws[0].build, this.build).join(', ')})`;
    });
    return (
      `none of the ${others.length} live workers on ${this.shown} runs this study's build, so its episodes wait on the queue of that build (${this.queue.name}) until one does. ` +
      `The study runs ${describeBuild(this.build)}; ${described.join('; ')}. Episodes are identical across machines only on identical builds: ` +
      `install the study's arbor (the same commit, then npm ci) on a worker machine and start: arbor worker ${this.shown}`
    );
  }

  private indexOf(worker: string): number {
    let index = this.workerIndex.get(worker);
    if (index === undefined) this.workerIndex.set(worker, (index = this.workerIndex.size));
    return index;
  }

  private notice(message: string): void {
    this.options.onNotice?.(message);
  }

  private wakeIdle(): void {
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

/** Waits for `promise`, but no longer than `ms`. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise<void>((done) => (timer = setTimeout(done, ms)))]);
  clearTimeout(timer);
}
