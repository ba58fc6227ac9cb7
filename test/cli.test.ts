import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Store } from '../src/store/store.ts';
import { smallScenario } from './study-helpers.ts';

const run = promisify(execFile);
const ARBOR = ['bin/arbor.js'];

function arbor(args: string[]) {
  return run(process.execPath, [...ARBOR, ...args], { maxBuffer: 1 << 24 });
}

/** Starts `arbor run` in the background; resolves once `ready(episodes)` holds, with the study id. */
function startStudy(db: string, scenario: string, ready: (episodes: number) => boolean) {
  const child = spawn(process.execPath, [...ARBOR, 'run', scenario, '--db', db, '--workers', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const started = new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const id = /study (\S+):/.exec(stderr)?.[1];
      if (!id) return;
      try {
        const store = Store.open(db, { readonly: true });
        const n = store.episodes({ studyId: id }).length;
        store.close();
        if (ready(n)) {
          clearInterval(timer);
          resolve(id);
        }
      } catch {
        // the database may not exist yet
      }
    }, 100);
    child.on('exit', () => {
      clearInterval(timer);
      reject(new Error(`arbor run exited early: ${stderr}`));
    });
  });
  return { child, started, exited, stderr: () => stderr };
}

describe('arbor CLI', () => {
  it('episode --json prints {success, score, metrics} alone on stdout', async () => {
    const { stdout } = await arbor(['episode', 'scenarios/pick-place.yaml', '--seed', '1001', '--policy', 'scenarios/pick-place.tuned.json', '--json']);
    const out = JSON.parse(stdout);
    expect(out.success).toBe(true);
    expect(out.score).toBeGreaterThan(0.8);
    expect(out.metrics.outcome).toBe('success');
  });

  it('eval --json prints the success rate, mean score and spread over the seeds', async () => {
    const { stdout } = await arbor(['eval', 'scenarios/pick-place.yaml', '--seeds', '1000..1003', '--policy', 'scenarios/pick-place.tuned.json', '--json', '--workers', '2']);
    const out = JSON.parse(stdout);
    expect(out.episodes.map((e: { seed: number }) => e.seed)).toEqual([1000, 1001, 1002, 1003]);
    expect(out.success_rate).toBe(1);
    // 4 of 4 is not a certainty: the Wilson 95% interval says how little four seeds prove.
    expect(out.n).toBe(4);
    expect(out.success_interval.low).toBeCloseTo(0.5101, 4);
    expect(out.success_interval.high).toBe(1);
    expect(out.score_mean).toBeGreaterThan(0.8);
    expect(out.score_std).toBeGreaterThanOrEqual(0);
  });

  it('eval and episode run a code policy module directly, and say what happened', async () => {
    const { stdout } = await arbor(['eval', 'scenarios/pick-place.yaml', '--seeds', '1000..1001', '--policy', 'scenarios/pick-place.tuned.ts', '--json', '--workers', '2']);
    expect(JSON.parse(stdout).success_rate).toBe(1);
    const episode = JSON.parse((await arbor(['episode', 'scenarios/pick-place.yaml', '--seed', '3', '--json'])).stdout);
    expect(episode.summary.join('\n')).toMatch(/grasp began at [\d.]+ s with the tool point [\d.]+ cm from the cube centre/);
    const broken = await arbor(['eval', 'scenarios/pick-place.yaml', '--seeds', '0..1', '--policy', 'test/fixtures/broken-policy.js']).catch((e) => e);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/broken-policy\.js: source: does not compile at line 3, column \d+/);
  });

  it('check names the file, line and field of a bad scenario and exits 1', async () => {
    const error = await arbor(['check', 'test/fixtures/bad-scenario.yaml']).catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toMatch(/bad-scenario\.yaml:\d+: episode\.control_rate:/);
    // The shipped scenario passes the scorer's preflight too: an arm held at home never succeeds.
    const ok = await arbor(['check', 'scenarios/pick-place.yaml', '--workers', '2']);
    expect(ok.stdout).toMatch(/ok/);
    expect(ok.stdout).toMatch(/preflight: ok \(an arm held at home fails on seeds 0\.\.15 and none is a success at reset; [\d.]+ s\)/);
  }, 180_000);

  // Whole studies in child processes: about 15 s on an idle 2-core machine, several times that under load.
  it('a study killed with SIGKILL resumes with every finished episode there exactly once', { timeout: 180_000 }, async () => {
    const { dir, file } = smallScenario();
    const db = join(dir, 'kill.db');
    const study = startStudy(db, file, (n) => n >= 24);
    const id = await study.started;
    study.child.kill('SIGKILL');
    expect(await study.exited).toBe(null);

    const store = Store.open(db, { readonly: true });
    const before = store.episodes({ studyId: id });
    store.close();
    expect(before.length).toBeGreaterThanOrEqual(24);

    const { stdout } = await arbor(['resume', id, '--db', db, '--json', '--workers', '2']);
    const out = JSON.parse(stdout);
    expect(out.status).toBe('done');
    expect(out.validation.success_rate).toBeGreaterThanOrEqual(0);

    const after = Store.open(db, { readonly: true });
    const episodes = after.episodes({ studyId: id });
    for (const e of before) {
      const same = episodes.filter((a) => a.candidateId === e.candidateId && a.split === e.split && a.seed === e.seed);
      expect(same).toHaveLength(1);
      expect(same[0].id).toBe(e.id);
      expect(same[0].score).toBe(e.score);
    }
    expect(new Set(episodes.map((e) => `${e.candidateId}/${e.split}/${e.seed}`)).size).toBe(episodes.length);
    expect(after.integrityCheck()).toBe('ok');
    after.close();
  });

  it('Ctrl-C finishes the episodes in flight, stores them and prints the resume command', { timeout: 180_000 }, async () => {
    const { dir, file } = smallScenario();
    const db = join(dir, 'int.db');
    const study = startStudy(db, file, (n) => n >= 8);
    const id = await study.started;
    study.child.kill('SIGINT');
    expect(await study.exited).toBe(130);
    expect(study.stderr()).toContain(`arbor resume ${id} --db ${db}`);
    const store = Store.open(db, { readonly: true });
    expect(store.study(id)?.status).toBe('stopped');
    store.close();
  });
});
