/**
 * What is going on in a queue, read from Redis: the live workers (their heartbeats, so a killed
 * worker drops out within seconds) and the queue's job counts. For `arbor workers`.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { connectRedis, type RedisAddress } from './connection.ts';
import { BEAT_TTL, Heartbeat, PREFIX, QUEUE, keys } from './protocol.ts';

/** A snapshot of the queue. */
export interface QueueSnapshot {
  /** Live workers, by name. */
  workers: Heartbeat[];
  /** Jobs by state: waiting, active, delayed, failed. */
  jobs: Record<'waiting' | 'active' | 'delayed' | 'failed', number>;
}

/** Names of the workers that sent a heartbeat within its time to live. */
export function liveWorkers(redis: Redis): Promise<string[]> {
  return redis.zrangebyscore(keys.beats, Date.now() - BEAT_TTL * 1000, '+inf');
}

/** Reads the workers' heartbeats and the job counts; heartbeats that do not parse are skipped. */
export async function readQueue(address: RedisAddress): Promise<QueueSnapshot> {
  const redis = await connectRedis(address, 'arbor-workers');
  const queue = new Queue(QUEUE, { connection: address.options, prefix: PREFIX });
  try {
    const names = await liveWorkers(redis);
    const beats = names.length ? await redis.mget(...names.map(keys.worker)) : [];
    const workers = beats.flatMap((text) => {
      const parsed = Heartbeat.safeParse(parseJson(text));
      return parsed.success ? [parsed.data] : [];
    });
    workers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
    const jobs = { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0, failed: counts.failed ?? 0 };
    return { workers, jobs };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** JSON text as a value; undefined when it is none. */
function parseJson(text: string | null): unknown {
  try {
    return text === null ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}
