/**
 * Faults with real processes: a worker killed mid-episode, Redis killed and restarted empty, the
 * study process killed and resumed. Each time the study must end with exactly the episodes the
 * in-process pool gives on the same seeds: none lost, none twice, every trace byte the same.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localBuild } from '../src/evaluation/queue/build.ts';
import { parseRedisAddress } from '../src/evaluation/queue/connection.ts';
import { queueName } from '../src/evaluation/queue/protocol.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis.ts';

const noRedis = redisUnavailable();
import { arbor, episodesOf, episodesRun, startWorker, stopWorker, storedEpisodes, studyScenario, until, type ArborProcess, type EpisodeRow } from './queue-helpers.ts';

const BUDGET = ['--budget-episodes', '36', '--seed', '5'];
/** 28 training episodes (4 + 2 generations of 12) and 4 validation episodes. */
const EPISODES = 32;

describe.skipIf(noRedis !== undefined)(`faults: the study ends with the in-process pool's episodes, none lost or run twice${noRedis ? ` — skipped: ${noRedis}` : ''}`, () => {
  const scenario = studyScenario();
  const dir = mkdtempSync(join(tmpdir(), 'arbor-faults-'));
  let expected: EpisodeRow[];
  let redis: TestRedis | undefined;
  let running: ArborProcess[] = [];

  beforeAll(async () => {
    const pooled = arbor(['run', scenario, '--workers', '2', '--db', join(dir, 'pool.db'), ...BUDGET]);
    expect(await pooled.exited, pooled.stderr()).toBe(0);
    expected = episodesOf(join(dir, 'pool.db'));
    expect(expected).toHaveLength(EPISODES);
  }, 120_000);

  afterEach(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await Promise.all(running.map((p) => p.exited));
    running = [];
    await redis?.stop();
    redis = undefined;
  });

  /** Redis and two workers with a 3 s lock, and a study on them. */
  async function startStudy(name: string) {
    redis = await startRedis();
    const workers = await Promise.all(['w1', 'w2'].map((w) => startWorker(redis!.url, w, join(dir, `${name}-cache`))));
    const db = join(dir, `${name}.db`);
    const study = arbor(['run', scenario, '--evaluator', redis.url, '--db', db, ...BUDGET]);
    running.push(...workers, study);
    return { workers, study, db, url: redis.url };
  }

  it('kill -9 of a worker mid-episode: another worker takes its job over', async () => {
    const { workers, study, db, url } = await startStudy('worker-killed');
    const connection = parseRedisAddress(url).options;
    // The study's episodes go on the queue of its build (this checkout's).
    const name = queueName(await localBuild());
    const queue = new Queue(name, { connection, prefix: 'arbor' });
    const events = new QueueEvents(name, { connection, prefix: 'arbor' });
    const stalled: string[] = [];
    events.on('stalled', ({ jobId }) => stalled.push(jobId));
    try {
      await events.waitUntilReady();
      // Wait until some episodes are stored and w1 holds one in hand, then kill it there.
      await until(
        async () => storedEpisodes(db) >= 8 && (await queue.getActive()).some((job) => job.processedBy === 'w1'),
        90_000,
        () => `w1 never held an episode: ${study.stderr()}`,
      );
      workers[0].child.kill('SIGKILL');
      await workers[0].exited;
      // What w1 held when it died (it may have finished the episode seen above and taken the next):
      // its lock outlives it by up to 3 s, so the job still shows as active and w1's.
      const victims = (await queue.getActive()).filter((job) => job.processedBy === 'w1').map((job) => job.id);
      expect(victims.length).toBeGreaterThan(0);

      expect(await study.exited, study.stderr()).toBe(0);
      for (const victim of victims) expect(stalled).toContain(victim);
      expect(episodesOf(db)).toEqual(expected);
    } finally {
      await events.close();
      await queue.close();
    }
  }, 180_000);

  it('Redis killed and restarted empty: the study waits, puts its episodes back, and completes', async () => {
    const { study, db } = await startStudy('redis-restarted');
    await until(() => storedEpisodes(db) >= 8, 90_000, () => `no episodes stored: ${study.stderr()}`);
    await redis!.restart(1500);

    expect(await study.exited, study.stderr()).toBe(0);
    expect(study.stderr()).toMatch(/lost Redis at redis:\/\/127\.0\.0\.1:\d+; waiting for it/);
    expect(study.stderr()).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ is back/);
    expect(episodesOf(db)).toEqual(expected);
  }, 180_000);

  it('the study killed and resumed: what the workers finished meanwhile is collected, not run again', async () => {
    const { workers, study, db, url } = await startStudy('study-killed');
    await until(() => storedEpisodes(db) >= 12, 90_000, () => `no episodes stored: ${study.stderr()}`);
    study.child.kill('SIGKILL');
    await study.exited;
    const id = /study (\S+):/.exec(study.stderr())![1];
    expect(storedEpisodes(db)).toBeLessThan(EPISODES);
    // The workers finish the jobs the study left on the queue; their results wait in Redis.
    await new Promise((done) => setTimeout(done, 1500));

    const resumed = arbor(['resume', id, '--evaluator', url, '--db', db]);
    running.push(resumed);
    expect(await resumed.exited, resumed.stderr()).toBe(0);
    expect(episodesOf(db)).toEqual(expected);
    await Promise.all(workers.map(stopWorker));
    expect(episodesRun(workers[0]) + episodesRun(workers[1])).toBe(EPISODES);
  }, 180_000);
});
