/**
 * What is going on in a queue, read from Redis: the live workers (their heartbeats, so a killed
 * worker drops out within seconds) and the job counts of each build's queue. For `arbor workers`
 * and for a study that wants to know whether anybody runs its build.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { Build, buildId } from './build.ts';
import { connectRedis, type RedisAddress } from './connection.ts';
import { BEAT_TTL, Heartbeat, KEEP_SECONDS, PREFIX, keys, parseJson, queueName } from './protocol.ts';

/** Jobs by state. */
export type JobCounts = Record<'waiting' | 'active' | 'delayed' | 'failed', number>;

/** One build's queue. */
export interface BuildQueue {
  /** The build its studies and workers run. */
  build: Build;
  /** The BullMQ queue's name (`episodes-<build id>`). */
  queue: string;
  /** Its jobs by state. */
  jobs: JobCounts;
  /** Live workers that take its jobs. */
  workers: number;
}

/** A snapshot of the queues. */
export interface QueueSnapshot {
  /** Live workers, by name. */
  workers: Heartbeat[];
  /** Jobs by state, over every build's queue. */
  jobs: JobCounts;
  /** Each build's queue that has jobs or live workers, the most jobs first. */
  queues: BuildQueue[];
}

/** Builds listed in `arbor workers` at most, the most recently used (besides those of live workers). */
const MAX_BUILDS = 50;

/** Names of the workers that sent a heartbeat within its time to live. */
export function liveWorkers(redis: Redis): Promise<string[]> {
  return redis.zrangebyscore(keys.beats, Date.now() - BEAT_TTL * 1000, '+inf');
}

/** The heartbeats of the live workers, by name; heartbeats that do not parse are skipped. */
export async function liveHeartbeats(redis: Redis): Promise<Heartbeat[]> {
  const names = await liveWorkers(redis);
  const beats = names.length ? await redis.mget(...names.map(keys.worker)) : [];
  const workers = beats.flatMap((text) => {
    const parsed = Heartbeat.safeParse(parseJson(text));
    return parsed.success ? [parsed.data] : [];
  });
  return workers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Notes a build in the list `arbor workers` reads, with the time: a worker does when it starts, a
 * study whenever it queues episodes. Builds unused for `KEEP_SECONDS` leave the list.
 */
export async function registerBuild(redis: Redis, build: Build): Promise<void> {
  const now = Date.now();
  await redis.multi().zadd(keys.builds, now, JSON.stringify(build)).zremrangebyscore(keys.builds, '-inf', now - KEEP_SECONDS * 1000).exec();
}

/** Reads the workers' heartbeats and the job counts of every build's queue. */
export async function readQueue(address: RedisAddress): Promise<QueueSnapshot> {
  const redis = await connectRedis(address, 'arbor-workers');
  try {
    const workers = await liveHeartbeats(redis);
    const builds = new Map<string, Build>();
    for (const w of workers) builds.set(buildId(w.build), w.build);
    for (const text of await redis.zrevrange(keys.builds, 0, MAX_BUILDS - 1)) {
      const parsed = Build.safeParse(parseJson(text));
      if (parsed.success) builds.set(buildId(parsed.data), parsed.data);
    }
    const queues: BuildQueue[] = [];
    for (const [id, build] of builds) {
      const jobs = await countJobs(redis, queueName(build));
      const serving = workers.filter((w) => buildId(w.build) === id).length;
      if (serving > 0 || Object.values(jobs).some((n) => n > 0)) queues.push({ build, queue: queueName(build), jobs, workers: serving });
    }
    queues.sort((a, b) => total(b.jobs) - total(a.jobs) || (a.queue < b.queue ? -1 : 1));
    const jobs: JobCounts = { waiting: 0, active: 0, delayed: 0, failed: 0 };
    for (const q of queues) for (const k of Object.keys(jobs) as (keyof JobCounts)[]) jobs[k] += q.jobs[k];
    return { workers, jobs, queues };
  } finally {
    redis.disconnect();
  }
}

/** The job counts of one BullMQ queue, read on `redis`. */
async function countJobs(redis: Redis, name: string): Promise<JobCounts> {
  const queue = new Queue(name, { connection: redis, prefix: PREFIX });
  try {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    return { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 };
  } finally {
    await queue.close();
  }
}

function total(jobs: JobCounts): number {
  return jobs.waiting + jobs.active + jobs.delayed + jobs.failed;
}
