/**
 * `arbor mcp` against a careless or hostile client (issue 16, items 4 and 5), through the real
 * server process and the MCP SDK's own client: files it may not or cannot read, arguments that
 * would be options, a request over the SDK's size limit, cancelled episodes and evaluations, and
 * studies that are capped, stopped, and stopped resumably when the client leaves.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../src/store/store.ts';
import { alive, cpuSeconds, sleep, startMcp, timed, type McpSession } from './mcp-helpers.ts';
import { scenarioCopy, smallScenario } from './study-helpers.ts';

// Episodes of two minutes of sim time: long enough to cancel one midway.
const { dir, file: longScenario } = scenarioCopy('scenarios/pick-place.yaml', (t) => t.replace('duration: 6.0', 'duration: 120.0').replace('wall_time_limit: 20', 'wall_time_limit: 600'), 'long.yaml');
const study = smallScenario({ candidates: 400, seeds: 2, validation: 2 });
const db = join(dir, 'mcp.db');
const secret = 'root:*:20234:0:99999:7:::\n';
let server: McpSession;

beforeAll(async () => {
  writeFileSync(join(dir, 'shadow.json'), secret);
  writeFileSync(join(dir, 'big.json'), Buffer.alloc(2 * 1024 * 1024, 32));
  execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
  symlinkSync('/dev/zero', join(dir, 'zero.yaml'));
  symlinkSync('/etc/hostname', join(dir, 'outside.json'));
  mkdirSync(join(dir, 'sub'));
  server = await startMcp(['--db', db, '--root', '.', '--root', dir, '--root', study.dir, '--max-studies', '1', '--max-runs', '1']);
});
afterAll(() => server?.client.close());

describe('arbor mcp reads only what it should', () => {
  it('refuses device files, FIFOs, big files and files outside its folders at once, and quotes none of their bytes', async () => {
    const scenario = 'scenarios/pick-place.yaml';
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ scenario, seed: 1, policy: '/dev/zero' }, /must be a \.json, \.ts, \.js, \.mjs file/],
      [{ scenario, seed: 1, policy: '/etc/passwd.json' }, /does not exist/],
      [{ scenario, seed: 1, policy: join(dir, 'outside.json') }, /outside the folders arbor mcp may read .*--root DIR/],
      [{ scenario, seed: 1, policy: join(dir, 'big.json') }, /is 2097152 bytes; arbor mcp reads files of at most 1048576 bytes/],
      [{ scenario: join(dir, 'pipe.yaml'), seed: 1 }, /is not a regular file/],
      [{ scenario: join(dir, 'zero.yaml'), seed: 1 }, /outside the folders/],
      [{ scenario: join(dir, 'sub'), seed: 1 }, /must be a \.yaml, \.yml file/],
      [{ scenario: '../../../../etc/passwd.yaml', seed: 1 }, /does not exist|outside the folders/],
    ];
    for (const [args, message] of cases) {
      const result = await server.call('run_episode', args, { timeout: 10_000 });
      expect(result.error, JSON.stringify(args)).toBe(true);
      expect(result.text).toMatch(message);
    }
    const listed = await server.call('list_scenarios', { dir: '/etc' }, { timeout: 10_000 });
    expect(listed.text).toMatch(/outside the folders/);
    // The FIFO in a listed folder is reported, not read (reading it would block until a writer came).
    const inDir = await server.call('list_scenarios', { dir }, { timeout: 10_000 });
    expect(inDir.value.find((e: { file: string }) => e.file.endsWith('pipe.yaml')).error).toMatch(/not a regular file/);

    const shadow = await server.call('run_episode', { scenario, seed: 1, policy: join(dir, 'shadow.json') });
    expect(shadow.text).toMatch(/shadow\.json: is not valid JSON/);
    expect(shadow.text).not.toMatch(/root|20234|'r'/);
  });

  it('reads outside the project with --any-path, still only regular files', async () => {
    const open = await startMcp(['--db', db, '--any-path']);
    try {
      expect((await open.call('describe_scenario', { scenario: longScenario })).value.name).toBe('pick-place');
      expect((await open.call('describe_scenario', { scenario: join(dir, 'zero.yaml') }, { timeout: 10_000 })).text).toMatch(/zero\.yaml' is not a regular file/);
    } finally {
      await open.client.close();
    }
  });

  it('refuses a scenario or study id that starts with -, which the study command would take as an option', async () => {
    for (const scenario of ['--help', `--db=${join(dir, 'other.db')}`, '-h']) {
      const result = await server.call('start_study', { scenario });
      expect(result.error).toBe(true);
      expect(result.text).toMatch(/must not start with '-'/);
    }
    const resumed = await server.call('resume_study', { study: '--version' });
    expect(resumed.text).toMatch(/must not start with '-'/);
  });

  it('says so on stderr and exits with 1 after a request over the SDK\'s 10 MB limit', async () => {
    const child = spawn(process.execPath, ['bin/arbor.js', 'mcp', '--db', db], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {}); // the server stops reading: the rest of the write fails, as it should
    child.stdin.write(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"run_episode","arguments":{"scenario":"${'x'.repeat(11 * 1024 * 1024)}`);
    const code = await new Promise<number | null>((done) => child.on('exit', done));
    expect(code).toBe(1);
    expect(stderr).toMatch(/arbor mcp: stopping, the stream cannot go on: ReadBuffer exceeded maximum size of 10485760 bytes/);
  }, 60_000);
});

describe('arbor mcp stops what a client no longer wants', () => {
  it('answers tools/list within 1 s while an episode runs, and a cancelled run_episode stops at once', async () => {
    const abort = new AbortController();
    const episode = server.call('run_episode', { scenario: longScenario, seed: 3 }, { signal: abort.signal, timeout: 600_000 });
    episode.catch(() => {});
    await sleep(2000);
    for (let i = 0; i < 4; i++) expect(await timed(() => server.client.listTools())).toBeLessThan(1000);
    // Busy: the episode holds the one run --max-runs 1 allows.
    expect((await server.call('evaluate', { scenario: longScenario, seeds: '0..1' })).text).toMatch(/--max-runs 1/);
    abort.abort();
    await expect(episode).rejects.toThrow(/abort/i);
    await expectIdle(server.pid);
  });

  it('a cancelled evaluate stops its episodes', async () => {
    const abort = new AbortController();
    const evaluation = server.call('evaluate', { scenario: 'scenarios/pick-place.yaml', seeds: '0..99999', workers: 2 }, { signal: abort.signal, timeout: 600_000 });
    evaluation.catch(() => {});
    await sleep(3000);
    abort.abort();
    await expect(evaluation).rejects.toThrow(/abort/i);
    await expectIdle(server.pid);
    // The slot is free again.
    const again = await server.call('run_episode', { scenario: 'scenarios/pick-place.yaml', seed: 1 });
    expect(again.value.seed).toBe(1);
  });

  it('runs one study at a time, stops one resumably with stop_study, and stops the rest when the client leaves', async () => {
    const started = await server.call('start_study', { scenario: study.file, researcher: 'random', seed: 5, workers: 1 });
    expect(started.error, started.text).toBe(false);
    const id = started.value.study as string;
    const second = await server.call('start_study', { scenario: study.file, researcher: 'random' });
    expect(second.text).toMatch(/already runs 1 study .*--max-studies 1.*stop_study/);
    await untilEpisodes(id);

    const stopped = await server.call('stop_study', { study: id });
    expect(stopped.value).toMatchObject({ study: id, status: 'stopped', process: 'exited' });
    expect((await server.call('stop_study', { study: 'elsewhere' })).text).toMatch(/did not start study elsewhere/);

    const resumed = await server.call('resume_study', { study: id, workers: 1 });
    expect(resumed.error, resumed.text).toBe(false);
    // `running` again once the resumed run took over (its Ctrl-C handling is in place by then).
    for (let i = 0; i < 600 && (await server.call('study_status', { study: id })).value.status !== 'running'; i++) await sleep(100);
    const { pid } = (await server.call('study_status', { study: id })).value;
    expect(alive(pid)).toBe(true);
    await server.client.close();
    for (let i = 0; i < 300 && alive(pid); i++) await sleep(100);
    expect(alive(pid)).toBe(false);
    const store = Store.open(db, { readonly: true });
    try {
      expect(store.study(id)?.status).toBe('stopped');
    } finally {
      store.close();
    }
  }, 120_000);
});

/** Waits until the study has stored a training episode more than it had. */
async function untilEpisodes(id: string): Promise<void> {
  const before = (await server.call('study_status', { study: id })).value.train_episodes;
  for (let i = 0; i < 600; i++) {
    const status = (await server.call('study_status', { study: id })).value;
    if (status.train_episodes > before) return;
    await sleep(100);
  }
  throw new Error(`study ${id} stored no episode`);
}

/** The server uses (next to) no CPU: nothing it started runs on. */
async function expectIdle(pid: number): Promise<void> {
  await sleep(1000);
  const before = cpuSeconds(pid);
  await sleep(2000);
  expect(cpuSeconds(pid) - before).toBeLessThan(0.1);
}
