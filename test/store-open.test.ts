/**
 * Opening stores that are not where arbor expects them: a results folder shared read-only (the
 * reading commands and the viewer must read it, WAL or not, even after a kill -9), another
 * program's SQLite file (refused before anything is written, left byte for byte), and paths that
 * cannot hold a database (named, with the cause). Real SQLite files, real `arbor` processes; the
 * read-only reader is an unprivileged user when the tests run as root, who ignores permissions. That
 * user runs arbor from a checkout it can read (a hard-linked copy when the clone sits in a private
 * folder such as /root/arbor); its tests are skipped, with the reason, when there is none.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { Store } from '../src/store/store.ts';
import { TraceRecorder } from '../src/trace/trace.ts';
import { asNobody, readerCheckout, type ReaderCheckout } from './reader-checkout.ts';

const ARBOR = resolve('bin/arbor.js');
const AS_ROOT = process.getuid?.() === 0;
/** Where the reader runs arbor from: the checkout itself unless the tests run as root. */
let reader: ReaderCheckout = { dir: process.cwd(), remove: () => {} };

/** The reader's checkout, or the test skipped with the reason there is none. */
function readerDir(ctx: TestContext): string {
  if ('skip' in reader) ctx.skip(reader.skip);
  return reader.dir;
}

/**
 * Runs a command as a user who cannot write what root made read-only (root ignores file modes).
 * Its TMPDIR is a folder it may write: tsx keeps its cache there, and root's TMPDIR may be root's own.
 */
function asReader(command: string, args: string[]): [string, string[]] {
  if (!AS_ROOT) return [command, args];
  return asNobody(join(root, 'reader-tmp'), command, args);
}

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}
/** `arbor args` as root (or the user running the tests), or as the reader from its checkout `readerAt`. */
function runAs(readerAt: string | undefined, args: string[]): Promise<Ran> {
  const cwd = readerAt ?? process.cwd();
  const arbor = readerAt ? join(readerAt, 'bin/arbor.js') : ARBOR;
  const [command, argv] = readerAt ? asReader(process.execPath, [arbor, ...args]) : [process.execPath, [arbor, ...args]];
  return new Promise((done) => {
    execFile(command, argv, { cwd, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function checksum(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'arbor-store-open-'));
  // The unprivileged reader must be able to walk to the shared folder, and write its own temporary files.
  chmodSync(root, 0o755);
  mkdirSync(join(root, 'reader-tmp'), { mode: 0o1777 });
  chmodSync(join(root, 'reader-tmp'), 0o1777);
  if (AS_ROOT) reader = readerCheckout(process.cwd(), join(root, 'reader-tmp'));
}, 60_000);
afterAll(() => {
  if ('remove' in reader) reader.remove();
  chmodTree(root, true);
  rmSync(root, { recursive: true, force: true });
});

/** Makes every file and folder under `dir` writable again, or read-only for everyone. */
function chmodTree(dir: string, writable: boolean): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (writable) chmodSync(path, 0o755);
      chmodTree(path, writable);
      if (!writable) chmodSync(path, 0o555);
    } else {
      chmodSync(path, writable ? 0o644 : 0o444);
    }
  }
}

/** A results folder with one study: a candidate, a decision and two episodes with traces. */
function makeResults(dir: string): string {
  const db = join(dir, 'arbor.db');
  const store = Store.open(db);
  const study = store.createStudy({ scenarioPath: 'scenarios/pick-place.yaml', scenarioName: 'pick-place', researcher: 'random', config: {} });
  const candidate = store.addCandidate(study.id, { generation: 0, kind: 'params', body: { kind: 'params', params: { lift_height: 0.2 } }, rationale: 'baseline', description: 'defaults' });
  for (const seed of [0, 1]) {
    const recorder = new TraceRecorder();
    const joints = recorder.topic('/joint_states', 'sensor_msgs/JointState', ['position.a']);
    for (let i = 0; i < 20; i++) joints.push(i * 0.01, [seed + i]);
    store.recordEpisode({ studyId: study.id, candidateId: candidate.id, split: 'train', seed, status: 'ok', success: true, score: 0.9, outcome: 'success', metrics: {}, terms: {}, trace: recorder.finish({ seed }), wallTime: 0.01 });
  }
  store.decideCandidate(candidate.id, { status: 'keep', scoreMean: 0.9, scoreStd: 0, successRate: 1, nEpisodes: 2, nCrashes: 0 });
  store.updateStudy(study.id, { bestCandidate: candidate.id, status: 'done' });
  store.close();
  return study.id;
}

/** A store whose writer was killed with -9 after `count` commits: its -wal and -shm stay beside it. */
async function killedWriter(db: string, count: number): Promise<void> {
  const child = spawn(process.execPath, [resolve('bin/run-ts.js'), resolve('test/fixtures/store-writer.ts'), db], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  let committed = 0;
  for await (const line of lines) {
    if (line.startsWith('committed') && ++committed >= count) break;
  }
  child.kill('SIGKILL');
  await new Promise((done) => child.on('exit', done));
}

describe('a results folder shared read-only', () => {
  let shared: string;
  let studyId: string;
  let killedDb: string;

  beforeAll(async () => {
    const made = join(root, 'made');
    mkdirSync(made);
    studyId = makeResults(made);
    expect(readdirSync(made).sort()).toEqual(['arbor.db', 'artifacts']); // closed cleanly: no -wal, no -shm
    const killed = join(root, 'made-killed');
    mkdirSync(killed);
    await killedWriter(join(killed, 'arbor.db'), 5);
    expect(readdirSync(killed)).toEqual(expect.arrayContaining(['arbor.db-wal']));

    shared = join(root, 'shared');
    cpSync(made, join(shared, 'results'), { recursive: true });
    cpSync(killed, join(shared, 'killed'), { recursive: true });
    // The copy after a kill keeps its log but not the shared-memory index (it is rebuilt).
    rmSync(join(shared, 'killed', 'arbor.db-shm'), { force: true });
    killedDb = join(shared, 'killed', 'arbor.db');
    chmodTree(shared, false);
    chmodSync(shared, 0o555);
  }, 60_000);

  it('is really read-only for the reader', async () => {
    const [command, args] = asReader('touch', [join(shared, 'results', 'probe')]);
    const code = await new Promise<number | null>((done) => spawn(command, args).on('exit', done));
    expect(code).not.toBe(0);
  });

  it('studies, show, export and best read it', async (ctx) => {
    const at = readerDir(ctx);
    const db = join(shared, 'results', 'arbor.db');
    const [studies, show, tsv, best] = await Promise.all([
      runAs(at, ['studies', '--db', db]),
      runAs(at, ['show', studyId, '--db', db, '--json']),
      runAs(at, ['export', studyId, '--format', 'tsv', '--db', db]),
      runAs(at, ['best', studyId, '--db', db]),
    ]);
    expect(studies.stderr).toBe('');
    expect(studies.stdout).toContain(studyId);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout).candidates[0].status).toBe('keep');
    expect(tsv.code, tsv.stderr).toBe(0);
    expect(tsv.stdout.split('\n')[1]).toMatch(/^1\t0\t0\.9\t1\t2\tkeep\tdefaults/);
    expect(best.code, best.stderr).toBe(0);
    expect(JSON.parse(best.stdout)).toEqual({ kind: 'params', params: { lift_height: 0.2 } });
    expect(readdirSync(join(shared, 'results')).sort()).toEqual(['arbor.db', 'artifacts']);
  });

  it('a copy taken after kill -9 shows every committed episode, in the CLI and the viewer', async (ctx) => {
    const at = readerDir(ctx);
    const studies = await runAs(at, ['studies', '--db', killedDb]);
    expect(studies.code, studies.stderr).toBe(0);
    const id = /^(\S+-\d{8}-\d{6}-[0-9a-f]{4})/m.exec(studies.stdout.split('\n').slice(2).join('\n'))?.[1];
    expect(id).toBeDefined();

    const [command, args] = asReader(process.execPath, [join(at, 'bin/arbor.js'), 'view', '--db', killedDb, '--port', '0']);
    const viewer = spawn(command, args, { cwd: at, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((done, fail) => {
        let out = '';
        viewer.stdout!.on('data', (d) => {
          out += d;
          const m = /http:\/\/\S+/.exec(out);
          if (m) done(m[0]);
        });
        viewer.on('exit', (code) => fail(new Error(`arbor view exited with ${code}`)));
      });
      const res = await fetch(`${url}api/studies/${id}`);
      expect(res.status).toBe(200);
      const view = (await res.json()) as { episodes: unknown[] };
      expect(view.episodes.length).toBeGreaterThanOrEqual(5);
    } finally {
      viewer.kill('SIGTERM');
      await new Promise((done) => viewer.on('exit', done));
    }
    expect(readdirSync(join(shared, 'killed')).sort()).toEqual(['arbor.db', 'arbor.db-wal', 'artifacts']);
  });
});

describe("another program's SQLite file", () => {
  const scenario = resolve('scenarios/pick-place.yaml');

  function foreign(name: string, setup: (db: Database.Database) => void): string {
    const dir = join(root, `foreign-${name}`);
    mkdirSync(dir);
    const file = join(dir, 'other.db');
    const db = new Database(file);
    setup(db);
    db.close();
    expect(readdirSync(dir)).toEqual(['other.db']);
    return file;
  }

  for (const mode of ['DELETE', 'WAL']) {
    it(`run --db refuses it (${mode} journal) and leaves it byte for byte, with no -wal or -shm`, async () => {
      const file = foreign(mode, (db) => {
        db.pragma(`journal_mode = ${mode}`);
        db.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT); INSERT INTO notes (text) VALUES ('keep me')");
      });
      const before = checksum(file);
      const ran = await runAs(undefined, ['run', scenario, '--db', file, '--budget-candidates', '1']);
      expect(ran.code).not.toBe(0);
      expect(ran.stderr).toContain(`${file} is not an arbor store`);
      expect(ran.stderr).toContain('notes');
      expect(checksum(file)).toBe(before);
      expect(readdirSync(join(file, '..'))).toEqual(['other.db']);
    });
  }

  it("a studies table of another shape, even with a schema version, gets arbor's own message", () => {
    const file = foreign('shape', (db) => {
      db.exec('CREATE TABLE studies (name TEXT, started TEXT); CREATE TABLE candidates (x); CREATE TABLE episodes (y)');
      db.pragma('user_version = 1');
    });
    const before = checksum(file);
    for (const readonly of [false, true]) {
      let message = '';
      try {
        Store.open(file, { readonly }).close();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(new RegExp(`^${file} is not an arbor store: its table studies has the columns \\(name, started\\)`));
      expect(message).not.toMatch(/no column named/);
    }
    expect(checksum(file)).toBe(before);
    expect(readdirSync(join(file, '..'))).toEqual(['other.db']);
  });

  it('a file that is not SQLite at all is named and left alone', () => {
    const dir = join(root, 'not-sqlite');
    mkdirSync(dir);
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'x'.repeat(200));
    expect(() => Store.open(file)).toThrow(`${file} is not an SQLite database`);
    expect(readFileSync(file, 'utf8')).toBe('x'.repeat(200));
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });
});

describe('paths that cannot hold a store are named with the cause', () => {
  it('a directory', () => {
    const dir = join(root, 'a-directory');
    mkdirSync(dir);
    expect(() => Store.open(dir)).toThrow(`The store path ${dir} is a directory; give a file path such as ${join(dir, 'arbor.db')}.`);
    expect(() => Store.open(dir, { readonly: true })).toThrow(`The store path ${dir} is a directory`);
  });

  it('a folder that cannot be made', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    const db = join(file, 'arbor.db');
    expect(() => Store.open(db)).toThrow(new RegExp(`^Cannot make the folder ${file} for the store ${db}: `));
  });

  it('a folder the user cannot write (arbor run --db)', async (ctx) => {
    const at = readerDir(ctx);
    const dir = join(root, 'locked');
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    const db = join(dir, 'arbor.db');
    const ran = await runAs(at, ['run', join(at, 'scenarios/pick-place.yaml'), '--db', db]);
    expect(ran.code).not.toBe(0);
    expect(ran.stderr).toContain(`Cannot create the store ${db}: the folder ${dir} is not writable`);
    expect(ran.stderr).not.toMatch(/^unable to open database file$/m);
  });
});
