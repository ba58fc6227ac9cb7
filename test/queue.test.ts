/**
 * The queue evaluator with the real things: Debian's redis-server on a loopback port, `arbor
 * worker` processes, `arbor run --evaluator`, and the in-process pool to compare against.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { makeBundle } from '../src/evaluation/queue/bundle.ts';
import { parseRedisAddress } from '../src/evaluation/queue/connection.ts';
import { QueueEvaluator } from '../src/evaluation/queue/queue-evaluator.ts';
import { readQueue } from '../src/evaluation/queue/workers.ts';
import { packResult, unpackResult } from '../src/evaluation/queue/protocol.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { encodeTrace } from '../src/trace/trace.ts';
import { launchChromium } from './browser.ts';
import { tunedPolicy } from './helpers.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis.ts';

const noRedis = redisUnavailable();
import { arbor, episodesOf, startWorker, stopWorker, studyScenario, until, type ArborProcess } from './queue-helpers.ts';

const REACH = 'test/fixtures/tasks/reach/reach.yaml';

describe.skipIf(noRedis !== undefined)(`a study through Redis and two arbor worker processes${noRedis ? ` — skipped: ${noRedis}` : ''}`, () => {
  let redis: TestRedis;
  let workers: ArborProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'arbor-queue-test-'));

  beforeAll(async () => {
    redis = await startRedis();
    workers = await Promise.all(['w1', 'w2'].map((name) => startWorker(redis.url, name, join(dir, 'cache'))));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(workers.map(stopWorker));
    await redis?.stop();
  });

  it('gives the in-process pool\'s results, episode for episode, trace bytes included', async () => {
    const scenario = studyScenario();
    const budget = ['--budget-episodes', '40', '--seed', '3'];
    const queued = arbor(['run', scenario, '--evaluator', redis.url, '--db', join(dir, 'queue.db'), ...budget]);
    const pooled = arbor(['run', scenario, '--workers', '2', '--db', join(dir, 'pool.db'), ...budget]);
    expect(await queued.exited, queued.stderr()).toBe(0);
    expect(await pooled.exited, pooled.stderr()).toBe(0);
    const viaQueue = episodesOf(join(dir, 'queue.db'));
    const inProcess = episodesOf(join(dir, 'pool.db'));
    expect(viaQueue.length).toBe(44); // 40 training episodes and 4 validation episodes
    expect(viaQueue.every((e) => e.trace !== null)).toBe(true);
    expect(viaQueue).toEqual(inProcess);

    // Heartbeats come every 2 s: wait for the ones after the last episode, then ask the CLI.
    const total = async () => (await readQueue(parseRedisAddress(redis.url))).workers.reduce((n, w) => n + w.episodes, 0);
    await until(async () => (await total()) === 44, 15_000, () => 'the heartbeats never counted the 44 episodes');
    const listed = arbor(['workers', redis.url, '--json']);
    expect(await listed.exited, listed.stderr()).toBe(0);
    const snapshot = JSON.parse(listed.stdout()) as { workers: { name: string; episodes: number; slots: number }[]; jobs: Record<string, number> };
    expect(snapshot.workers.map((w) => w.name)).toEqual(['w1', 'w2']);
    // Both took part, and together they ran each episode once.
    expect(snapshot.workers.every((w) => w.episodes > 0)).toBe(true);
    expect(snapshot.workers.reduce((n, w) => n + w.episodes, 0)).toBe(44);
    expect(snapshot.jobs).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  }, 180_000);

  it('shows each worker\'s throughput on the dashboard of an arbor view beside the study', async () => {
    const db = join(dir, 'view.db');
    const view = arbor(['view', '--db', db, '--port', '0']);
    const browser = await launchChromium({ width: 1280, height: 800 });
    try {
      await until(() => /http:\/\/\S+/.test(view.stdout()), 30_000, () => `arbor view did not start: ${view.stderr()}`);
      // The study publishes its live feed next to the database; the viewer relays its throughput.
      const run = arbor(['run', studyScenario(), '--evaluator', redis.url, '--db', db, '--budget-episodes', '16']);
      expect(await run.exited, run.stderr()).toBe(0);
      const page = await browser.context.newPage();
      await page.goto(/http:\/\/\S+/.exec(view.stdout())![0]);
      await page.waitForFunction(() => document.querySelectorAll('#workers-panel td').length >= 6, null, { timeout: 20_000 });
      const cells = await page.locator('#workers-panel td').allTextContents();
      const rows = [cells.slice(0, 3), cells.slice(3, 6)];
      expect(rows.map((r) => r[0])).toEqual(['w1', 'w2']);
      // Every episode of the study (16 training, 4 validation) was counted for the worker that ran it.
      expect(rows.reduce((n, r) => n + Number(r[1]), 0)).toBe(20);
      expect(rows.every((r) => Number(r[2]) > 0)).toBe(true);
      expect(await page.locator('#workers-panel th').first().textContent()).toMatch(/^workers \(\d+\.\d\d episodes\/s\)$/);
    } finally {
      await browser.close();
      view.child.kill('SIGINT');
      await view.exited;
    }
  }, 180_000);

  it('carries a task plug-in to the workers, and a crashing policy crashes there as it does here', async () => {
    const scenario = await loadScenario(REACH);
    const jobs = [
      { policy: { kind: 'params' as const, params: { gain: 0.05, explode: 0 } }, seed: 7, candidate: 1, split: 'train' as const },
      { policy: { kind: 'params' as const, params: { gain: 0.3, explode: 0 } }, seed: 8, candidate: 2, split: 'train' as const },
      { policy: { kind: 'params' as const, params: { gain: 0.05, explode: 1 } }, seed: 9, candidate: 3, split: 'train' as const },
    ];
    const bundle = makeBundle(scenario);
    // The plug-in's own module travels; arbor's src/ does not (the worker links its own).
    expect(bundle.manifest.arbor).toBe('');
    expect(bundle.manifest.files.map((f) => f.path)).toContain('test/fixtures/tasks/reach/index.ts');
    expect(bundle.manifest.files.some((f) => f.path.includes('/src/') || f.path.startsWith('src/'))).toBe(false);

    const queue = await QueueEvaluator.create(parseRedisAddress(redis.url), scenario, { study: 'reach-test' });
    const pool = await EvaluatorPool.create(REACH, { workers: 1 });
    try {
      const [remote, local] = await Promise.all([queue.evaluate(jobs), pool.evaluate(jobs)]);
      for (const [i, r] of remote.entries()) {
        const l = local[i];
        expect(r.ok).toBe(l.ok);
        if (r.ok && l.ok) {
          expect([r.score, r.success, r.outcome]).toEqual([l.score, l.success, l.outcome]);
          expect(Buffer.from(encodeTrace(r.trace)).equals(Buffer.from(encodeTrace(l.trace)))).toBe(true);
          expect(['w1', 'w2']).toContain(r.workerName);
        } else if (!r.ok && !l.ok) {
          expect(r.reason).toBe(l.reason);
          expect(r.reason).toMatch(/exploded on purpose/);
        }
      }
      expect(remote.map((r) => r.ok)).toEqual([true, true, false]);
    } finally {
      await Promise.all([queue.close(), pool.close()]);
    }
  }, 120_000);
});

describe.skipIf(noRedis !== undefined)(`a study with no workers${noRedis ? ` — skipped: ${noRedis}` : ''}`, () => {
  it('says so after a while, and goes on when a worker starts', async () => {
    const redis = await startRedis();
    const dir = mkdtempSync(join(tmpdir(), 'arbor-idle-'));
    const notices: string[] = [];
    const scenario = await loadScenario('scenarios/pick-place.yaml');
    const evaluator = await QueueEvaluator.create(parseRedisAddress(redis.url), scenario, { study: 'waiting', checkMs: 500, onNotice: (m) => notices.push(m) });
    let worker: ArborProcess | undefined;
    try {
      const results = evaluator.evaluate([{ policy: tunedPolicy(), seed: 3, candidate: 1, split: 'train' as const }]);
      await until(() => notices.length > 0, 30_000, () => 'the study never said that no worker takes its episodes');
      expect(notices).toEqual([`no worker has taken episodes from ${redis.url} for 10 s; start one with: arbor worker ${redis.url}`]);
      worker = await startWorker(redis.url, 'late', join(dir, 'cache'));
      const [result] = await results;
      expect(result.ok && result.success).toBe(true);
      expect(result.workerName).toBe('late');
    } finally {
      await evaluator.close();
      if (worker) await stopWorker(worker);
      await redis.stop();
    }
  }, 90_000);
});

describe('what cannot travel is refused with the fix', () => {
  it('a plug-in importing a package arbor does not depend on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-plugin-'));
    writeFileSync(join(dir, 'reach.yaml'), 'name: reach\n');
    writeFileSync(join(dir, 'index.ts'), `import chalk from 'chalk';\nimport task from '${resolve('test/fixtures/tasks/reach/index.ts')}';\nexport default task;\n`);
    const scenario = await loadScenario(REACH);
    expect(() => makeBundle({ ...scenario, file: join(dir, 'reach.yaml'), plugins: ['./index.ts'] })).toThrow(
      /imports the package 'chalk', which is not one of arbor's dependencies.*copy what you need into the plug-in's folder/,
    );
  });

  it('an MJCF file that names an asset by an absolute path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-mjcf-'));
    writeFileSync(join(dir, 'world.xml'), `<mujoco>\n  <include file="${resolve('robots/arm6/model.xml')}"/>\n</mujoco>\n`);
    const scenario = await loadScenario('scenarios/pick-place.yaml');
    expect(() => makeBundle({ ...scenario, worldPath: join(dir, 'world.xml') })).toThrow(/world\.xml:2: file=".*model\.xml" is an absolute path.*write it relative/);
  });

  it('flags that do not go together, and a Redis that does not answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-flags-'));
    const both = arbor(['run', 'scenarios/pick-place.yaml', '--evaluator', 'redis://127.0.0.1:9', '--workers', '2', '--db', join(dir, 'a.db')]);
    expect(await both.exited).toBe(1);
    expect(both.stderr()).toMatch(/--workers sizes the in-process pool; with --evaluator the episodes run on `arbor worker` processes/);
    const nobody = arbor(['worker', 'redis://127.0.0.1:9']);
    expect(await nobody.exited).toBe(1);
    expect(nobody.stderr()).toMatch(/Nothing answers as Redis at redis:\/\/127\.0\.0\.1:9 \(connect ECONNREFUSED 127\.0\.0\.1:9\); start redis-server there, or fix the address\./);
  }, 60_000);

  it('a Redis address that is not one', () => {
    expect(() => parseRedisAddress('http://x:1')).toThrow(/starts with http:.*redis:\/\/HOST:PORT/);
    expect(() => parseRedisAddress('redis://h:6379/99')).toThrow(/database '99' must be a whole number from 0 to 15/);
    expect(() => parseRedisAddress('localhost:6379')).toThrow(/write redis:\/\/HOST:PORT/);
    expect(parseRedisAddress('redis://u:secret@h:7000/2').shown).toBe('redis://u@h:7000/2');
  });

  it('a result over the size cap comes back as a failure that says how big it was', async () => {
    const pool = await EvaluatorPool.create('scenarios/pick-place.yaml', { workers: 1 });
    try {
      const [run] = await pool.evaluate([{ policy: tunedPolicy(), seed: 1 }]);
      if (!run.ok) throw new Error(run.reason);
      const header = { ok: true as const, worker: 'w', wallTime: 1, success: run.success, score: run.score, outcome: run.outcome, terms: run.terms, metrics: run.metrics };
      const small = unpackResult(packResult(header, run.trace, 1 << 20));
      expect(small.ok && Buffer.from(encodeTrace(small.trace!)).equals(Buffer.from(encodeTrace(run.trace)))).toBe(true);
      const capped = unpackResult(packResult(header, run.trace, 1000));
      expect(capped.ok).toBe(false);
      expect(!capped.ok && capped.reason).toMatch(/is \d+\.\d KiB compressed, over the queue's cap of 1\.0 KiB.*raise --max-result-mb/);
    } finally {
      await pool.close();
    }
  });
});
