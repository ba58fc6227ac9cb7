/**
 * Real processes for the queue tests: `arbor worker` and `arbor run`/`resume` as a user starts
 * them, a study scenario small enough to run twice, and the episodes of a study database in a
 * form two runs can be compared by (their traces' bytes included).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { Store } from '../src/store/store.ts';

const ARBOR = resolve('bin/arbor.js');

/** A process of the arbor command. */
export interface ArborProcess {
  /** The child process. */
  child: ChildProcess;
  /** What it printed on stderr so far. */
  stderr(): string;
  /** What it printed on stdout so far. */
  stdout(): string;
  /** Its exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/** Starts `arbor ARGS` (of another checkout, when `bin` names its bin/arbor.js). */
export function arbor(args: string[], bin = ARBOR): ArborProcess {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.on('data', (d) => (stdout += d));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, stderr: () => stderr, stdout: () => stdout, exited };
}

/** Starts `arbor worker` with one slot and a short lock, and waits for its first heartbeat. */
export async function startWorker(url: string, name: string, cache: string, lockSeconds = 3): Promise<ArborProcess> {
  const worker = arbor(['worker', url, '--concurrency', '1', '--name', name, '--cache', cache, '--lock-seconds', String(lockSeconds)]);
  const redis = new Redis(url);
  try {
    // Generous: a worker loads MuJoCo before its first heartbeat, which takes half a minute on a loaded machine.
    await until(async () => (await redis.exists(`arbor:worker:${name}`)) === 1, 90_000, () => `worker ${name} never sent a heartbeat: ${worker.stderr()}`);
  } finally {
    redis.disconnect();
  }
  return worker;
}

/** Episodes a worker says it ran when it stops (`stopped after N episodes`). */
export function episodesRun(worker: ArborProcess): number {
  const match = /stopped after (\d+) episodes/.exec(worker.stderr());
  if (!match) throw new Error(`The worker did not say how many episodes it ran: ${worker.stderr()}`);
  return Number(match[1]);
}

/** Stops a worker gently (SIGTERM) and waits for it. */
export async function stopWorker(worker: ArborProcess): Promise<void> {
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGTERM');
  await worker.exited;
}

/** A copy of the pick-place scenario with a small study: CMA-ES in pairs, 4 seeds, 4 validation seeds. */
export function studyScenario(): string {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-queue-'));
  const root = resolve('.');
  const text = readFileSync('scenarios/pick-place.yaml', 'utf8')
    .replace('robot: ../robots/', `robot: ${root}/robots/`)
    .replace('world: ../sim/', `world: ${root}/sim/`)
    .replace(/^budget:[\s\S]*$/m, 'researcher:\n  name: cmaes\n  batch: 2\nbudget:\n  candidates: 40\n  seeds_per_candidate: 4\n  wall_time: 600\n  validation_seeds: { from: 1000, count: 4 }\n');
  const file = join(dir, 'study.yaml');
  writeFileSync(file, text);
  return file;
}

/** One stored episode, keyed by what it is (candidate counted from the baseline, split, seed). */
export interface EpisodeRow {
  /** `candidate/split/seed`, the candidate counted from the study's baseline. */
  key: string;
  /** The score. */
  score: number | null;
  /** Whether it succeeded. */
  success: boolean;
  /** Stored status. */
  status: string;
  /** Metrics and terms as stored (JSON). */
  figures: string;
  /** The trace artifact's bytes (base64), or null. */
  trace: string | null;
}

/** The episodes of the one study in a database, sorted by key. */
export function episodesOf(dbPath: string, studyId?: string): EpisodeRow[] {
  const store = Store.open(dbPath, { readonly: true });
  try {
    const study = studyId ?? store.studies()[0].id;
    const baseline = store.candidates(study)[0].id;
    return store
      .episodes({ studyId: study })
      .map((e) => ({
        key: `${e.candidateId - baseline}/${e.split}/${e.seed}`,
        score: e.score,
        success: e.success,
        status: e.status,
        figures: JSON.stringify([e.metrics, e.terms, e.outcome]),
        trace: e.tracePath ? readFileSync(join(dirname(dbPath), e.tracePath)).toString('base64') : null,
      }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  } finally {
    store.close();
  }
}

/** Training episodes stored so far for the database's study (0 before it exists). */
export function storedEpisodes(dbPath: string): number {
  try {
    const store = Store.open(dbPath, { readonly: true });
    try {
      const study = store.studies()[0];
      return study ? store.episodes({ studyId: study.id }).length : 0;
    } finally {
      store.close();
    }
  } catch {
    return 0;
  }
}

/** Waits until `ready()` holds, polling; throws `why()` after `ms`. */
export async function until(ready: () => boolean | Promise<boolean>, ms: number, why: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((done) => setTimeout(done, 50));
  }
}
