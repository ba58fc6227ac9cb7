/**
 * What is going on in a queue, read from Redis: the live workers (their heartbeats, so a killed
 * worker drops out within seconds) and the queue's job counts. For `arbor workers`.
 */
import { Queue } from 'bullmq';
import { connectRedis, type RedisAddress } from './connection.ts';
import { Heartbeat, PREFIX, QUEUE, keys } from './protocol.ts';

/** A snapshot of the queue. */
export interface QueueSnapshot {
  /** Live workers, by name. */
  workers: Heartbeat[];
  /** Jobs by state: waiting, active, delayed, failed. */
  jobs: Record<'waiting' | 'active' | 'delayed' | 'failed', number>;
}

/** Reads the workers' heartbeats and the job counts; heartbeats that do not parse are skipped. */
export async function readQueue(address: RedisAddress): Promise<QueueSnapshot> {
  const redis = await connectRedis(address, 'arbor-workers');
  const queue = new Queue(QUEUE, { connection: address.options, prefix: PREFIX });
  try {
    const names: string[] = [];
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', keys.workers, 'COUNT', 200);
      names.push(...found);
      cursor = next;
    } while (cursor !== '0');
    const beats = names.length ? await redis.mget(...names) : [];
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
