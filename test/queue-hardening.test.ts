/**
 * The queue against a mixed fleet and a Redis holding bad data (issue 16, items 2 and 9), with the
 * real things: Debian's redis-server on a loopback port, `arbor worker` processes, `arbor run
 * --evaluator`, and a second checkout of arbor for a study of another build. The hostile client
 * of the queue is in test/queue-hostile.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, cpSync, mkdtempSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { buildDifference, localBuild, type Build } from '../src/evaluation/queue/build.ts';
import { uploadBundle } from '../src/evaluation/queue/bundle-transfer.ts';
import { makeBundle, manifestHash, type Manifest } from '../src/evaluation/queue/bundle.ts';
import { parseRedisAddress } from '../src/evaluation/queue/connection.ts';
import { JobData, MAX_RESULT_BYTES, jobId, packResult, queueName, unpackResult } from '../src/evaluation/queue/protocol.ts';
import { QueueEvaluator } from '../src/evaluation/queue/queue-evaluator.ts';
import type { QueueSnapshot } from '../src/evaluation/queue/workers.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { SEED_MAX } from '../src/scenario/schema.ts';
import { encodeTrace } from '../src/trace/trace.ts';
import { tunedPolicy } from './helpers.ts';
import { arbor, episodesOf, startWorker, stopWorker, studyScenario, until, type ArborProcess, type EpisodeRow } from './queue-helpers.ts';
import { redisUnavailable, startRedis, type TestRedis } from './redis.ts';
import { Rng } from '../src/scenario/rng.ts';

const noRedis = redisUnavailable();
/** Peak resident memory a worker may reach (MiB): one MuJoCo thread, Node and the job in hand. */
const WORKER_MEMORY_MIB = 700;
const skipped = noRedis ? ` — skipped: ${noRedis}` : '';

/** Peak resident memory of a process so far (MiB), from /proc. */
function peakMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`/proc/${pid}/status has no VmHWM line`);
  return Number(match[1]) / 1024;
}

/**
 * `mib` MiB of zeros as gzip: 1 KiB per MiB, as concatenated gzip members (which gunzip reads one
 * after another), so the test never holds the zeros itself.
 */
function gzipBomb(mib: number): Buffer {
  const member = gzipSync(Buffer.alloc(2 ** 20));
  return Buffer.concat(Array.from({ length: mib }, () => member));
}

/** A copy of this checkout whose src/ differs by a comment: arbor of another build (its source digest). */
function otherCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-other-build-'));
  for (const part of ['bin', 'src', 'package.json', 'tsconfig.json']) cpSync(part, join(dir, part), { recursive: true });
  symlinkSync(realpathSync('node_modules'), join(dir, 'node_modules'), 'dir');
  appendFileSync(join(dir, 'src/evaluation/queue/build.ts'), '\n// another checkout of arbor\n');
  return dir;
}

/** Kills what a test started and is still running. */
async function killAll(processes: ArborProcess[]): Promise<void> {
  for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
}

/** What the tests of one `describe` share: a Redis and a client of it (from `beforeAll`), the processes they start, a folder. */
function redisForTests(prefix: string): { redis: () => TestRedis; client: () => Redis; running: ArborProcess[]; dir: string } {
  let redis: TestRedis | undefined;
  let client: Redis | undefined;
  const running: ArborProcess[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    await killAll(running);
    client?.disconnect();
    await redis?.stop();
  });
  return { redis: () => redis!, client: () => client!, running, dir: mkdtempSync(join(tmpdir(), prefix)) };
}

const alive = (p: ArborProcess) => p.child.exitCode === null && p.child.signalCode === null;

describe.skipIf(noRedis !== undefined)(`a fleet of two builds on one Redis${skipped}`, () => {
  const { running, dir, ...shared } = redisForTests('arbor-fleet-');

  it('a study of another build waits for workers of its build and says so; the workers stay up and serve their own build', async () => {
    const workers = await Promise.all(['w1', 'w2'].map((name) => startWorker(shared.redis().url, name, join(dir, 'cache'))));
    running.push(...workers);
    const scenario = studyScenario();
    // A colleague's study from another checkout shares the Redis.
    const foreign = arbor(['run', scenario, '--evaluator', shared.redis().url, '--db', join(dir, 'foreign.db'), '--budget-episodes', '8'], join(otherCheckout(), 'bin/arbor.js'));
    running.push(foreign);
    await until(
      () => /none of the 2 live workers/.test(foreign.stderr()) || !workers.every(alive),
      90_000,
      () => `the study of another build never said that no worker runs its build: ${foreign.stderr()}`,
    );
    expect(workers.map(alive), workers.map((w) => w.stderr()).join('\n')).toEqual([true, true]);
    expect(foreign.stderr()).toMatch(
      /none of the 2 live workers on redis:\/\/127\.0\.0\.1:\d+ runs this study's build, so its episodes wait on the queue of that build \(episodes-[0-9a-f]{12}\) until one does\. The study runs arbor \S+ \(source [0-9a-f]{12}\).*; w1, w2 run arbor \S+ \(source [0-9a-f]{12}\), MuJoCo .* \(it differs in source\)\..*install the study's arbor \(the same commit, then npm ci\).*arbor worker redis:/,
    );

    // The workers' own study runs beside it, to the end.
    const own = arbor(['run', scenario, '--evaluator', shared.redis().url, '--db', join(dir, 'own.db'), '--budget-episodes', '16']);
    running.push(own);
    expect(await own.exited, own.stderr()).toBe(0);
    const episodes = episodesOf(join(dir, 'own.db'));
    expect(episodes).toHaveLength(20); // 16 training, 4 validation
    expect(episodes.every((e) => e.trace !== null)).toBe(true);
    expect(workers.map(alive)).toEqual([true, true]);
    expect(workers.map((w) => w.stderr()).join('\n')).not.toMatch(/refused/);

    // The other study's episodes wait on its build's queue, and `arbor workers` says nobody runs that build.
    const listed = arbor(['workers', shared.redis().url, '--json']);
    expect(await listed.exited, listed.stderr()).toBe(0);
    const snapshot = JSON.parse(listed.stdout()) as QueueSnapshot;
    const local = await localBuild();
    const theirs = snapshot.queues.filter((q) => q.build.source !== local.source);
    expect(theirs).toHaveLength(1);
    expect(theirs[0].workers).toBe(0);
    expect(theirs[0].jobs.waiting).toBeGreaterThan(0);
    expect(snapshot.queues.find((q) => q.queue === queueName(local))?.workers).toBe(2);
    const shown = arbor(['workers', shared.redis().url]);
    expect(await shown.exited).toBe(0);
    expect(shown.stdout()).toMatch(new RegExp(`source ${theirs[0].build.source}\\), MuJoCo .*: ${theirs[0].jobs.waiting} waiting, 0 running, 0 delayed, 0 failed; no worker runs this build`));
    expect(alive(foreign)).toBe(true);
    await killAll([foreign, ...workers]);
  }, 300_000);

  it("a job of another build put on this build's queue by hand fails with the reason, is told once per study, and the workers go on", async () => {
    const workers = await Promise.all(['h1', 'h2'].map((name) => startWorker(shared.redis().url, name, join(dir, 'cache-hand'))));
    running.push(...workers);
    const build = await localBuild();
    const queue = new Queue(queueName(build), { connection: parseRedisAddress(shared.redis().url).options, prefix: 'arbor' });
    const scenario = await loadScenario('scenarios/pick-place.yaml');
    const notices: string[] = [];
    let evaluator: QueueEvaluator | undefined;
    try {
      const bundle = makeBundle(scenario);
      await uploadBundle(shared.client(), bundle);
      const foreign = { ...build, source: build.source === '0123456789ab' ? 'ba9876543210' : '0123456789ab' };
      const ids = [1, 2, 3, 4, 5, 6].map((seed) => `intruder.c1.train.s${seed}`);
      await queue.addBulk(ids.map((id, i) => {
        const data: JobData = { study: 'intruder', bundle: bundle.hash, build: foreign, policy: tunedPolicy(), seed: i + 1, maxResultBytes: 1 << 20 };
        return { name: 'episode', data, opts: { jobId: id, attempts: 3 } };
      }));
      await until(
        async () => (await Promise.all(ids.map((id) => queue.getJobState(id)))).every((s) => s === 'failed') || !workers.every(alive),
        60_000,
        () => `the jobs of another build did not fail: ${workers.map((w) => w.stderr()).join('\n')}`,
      );
      expect(workers.map(alive)).toEqual([true, true]);
      for (const id of ids) {
        const job = await queue.getJob(id);
        expect(job?.failedReason).toMatch(
          new RegExp(`^Job ${id.replace(/\./g, '\\.')} of study intruder was refused: the job says it runs on arbor \\S+ \\(source ${foreign.source}\\).*, but it is on the queue of arbor \\S+ \\(source ${build.source}\\).* \\(they differ in source\\)\\. arbor queues a study's episodes on its own build's queue \\(episodes-[0-9a-f]{12} for that build\\)`),
        );
        expect(job?.attemptsMade).toBe(1); // failed at once, not tried again
      }
      // Each worker that met the study's jobs told it once, in its log and to the study.
      const told = workers.map((w) => (w.stderr().match(/refused the episodes of study intruder/g) ?? []).length);
      expect(told.every((n) => n <= 1) && told.some((n) => n === 1)).toBe(true);
      const refusals = await shared.client().lrange('arbor:refusals:intruder', 0, -1);
      expect(refusals).toHaveLength(told[0] + told[1]);

      // A study of that name hears of it, and its own episodes (of this build) run on the same workers.
      evaluator = await QueueEvaluator.create(parseRedisAddress(shared.redis().url), scenario, { study: 'intruder', checkMs: 100, onNotice: (m) => notices.push(m) });
      await until(() => notices.length >= refusals.length, 10_000, () => 'the study was not told of the refusal');
      expect([...notices].sort()).toEqual([...refusals].sort());
      const [result] = await evaluator.evaluate([{ policy: tunedPolicy(), seed: 3, candidate: 1, split: 'train' as const }]);
      expect(result.ok && result.success).toBe(true);
      expect(workers.map(alive)).toEqual([true, true]);
    } finally {
      await evaluator?.close();
      await queue.close();
      await Promise.all(workers.map(stopWorker));
    }
  }, 180_000);
});

describe.skipIf(noRedis !== undefined)(`bad data from Redis${skipped}`, () => {
  const { running, dir, ...shared } = redisForTests('arbor-bad-data-');

  it('a garbage result fails only its episode: it runs again, and after three unreadable results it is recorded as failed with the reason', async () => {
    const scenario = await loadScenario('scenarios/pick-place.yaml');
    const notices: string[] = [];
    const evaluator = await QueueEvaluator.create(parseRedisAddress(shared.redis().url), scenario, { study: 'garbage', maxResultBytes: 2 ** 20, checkMs: 200, onNotice: (m) => notices.push(m) });
    const pool = await EvaluatorPool.create('scenarios/pick-place.yaml', { workers: 1 });
    const left = { policy: tunedPolicy(), seed: 11, candidate: 1, split: 'train' as const };
    const hit = { policy: tunedPolicy(), seed: 12, candidate: 2, split: 'train' as const };
    const [leftId, hitId] = [left, hit].map((job) => jobId('garbage', evaluator.bundleHash, job));
    try {
      // Left from before (a resumed study finds it): 64 MiB of zeros in 64 KiB, under the 1 MiB cap.
      await shared.client().set(`arbor:result:${leftId}`, gzipBomb(64));
      const results = evaluator.evaluate([left, hit]);
      // While the other episode waits for a worker, three kinds of garbage land on its result.
      const badHeader = Buffer.concat([Buffer.from([5, 0, 0, 0]), Buffer.from('{"ok"')]);
      for (const junk of [randomBytes(5000), randomBytes(2 ** 20 + 10), gzipSync(badHeader)]) {
        await shared.client().set(`arbor:result:${hitId}`, junk);
        await until(async () => (await shared.client().exists(`arbor:result:${hitId}`)) === 0, 20_000, () => `the study never took the garbage result: ${notices.join('\n')}`);
      }
      const worker = await startWorker(shared.redis().url, 'late', join(dir, 'cache-garbage'));
      running.push(worker);
      const [leftResult, hitResult] = await results;

      // The episode with garbage left from before ran again, as it runs in-process.
      const [expected] = await pool.evaluate([left]);
      if (!leftResult.ok || !expected.ok) throw new Error(`the episode failed: ${JSON.stringify([leftResult, expected].map((r) => !r.ok && r.reason))}`);
      expect([leftResult.score, leftResult.success, leftResult.workerName]).toEqual([expected.score, expected.success, 'late']);
      expect(Buffer.from(encodeTrace(leftResult.trace)).equals(Buffer.from(encodeTrace(expected.trace)))).toBe(true);
      // The other is failed, with every reason told on the way.
      expect(hitResult.ok).toBe(false);
      expect(!hitResult.ok && hitResult.reason).toMatch(
        new RegExp(`^The result of episode ${hitId} in Redis cannot be read: its header is not JSON\\. Its results were unreadable 3 times, so the episode is recorded as failed`),
      );
      const escaped = (id: string) => id.replace(/\./g, '\\.');
      // (Besides these, the study said that no worker took its episodes, as none ran at first.)
      expect(notices.filter((m) => /^The result/.test(m))).toEqual([
        expect.stringMatching(new RegExp(`^The result of episode ${escaped(leftId)} in Redis cannot be read: it unpacks to more than 8\\.0 MiB, which no arbor worker sends\\. Running the episode again\\.$`)),
        expect.stringMatching(new RegExp(`^The result of episode ${escaped(hitId)} in Redis cannot be read: it is not gzip data \\(.*\\)\\. Running the episode again\\.$`)),
        expect.stringMatching(new RegExp(`^The result of episode ${escaped(hitId)} in Redis cannot be read: it is over the study's cap of 1\\.0 MiB\\. Running the episode again\\.$`)),
        expect.stringMatching(/unreadable 3 times/),
      ]);
    } finally {
      await Promise.all([evaluator.close(), pool.close()]);
      await killAll(running);
    }
  }, 180_000);

  it("a bundle file that unpacks beyond its manifest's size is refused before it fills memory, removed, and stored again by the study", async () => {
    const worker = await startWorker(shared.redis().url, 'bundles', join(dir, 'cache-bomb'));
    running.push(worker);
    const scenario = await loadScenario('scenarios/pick-place.yaml');
    const evaluator = await QueueEvaluator.create(parseRedisAddress(shared.redis().url), scenario, { study: 'bomb', checkMs: 300 });
    try {
      const bundle = makeBundle(scenario);
      const [big, small] = [...bundle.manifest.files].sort((a, b) => b.size - a.size);
      // 1 GiB of zeros in 1 MiB of gzip where the manifest says a few KiB, and, within a few bytes of
      // a file's own size, 8 MiB of zeros where it says less.
      await shared.client().set(`arbor:file:${big.sha256}`, gzipBomb(1024));
      const compact = gzipSync(Buffer.alloc(small.size * 600));
      expect(compact.length).toBeLessThan(small.size);
      await shared.client().set(`arbor:file:${small.sha256}`, compact);

      const [result] = await evaluator.evaluate([{ policy: tunedPolicy(), seed: 5, candidate: 1, split: 'train' as const }]);
      expect(result.ok && result.success, JSON.stringify(!result.ok && result.reason)).toBe(true);
      const hash = bundle.hash.slice(0, 12);
      expect(worker.stderr()).toContain(`File ${big.path} of scenario bundle ${hash} is over ${big.size + (big.size >> 8) + 64} bytes in Redis, more than its ${big.size} bytes gzipped can be; the worker removed the bundle's manifest, so that its study stores it again.`);
      expect(worker.stderr()).toContain(`File ${small.path} of scenario bundle ${hash} unpacks to more than the ${small.size} bytes its manifest gives; the worker removed`);
      // The worker never held the bomb: its peak is what a worker running pick-and-place needs.
      const peak = peakMiB(worker.child.pid!);
      console.log(`bundle bomb: worker peak memory ${peak.toFixed(0)} MiB`);
      expect(peak).toBeLessThan(WORKER_MEMORY_MIB);
    } finally {
      await evaluator.close();
      await stopWorker(worker);
    }
  }, 120_000);

  it('a job whose bundle never arrives fails after 10 tries, with the reason', async () => {
    const worker = await startWorker(shared.redis().url, 'orphans', join(dir, 'cache-orphan'));
    running.push(worker);
    const build = await localBuild();
    const queue = new Queue(queueName(build), { connection: parseRedisAddress(shared.redis().url).options, prefix: 'arbor' });
    try {
      const missing = createHash('sha256').update('a bundle nobody stored').digest('hex');
      const data: JobData = { study: 'orphan', bundle: missing, build, policy: tunedPolicy(), seed: 1, maxResultBytes: 1 << 20 };
      // Its options ask for many attempts; the worker holds it to its own limit.
      await queue.add('episode', data, { jobId: 'orphan.c1.train.s1', attempts: 1000 });
      await until(async () => (await queue.getJobState('orphan.c1.train.s1')) === 'failed', 90_000, () => `the job is still ${'waiting for its bundle'}: ${worker.stderr()}`);
      const job = await queue.getJob('orphan.c1.train.s1');
      expect(job?.failedReason).toBe(
        `Scenario bundle ${missing.slice(0, 12)} is not in Redis. It was still missing after 10 tries 2 s apart. A study stores its bundle while it runs, ` +
          'so the study of this job is not running (or the job was not queued by arbor); resuming the study queues its episodes again.',
      );
      expect(job?.attemptsStarted).toBe(10);
      expect(alive(worker)).toBe(true);
    } finally {
      await queue.close();
      await stopWorker(worker);
    }
  }, 150_000);
});

describe('results that unpack to more than their cap', () => {
  it('the worker sends a failure that says so, and the study never unpacks past eight times the cap', () => {
    // 100 KB of one letter (97.8 KiB with its header): 300 bytes gzipped, under a 4 KiB cap, 24 times it unpacked.
    const header = { ok: true as const, worker: 'w', wallTime: 1, success: true, score: 1, outcome: 'x'.repeat(100_000), terms: {}, metrics: {} };
    const sent = unpackResult(packResult(header, undefined, 4096), 4096);
    expect(sent.ok).toBe(false);
    expect(!sent.ok && sent.reason).toMatch(/^The episode's result is 97\.8 KiB before compression, over 8 times the queue's cap of 4\.0 KiB; .*raise --max-result-mb/);
    expect(() => unpackResult(gzipSync(Buffer.alloc(40_000)), 4096)).toThrow(/^it unpacks to more than 32\.0 KiB, which no arbor worker sends\.$/);
  });
});


const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** Bundles in Redis that no worker may use, by what is wrong with them; each is a hash jobs can name. */
interface BadBundles {
  /** Corrupt ones, which a worker removes (and then waits for, as for a missing one). */
  corrupt: Record<string, string>;
  /** A whole, correctly hashed bundle that is not one arbor makes (it carries src/). */
  foreign: string;
}

/** Writes every kind of bad bundle into Redis. */
async function plantBadBundles(client: Redis): Promise<BadBundles> {
  const stored = async (files: { path: string; data: Buffer; size?: number; sha256?: string }[]) => {
    const manifest: Manifest = {
      scenario: files[0].path,
      arbor: '',
      files: files.map((f) => ({ path: f.path, sha256: f.sha256 ?? sha(f.data), size: f.size ?? f.data.length })),
    };
    const hash = manifestHash(manifest);
    for (const f of files) await client.set(`arbor:file:${f.sha256 ?? sha(f.data)}`, f.data);
    await client.set(`arbor:bundle:${hash}`, JSON.stringify(manifest));
    return hash;
  };
  const raw = async (name: string, value: string) => {
    await client.set(`arbor:bundle:${sha(name)}`, value);
    return sha(name);
  };
  const some = randomBytes(100);
  return {
    corrupt: {
      notJson: await raw('not json', '{"scenario": '),
      wrongShape: await raw('wrong shape', JSON.stringify({ scenario: '../../etc/passwd', arbor: '', files: 'all' })),
      hugeManifest: await raw('huge', 'x'.repeat(5 * 2 ** 20)),
      misnamed: await raw('misnamed', JSON.stringify({ scenario: 'a.yaml', arbor: '', files: [{ path: 'a.yaml', sha256: sha('a'), size: 1 }] })),
      overBound: await stored([{ path: 'a.yaml', data: gzipBomb(256), size: 100, sha256: sha('over the bound') }]),
      overSize: await stored([{ path: 'a.yaml', data: gzipSync(Buffer.alloc(4096 * 600)), size: 4096, sha256: sha('over the size') }]),
      notGzip: await stored([{ path: 'a.yaml', data: randomBytes(80), size: 100, sha256: sha('not gzip') }]),
      wrongHash: await stored([{ path: 'a.yaml', data: gzipSync(some), size: 100, sha256: sha('wrong hash') }]),
    },
    foreign: await stored([{ path: 'src/evil.yaml', data: gzipSync(some), size: 100, sha256: sha(some) }]),
  };
}

/**
 * Job data with random and boundary values in one to three fields (or no job at all), from a
 * valid episode of the real study's bundle; the rest of the time a field names a bad bundle.
 */
function hostileData(rand: () => number, valid: JobData, bad: BadBundles): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const missing = sha('a bundle nobody stored');
  const fields: Record<keyof JobData, () => unknown> = {
    study: () => pick(['', 'x'.repeat(200), 'x'.repeat(201), '\u0000\uffff', 'тест 🦾', 42, null]),
    bundle: () => pick(['', 'zz', valid.bundle.toUpperCase(), `${valid.bundle}0`, missing, bad.foreign, ...Object.values(bad.corrupt), 7]),
    build: () => pick([{}, { ...valid.build, source: 'ffffffffffff' }, { ...valid.build, mujoco: '9.9.9' }, { ...valid.build, extra: 1 }, { ...valid.build, arbor: '' }, { ...valid.build, mujocoJs: 'x'.repeat(65) }, 'build', null]),
    policy: () =>
      pick([
        null,
        'params',
        { kind: 'nope' },
        { kind: 'params', params: { gain: 'high' } },
        { kind: 'params', params: { approach_height: 1e308 } },
        { kind: 'params', params: { not_a_parameter: -1 } },
        { kind: 'code', source: '' },
        { kind: 'code', source: 'x'.repeat(200_001) },
        { kind: 'code', source: 'export function act() { while (true) {} }' },
        { kind: 'prompt', config: {} },
      ]),
    seed: () => pick([-1, 0, SEED_MAX, SEED_MAX + 1, 1.5, Number.MAX_SAFE_INTEGER, '3', null, Math.floor(rand() * 1e6)]),
    maxResultBytes: () => pick([0, -1, 4095, 4096, MAX_RESULT_BYTES, MAX_RESULT_BYTES + 1, 2.5, 1e300]),
  };
  if (rand() < 0.1) return pick(['a string', 42, null, [], [valid], 'x'.repeat(2 ** 20), JSON.parse(`${'{"a":'.repeat(300)}1${'}'.repeat(300)}`)]);
  const data: Record<string, unknown> = { ...valid };
  const names = Object.keys(fields) as (keyof JobData)[];
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const name = pick(names);
    data[name] = fields[name]();
  }
  if (rand() < 0.1) data.extra = 'field';
  return data;
}

/** What must become of a hostile job: the reason it fails with, or `completed` (an episode ran). */
function fateOf(data: unknown, realBundle: string, bad: BadBundles, build: Build): RegExp | 'completed' {
  const parsed = JobData.safeParse(data);
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (!parsed.success) return new RegExp(`is not an arbor episode: ${escape(parsed.error.issues[0].path.join('.') || 'its data')}: `);
  if (buildDifference(parsed.data.build, build).length > 0) return /was refused: the job says it runs on arbor .* they differ in /;
  if (parsed.data.bundle === realBundle) return 'completed';
  if (parsed.data.bundle === bad.foreign) return /carries src\/evil\.yaml, where the worker links its own arbor; it is not a bundle arbor makes\.$/;
  return /It was still missing after 10 tries 2 s apart\./;
}

/** Hostile jobs: random ones from `SEED`, and one with each bad bundle. */
const HOSTILE_JOBS = 30;
const SEED = 16;
/** How long the hostile jobs may take, all of them, once the queue runs (s). */
const HOSTILE_SECONDS = 150;

describe.skipIf(noRedis !== undefined)(`a hostile client on the queue${skipped}`, () => {
  const { running, dir, ...shared } = redisForTests('arbor-hostile-');
  const scenarioFile = studyScenario();
  const budget = ['--budget-episodes', '16', '--seed', '7'];
  let expected: EpisodeRow[];

  beforeAll(async () => {
    const pooled = arbor(['run', scenarioFile, '--workers', '2', '--db', join(dir, 'pool.db'), ...budget]);
    expect(await pooled.exited, pooled.stderr()).toBe(0);
    expected = episodesOf(join(dir, 'pool.db'));
  }, 180_000);

  it(`${HOSTILE_JOBS + 9} hostile jobs and garbage results and bundles: each refused with its reason, the workers up and under ${WORKER_MEMORY_MIB} MiB, and a study beside them completes with the in-process episodes`, async () => {
    const [url, client] = [shared.redis().url, shared.client()];
    const build = await localBuild();
    const queue = new Queue(queueName(build), { connection: parseRedisAddress(url).options, prefix: 'arbor' });
    try {
      const workers = await Promise.all(['h1', 'h2'].map((name) => startWorker(url, name, join(dir, 'cache'))));
      running.push(...workers);
      // The study queues its first episodes while the hostile client holds the queue (BullMQ's pause).
      await queue.pause();
      const study = arbor(['run', scenarioFile, '--evaluator', url, '--db', join(dir, 'queue.db'), ...budget]);
      running.push(study);
      const studyJobs = async () => (await queue.getWaiting()).map((job) => job.id!).filter((id) => !id.startsWith('hostile-'));
      await until(async () => (await studyJobs()).length >= 3, 90_000, () => `the study queued no episodes: ${study.stderr()}`);

      // Garbage on three of its results: random bytes, 200 MiB of zeros (a gzip bomb), a header cut short.
      const victims = (await studyJobs()).slice(0, 3);
      const junk = [randomBytes(3000), gzipBomb(200), gzipSync(Buffer.concat([Buffer.from([200, 0, 0, 0]), Buffer.from('{}')]))];
      for (const [i, id] of victims.entries()) await client.set(`arbor:result:${id}`, junk[i]);
      // Gone from Redis, and said on stderr (which reaches this process a little later than Redis does).
      const told = () => study.stderr().match(/in Redis cannot be read: .* Running the episode again\./g)?.length ?? 0;
      await until(
        async () => (await Promise.all(victims.map((id) => client.exists(`arbor:result:${id}`)))).every((n) => n === 0) && told() >= 3,
        60_000,
        () => `the study never took the garbage results: ${study.stderr()}`,
      );
      expect(told()).toBe(3);
      expect(study.stderr()).toMatch(/cannot be read: it unpacks to more than 128\.0 MiB, which no arbor worker sends\./);

      // Hostile jobs beside the study's, then the queue runs again.
      const bad = await plantBadBundles(client);
      const realBundle = makeBundle(await loadScenario(scenarioFile)).hash;
      const valid: JobData = { study: 'hostile', bundle: realBundle, build, policy: tunedPolicy(), seed: 1, maxResultBytes: 2 ** 20 };
      const rng = new Rng(SEED); // seeded: the hostile jobs are the same on every run
      const rand = () => rng.next();
      const datas: unknown[] = [...Object.values(bad.corrupt), bad.foreign].map((bundle) => ({ ...valid, bundle }));
      for (let i = 0; i < HOSTILE_JOBS; i++) datas.push(hostileData(rand, valid, bad));
      const jobs = datas.map((data, i) => ({
        name: 'episode',
        data,
        opts: { jobId: `hostile-${i}`, attempts: [1, 3, 1000][i % 3], lifo: rand() < 0.3, ...(rand() < 0.2 ? { priority: 1 + Math.floor(rand() * 2_000_000) } : {}) },
      }));
      await queue.addBulk(jobs);
      const start = Date.now();
      await queue.resume();

      // Every hostile job ends, in the time bound, as it must.
      let states: string[] = [];
      await until(
        async () => {
          states = await Promise.all(jobs.map((j) => queue.getJobState(j.opts.jobId)));
          return states.every((s) => s === 'failed' || s === 'completed') || !workers.every(alive);
        },
        HOSTILE_SECONDS * 1000,
        () => `hostile jobs still open after ${HOSTILE_SECONDS} s: ${states.flatMap((s, i) => (s === 'failed' || s === 'completed' ? [] : [`hostile-${i} ${s}`])).join(', ')}`,
      );
      expect(workers.map(alive), workers.map((w) => w.stderr()).join('\n')).toEqual([true, true]);
      for (const [i, j] of jobs.entries()) {
        const fate = fateOf(j.data, realBundle, bad, build);
        const job = await queue.getJob(j.opts.jobId);
        const where = `${j.opts.jobId} (${JSON.stringify(j.data)?.slice(0, 300)}): ${job?.failedReason}`;
        if (fate === 'completed') {
          expect(await queue.getJobState(j.opts.jobId), where).toBe('completed');
          const packed = await client.getBuffer(`arbor:result:hostile-${i}`);
          expect(packed, where).not.toBeNull();
          unpackResult(packed!, (j.data as JobData).maxResultBytes);
        } else {
          expect(job?.failedReason, where).toMatch(fate);
          expect(job?.failedReason, where).not.toMatch(/\n\s+at /); // a reason, not a stack
        }
      }
      expect((Date.now() - start) / 1000).toBeLessThan(HOSTILE_SECONDS);
      // The corrupt bundles were removed; the one that is whole but not arbor's stays refused.
      for (const hash of Object.values(bad.corrupt)) expect(await client.exists(`arbor:bundle:${hash}`), hash).toBe(0);
      // A refusal is told once per study by each worker.
      for (const w of workers) {
        const told = [...w.stderr().matchAll(/refused the episodes of study (.*?): /g)].map((m) => m[1]);
        expect(told).toEqual([...new Set(told)]);
      }

      // The study beside them completes with exactly the in-process pool's episodes.
      expect(await study.exited, study.stderr()).toBe(0);
      expect(episodesOf(join(dir, 'queue.db'))).toEqual(expected);
      const peaks = workers.map((w) => peakMiB(w.child.pid!));
      console.log(`hostile queue: worker peak memory ${peaks.map((p) => p.toFixed(0)).join(' and ')} MiB`);
      for (const peak of peaks) expect(peak).toBeLessThan(WORKER_MEMORY_MIB);
      expect(workers.map(alive)).toEqual([true, true]);
    } finally {
      await queue.close();
    }
  }, 600_000);
});
