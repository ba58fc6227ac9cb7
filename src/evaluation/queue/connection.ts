/**
 * Connections to the Redis of a queue, from a `redis://HOST:PORT[/DB]` address. Every connection
 * waits out an outage: commands queue while Redis is away and run when it is back (reconnecting
 * every 0.25–2 s), so a restarted Redis pauses a study instead of failing it. Only the first
 * connection fails fast, with a sentence, when nothing answers at the address.
 */
import type { RedisOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/** What `--evaluator` and `arbor worker` take. */
export interface RedisAddress {
  /** Connection options for BullMQ and ioredis (BullMQ's type: ioredis's allows a null retry strategy BullMQ refuses). */
  options: RedisOptions;
  /** The address without its password, for messages. */
  shown: string;
}

/** Parses `redis://[USER:PASSWORD@]HOST[:PORT][/DB]` (or `rediss://` for TLS); throws a sentence naming the fix. */
export function parseRedisAddress(text: string): RedisAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`'${text}' is not a Redis address; write redis://HOST:PORT, e.g. redis://127.0.0.1:6379.`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`'${text}' is not a Redis address (it starts with ${url.protocol}//); write redis://HOST:PORT, e.g. redis://127.0.0.1:6379.`);
  }
  if (!url.hostname) throw new Error(`'${text}' names no host; write redis://HOST:PORT, e.g. redis://127.0.0.1:6379.`);
  const port = url.port ? Number(url.port) : 6379;
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new Error(`'${text}': the database '${dbText}' must be a whole number from 0 to 15 (the part after the last /).`);
  if (url.search || url.hash) throw new Error(`'${text}' has a query or fragment, which arbor does not read; write redis://HOST:PORT[/DB].`);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const options: RedisOptions = {
    host: hostname,
    port,
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: { servername: hostname } } : {}),
    // Wait out outages: queue commands and reconnect, never give up on a command.
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(250 * times, 2000),
  };
  const shown = `${url.protocol}//${url.username ? `${url.username}@` : ''}${url.host}${db ? `/${db}` : ''}`;
  return { options, shown };
}

/** How long the first connection may take before arbor says nothing answers (ms). */
const FIRST_CONNECT_MS = 5000;

/**
 * Opens a connection and waits until Redis answers, or throws a sentence after a few seconds.
 * Once it has answered, the connection reconnects on its own for as long as it is open.
 */
export async function connectRedis(address: RedisAddress, name: string): Promise<Redis> {
  // ioredis (and BullMQ behind it) load only when a queue is used: every arbor command parses addresses.
  const { Redis } = await import('ioredis');
  const redis = new Redis({ ...address.options, lazyConnect: true, connectionName: name });
  let lastError: Error | undefined;
  const onError = (err: Error) => (lastError = err);
  redis.on('error', onError);
  try {
    await Promise.race([
      redis.connect().then(() => redis.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), FIRST_CONNECT_MS).unref()),
    ]);
  } catch (err) {
    redis.disconnect();
    const why = lastError?.message ?? (err as Error).message;
    throw new Error(`Nothing answers as Redis at ${address.shown} (${why}); start redis-server there, or fix the address.`);
  }
  return redis;
}
