/**
 * The queue evaluator against the in-process pool, on one machine: episodes/s with 1 and 2
 * `arbor worker` processes through a real redis-server (Debian's, on a loopback port) and with 1
 * and 2 pool threads; the per-episode overhead of each (episodes run one after another: the time
 * to a result less the episode's own wall time); and what Redis does per episode (requests,
 * commands, bytes in and out, its own CPU time), from which the closing block estimates 100
 * workers, next to what one study process can store per second.
 * Run: `node bin/run-ts.js bench/queue.ts [episodes]`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { defaultPolicy } from '../src/policy/file.ts';
import type { Evaluator } from '../src/evaluation/evaluator.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { parseRedisAddress } from '../src/evaluation/queue/connection.ts';
import { DEFAULT_MAX_RESULT_BYTES, packResult, unpackResult } from '../src/evaluation/queue/protocol.ts';
import { QueueEvaluator } from '../src/evaluation/queue/queue-evaluator.ts';
import { createStudy } from '../src/study/study.ts';
import { defaultStudyConfig } from '../src/study/config.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';
import { startWorker, stopWorker } from '../test/queue-helpers.ts';
import { startRedis, type TestRedis } from '../test/redis.ts';

const SCENARIO = 'scenarios/pick-place.yaml';
/** Seconds Redis is watched idle, workers connected. */
const IDLE_SECONDS = 3;
const ZERO = { commands: 0, bytesIn: 0, bytesOut: 0, cpu: 0 };
/** Episodes/s of one unloaded core: a pick-and-place episode takes 80–100 ms (20–27 episodes/s on 2 cores). */
const EPISODES_PER_CORE = 12;

/** Redis's own counters, per episode. */
interface RedisLoad {
  /** Commands Redis ran. */
  commands: number;
  /** Bytes it received. */
  bytesIn: number;
  /** Bytes it sent. */
  bytesOut: number;
  /** CPU seconds of the Redis process (user + system). */
  cpu: number;
}

/** Reads Redis's counters. */
async function redisCounters(redis: Redis): Promise<RedisLoad> {
  const info = await redis.info();
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return {
    commands: field('total_commands_processed'),
    bytesIn: field('total_net_input_bytes'),
    bytesOut: field('total_net_output_bytes'),
    cpu: field('used_cpu_user') + field('used_cpu_sys'),
  };
}

/** Redis's load per episode over a run, less what it does idle (heartbeats, blocked pops, its timers) in that time. */
function loadPerEpisode(before: RedisLoad, after: RedisLoad, idlePerSecond: RedisLoad, seconds: number, episodes: number): RedisLoad {
  const per = (k: keyof RedisLoad) => (after[k] - before[k] - idlePerSecond[k] * seconds) / episodes;
  return { commands: per('commands'), bytesIn: per('bytesIn'), bytesOut: per('bytesOut'), cpu: per('cpu') };
}

/** Episodes/s of `episodes` default-policy episodes after a warm-up of `warm`, and how long they took (s). */
async function throughput(evaluator: Evaluator, scenario: LoadedScenario, episodes: number, warm: number, seedBase: number): Promise<{ rate: number; seconds: number }> {
  const policy = defaultPolicy(scenario);
  const job = (seed: number) => ({ policy, seed, candidate: 1, split: 'train' as const });
  await evaluator.evaluate(Array.from({ length: warm }, (_, i) => job(seedBase + 100_000 + i)));
  const started = performance.now();
  await evaluator.evaluate(Array.from({ length: episodes }, (_, i) => job(seedBase + i)));
  const seconds = (performance.now() - started) / 1000;
  return { rate: episodes / seconds, seconds };
}

/**
 * Episodes run one after another: the mean time (ms) from handing an episode over to having its
 * result, less the episode's own wall time in its worker. What is left is the evaluator's cost.
 */
async function overhead(evaluator: Evaluator, scenario: LoadedScenario, episodes: number, seedBase: number): Promise<number> {
  const policy = defaultPolicy(scenario);
  let total = 0;
  for (let i = 0; i < episodes; i++) {
    const started = performance.now();
    const [result] = await evaluator.evaluate([{ policy, seed: seedBase + i, candidate: 2, split: 'train' as const }]);
    total += performance.now() - started - result.wallTime * 1000;
  }
  return total / episodes;
}

/**
 * Requests per episode that reach Redis over the network (MONITOR, less the commands BullMQ's
 * scripts run inside Redis), over `episodes` episodes handed over at once.
 */
async function requests(evaluator: Evaluator, scenario: LoadedScenario, url: string, episodes: number, seedBase: number): Promise<number> {
  const policy = defaultPolicy(scenario);
  const watcher = new Redis(url);
  const monitor = await watcher.monitor();
  let count = 0;
  monitor.on('monitor', (_time: string, _args: string[], source: string) => {
    if (!source.startsWith('lua')) count++;
  });
  try {
    await evaluator.evaluate(Array.from({ length: episodes }, (_, i) => ({ policy, seed: seedBase + i, candidate: 3, split: 'train' as const })));
  } finally {
    monitor.disconnect();
    watcher.disconnect();
  }
  return count / episodes;
}

/** The queue with `n` worker processes: throughput, and (n = 1) latency and Redis's load per episode. */
async function measureQueue(redis: TestRedis, scenario: LoadedScenario, n: number, episodes: number, run: number) {
  const cache = mkdtempSync(join(tmpdir(), 'arbor-bench-cache-'));
  const workers = await Promise.all(Array.from({ length: n }, (_, i) => startWorker(redis.url, `bench${run}-${i}`, cache, 30)));
  const evaluator = await QueueEvaluator.create(parseRedisAddress(redis.url), scenario, { study: `bench${run}` });
  const client = new Redis(redis.url);
  try {
    // Redis idle with these workers connected, to subtract from the busy figures.
    const idleStart = await redisCounters(client);
    await new Promise((done) => setTimeout(done, IDLE_SECONDS * 1000));
    const idlePerSecond = loadPerEpisode(idleStart, await redisCounters(client), ZERO, 0, IDLE_SECONDS);
    await throughput(evaluator, scenario, 2 * n, 0, run * 1_000_000 + 200_000);
    const before = await redisCounters(client);
    const { rate, seconds } = await throughput(evaluator, scenario, episodes, 0, run * 1_000_000);
    const load = loadPerEpisode(before, await redisCounters(client), idlePerSecond, seconds, episodes);
    const ms = n === 1 ? await overhead(evaluator, scenario, Math.min(episodes, 24), run * 1_000_000 + 500_000) : NaN;
    const sent = n === 1 ? await requests(evaluator, scenario, redis.url, episodes, run * 1_000_000 + 700_000) : NaN;
    return { rate, ms, load, requests: sent };
  } finally {
    await evaluator.close();
    client.disconnect();
    await Promise.all(workers.map(stopWorker));
  }
}

async function measurePool(scenario: LoadedScenario, n: number, episodes: number) {
  const pool = await EvaluatorPool.create(SCENARIO, { workers: n });
  try {
    const { rate } = await throughput(pool, scenario, episodes, 2 * n, 0);
    const ms = n === 1 ? await overhead(pool, scenario, Math.min(episodes, 24), 500_000) : NaN;
    return { rate, ms };
  } finally {
    await pool.close();
  }
}

/**
 * What the study process spends per remote episode besides waiting: unpacking a result (gunzip,
 * decode) and recording it (trace file written durably, then the row), on a real trace. Its
 * inverse is the most episodes/s one study process can take, however many workers there are.
 */
async function measureStudySide(scenario: LoadedScenario, n = 200) {
  const pool = await EvaluatorPool.create(SCENARIO, { workers: 1 });
  const [run] = await pool.evaluate([{ policy: defaultPolicy(scenario), seed: 1 }]);
  await pool.close();
  if (!run.ok) throw new Error(run.reason);
  const header = { ok: true as const, worker: 'bench', wallTime: run.wallTime, success: run.success, score: run.score, outcome: run.outcome, terms: run.terms, metrics: run.metrics };
  let started = performance.now();
  let packed = packResult(header, run.trace, DEFAULT_MAX_RESULT_BYTES);
  for (let i = 1; i < n; i++) packed = packResult(header, run.trace, DEFAULT_MAX_RESULT_BYTES);
  const packMs = (performance.now() - started) / n;
  started = performance.now();
  for (let i = 0; i < n; i++) unpackResult(packed);
  const unpackMs = (performance.now() - started) / n;
  const store = Store.open(join(mkdtempSync(join(tmpdir(), 'arbor-bench-store-')), 'bench.db'));
  try {
    const study = createStudy(store, scenario, defaultStudyConfig(scenario));
    const candidate = store.candidates(study.id)[0].id;
    started = performance.now();
    for (let seed = 0; seed < n; seed++) {
      store.recordEpisode({ studyId: study.id, candidateId: candidate, split: 'train', seed, status: 'ok', success: run.success, score: run.score, outcome: run.outcome, metrics: run.metrics, terms: run.terms, trace: run.trace, wallTime: run.wallTime });
    }
    const recordMs = (performance.now() - started) / n;
    return { packMs, unpackMs, recordMs, packedBytes: packed.length };
  } finally {
    store.close();
  }
}

async function main(episodes = 48): Promise<void> {
  const scenario = await loadScenario(SCENARIO);
  const studySide = await measureStudySide(scenario);
  const redis = await startRedis();
  try {
    const pool1 = await measurePool(scenario, 1, episodes);
    const pool2 = await measurePool(scenario, 2, episodes);
    const queue1 = await measureQueue(redis, scenario, 1, episodes, 1);
    const queue2 = await measureQueue(redis, scenario, 2, episodes, 2);
    console.log(`pool, 1 thread:     ${pool1.rate.toFixed(2)} episodes/s; one at a time, ${pool1.ms.toFixed(1)} ms per episode besides the episode`);
    console.log(`pool, 2 threads:    ${pool2.rate.toFixed(2)} episodes/s`);
    console.log(`queue, 1 worker:    ${queue1.rate.toFixed(2)} episodes/s; one at a time, ${queue1.ms.toFixed(1)} ms per episode besides the episode`);
    console.log(`queue, 2 workers:   ${queue2.rate.toFixed(2)} episodes/s`);
    const load = queue2.load;
    console.log(`redis per episode:  ${queue1.requests.toFixed(1)} requests, ${load.commands.toFixed(1)} commands executed, ${(load.bytesIn / 1024).toFixed(1)} KiB in, ${(load.bytesOut / 1024).toFixed(1)} KiB out, ${(load.cpu * 1e6).toFixed(0)} µs of its CPU`);
    const { packMs, unpackMs, recordMs, packedBytes } = studySide;
    console.log(`result: ${(packedBytes / 1024).toFixed(1)} KiB gzipped; pack ${packMs.toFixed(2)} ms (worker), unpack ${unpackMs.toFixed(2)} ms + record ${recordMs.toFixed(2)} ms (study)`);

    // 100 workers of one slot each, at the speed of an unloaded core (not this shared machine's).
    const workers = 100;
    const rate = workers * EPISODES_PER_CORE;
    const saturation = 1 / load.cpu;
    const studyLimit = 1000 / (unpackMs + recordMs);
    console.log('---');
    console.log(`episodes: ${episodes}`);
    console.log(`eps_pool_1: ${pool1.rate.toFixed(3)}`);
    console.log(`eps_pool_2: ${pool2.rate.toFixed(3)}`);
    console.log(`eps_queue_1: ${queue1.rate.toFixed(3)}`);
    console.log(`eps_queue_2: ${queue2.rate.toFixed(3)}`);
    console.log(`queue_vs_pool_2: ${(queue2.rate / pool2.rate).toFixed(3)}`);
    console.log(`overhead_ms_per_episode_pool: ${pool1.ms.toFixed(2)}`);
    console.log(`overhead_ms_per_episode_queue: ${queue1.ms.toFixed(2)}`);
    console.log(`redis_requests_per_episode: ${queue1.requests.toFixed(1)}`);
    console.log(`redis_commands_per_episode: ${load.commands.toFixed(1)}`);
    console.log(`redis_bytes_in_per_episode: ${load.bytesIn.toFixed(0)}`);
    console.log(`redis_bytes_out_per_episode: ${load.bytesOut.toFixed(0)}`);
    console.log(`redis_cpu_us_per_episode: ${(load.cpu * 1e6).toFixed(1)}`);
    console.log(`estimate_per_worker_eps: ${EPISODES_PER_CORE}`);
    console.log(`estimate_100_workers_eps: ${rate.toFixed(0)}`);
    console.log(`estimate_100_workers_redis_requests_per_s: ${(rate * queue1.requests).toFixed(0)}`);
    console.log(`estimate_100_workers_redis_commands_per_s: ${(rate * load.commands).toFixed(0)}`);
    console.log(`estimate_100_workers_redis_mb_in_per_s: ${((rate * load.bytesIn) / 1e6).toFixed(1)}`);
    console.log(`estimate_100_workers_redis_mb_out_per_s: ${((rate * load.bytesOut) / 1e6).toFixed(1)}`);
    console.log(`estimate_100_workers_redis_cpu_share: ${(rate * load.cpu).toFixed(2)}`);
    console.log(`estimate_redis_cpu_saturates_at_eps: ${saturation.toFixed(0)}`);
    console.log(`result_bytes_gzipped: ${packedBytes}`);
    console.log(`study_ms_per_episode_unpack: ${unpackMs.toFixed(3)}`);
    console.log(`study_ms_per_episode_record: ${recordMs.toFixed(3)}`);
    console.log(`estimate_study_process_saturates_at_eps: ${studyLimit.toFixed(0)}`);
  } finally {
    await redis.stop();
  }
}

const [episodesArg] = process.argv.slice(2);
await main(episodesArg ? Number(episodesArg) : undefined);
