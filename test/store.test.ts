import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../src/scenario/validate.ts';
import { SCHEMA_VERSION, Store, type EpisodeInput } from '../src/store/store.ts';
import { TraceRecorder, type Trace } from '../src/trace/trace.ts';

let dir: string;
let dbPath: string;
const open: Store[] = [];

function openStore(options?: { readonly?: boolean }): Store {
  const store = Store.open(dbPath, options);
  open.push(store);
  return store;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'arbor-store-'));
  dbPath = join(dir, 'nested', 'arbor.db');
});

afterEach(() => {
  for (const s of open.splice(0)) {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function makeTrace(seed: number): Trace {
  const recorder = new TraceRecorder();
  const joints = recorder.topic('/joint_states', 'sensor_msgs/JointState', ['position.a', 'velocity.a']);
  const gripper = recorder.topic('/gripper', 'sensor_msgs/JointState', ['position']);
  for (let i = 0; i < 50; i++) {
    joints.push(i * 0.002, [Math.sin(i + seed), Math.cos(i)]);
    if (i % 5 === 0) gripper.push(i * 0.002, [i / 100]);
  }
  return recorder.finish({ scenario: 'pick-place', seed, backend: 'sim' });
}

function expectSameTrace(a: Trace, b: Trace): void {
  expect(b.meta).toEqual(a.meta);
  expect([...b.topics.keys()]).toEqual([...a.topics.keys()]);
  for (const [name, t] of a.topics) {
    const u = b.topic(name);
    expect(u.type).toBe(t.type);
    expect(u.fields).toEqual(t.fields);
    expect(Array.from(u.stamps)).toEqual(Array.from(t.stamps));
    expect(Array.from(u.data)).toEqual(Array.from(t.data));
  }
}

function setup(store: Store) {
  const study = store.createStudy({ scenarioPath: 'scenarios/pick-place.yaml', scenarioName: 'Pick Place', researcher: 'cmaes', config: { budget: 20, seeds: [1, 2, 3] } });
  const candidate = store.addCandidate(study.id, { generation: 0, kind: 'params', body: { kind: 'params', params: { lift_height: 0.1 } }, rationale: 'the defaults', description: 'baseline' });
  return { study, candidate };
}

function episodeInput(studyId: string, candidateId: number, seed: number, extra: Partial<EpisodeInput> = {}): EpisodeInput {
  return {
    studyId,
    candidateId,
    split: 'train',
    seed,
    status: 'ok',
    success: true,
    score: 0.75,
    outcome: 'success',
    metrics: { success: true, outcome: 'success', place_error: 0.01, drops: 0 },
    terms: { success: 1, place_error: 0.9 },
    wallTime: 1.25,
    ...extra,
  };
}

describe('Store', () => {
  it('creates the directory and a WAL database at the current schema version', () => {
    const store = openStore();
    expect(existsSync(dbPath)).toBe(true);
    expect(store.path).toBe(dbPath);
    expect(store.integrityCheck()).toBe('ok');
    const raw = new Database(dbPath, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    raw.close();
    store.close();
    // Reopening an up-to-date store migrates nothing and keeps its rows.
    expect(openStore().studies()).toEqual([]);
  });

  it('round-trips studies, newest first, and patches them', () => {
    const store = openStore();
    const a = store.createStudy({ scenarioPath: 'scenarios/a.yaml', scenarioName: 'Pick Place', researcher: 'random', config: { budget: 5, nested: { list: [1, 'two', null, true] } } });
    expect(a.id).toMatch(/^pick-place-\d{8}-\d{6}-[0-9a-f]{4}$/);
    expect(a).toMatchObject({ scenarioPath: 'scenarios/a.yaml', scenarioName: 'Pick Place', researcher: 'random', status: 'running', researcherState: null, bestCandidate: null, baseline: null, validation: null, summary: null });
    expect(a.config).toEqual({ budget: 5, nested: { list: [1, 'two', null, true] } });
    const b = store.createStudy({ scenarioPath: 'scenarios/b.yaml', scenarioName: 'b', researcher: 'cmaes', config: {} });
    expect(store.studies().map((s) => s.id)).toEqual([b.id, a.id]);
    expect(store.study(a.id)).toEqual(a);
    expect(store.study('nope')).toBeUndefined();

    const c = store.addCandidate(a.id, { generation: 0, kind: 'params', body: {}, rationale: '', description: 'x' });
    const patched = store.updateStudy(a.id, { status: 'done', researcherState: { mean: [0.1, 0.2], sigma: 0.3 }, bestCandidate: c.id, baseline: { score: 0.5 }, validation: { score: 0.6 }, summary: { best: c.id } });
    expect(patched).toMatchObject({ status: 'done', researcherState: { mean: [0.1, 0.2], sigma: 0.3 }, bestCandidate: c.id, baseline: { score: 0.5 }, validation: { score: 0.6 }, summary: { best: c.id } });
    expect(patched.updatedAt >= a.updatedAt).toBe(true);
    // Absent fields stay; null clears.
    const cleared = store.updateStudy(a.id, { baseline: null, bestCandidate: null });
    expect(cleared).toMatchObject({ status: 'done', baseline: null, bestCandidate: null, validation: { score: 0.6 } });
    // Another study's candidate cannot be the best.
    expect(() => store.updateStudy(b.id, { bestCandidate: c.id })).toThrow(/bestCandidate.*not a candidate of study/);
    expect(() => store.updateStudy('nope', { status: 'done' })).toThrow(/no study 'nope'/);
  });

  it('round-trips candidates, decides each once, and exports results rows', () => {
    const store = openStore();
    const { study, candidate: root } = setup(store);
    expect(root).toMatchObject({ studyId: study.id, parentId: null, generation: 0, kind: 'params', status: 'pending', scoreMean: null, nEpisodes: null, decidedAt: null });
    expect(root.body).toEqual({ kind: 'params', params: { lift_height: 0.1 } });
    const child = store.addCandidate(study.id, { parentId: root.id, generation: 1, kind: 'params', body: { kind: 'params', params: { lift_height: 0.12 } }, rationale: 'lift higher to clear the rim', description: 'lift 0.12' });
    expect(child.parentId).toBe(root.id);
    expect(store.candidates(study.id).map((c) => c.id)).toEqual([root.id, child.id]);
    expect(store.candidate(child.id)).toEqual(child);
    expect(store.candidate(9999)).toBeUndefined();

    const decided = store.decideCandidate(child.id, { status: 'keep', scoreMean: 0.8, scoreStd: 0.05, successRate: 0.9, nEpisodes: 10, nCrashes: 1 });
    expect(decided).toMatchObject({ status: 'keep', scoreMean: 0.8, scoreStd: 0.05, successRate: 0.9, nEpisodes: 10, nCrashes: 1 });
    expect(decided.decidedAt).not.toBeNull();
    expect(() => store.decideCandidate(child.id, { status: 'discard', scoreMean: 0, scoreStd: 0, successRate: 0, nEpisodes: 1, nCrashes: 0 })).toThrow(/already decided \(keep\)/);
    expect(() => store.decideCandidate(4242, { status: 'crash', scoreMean: null, scoreStd: null, successRate: null, nEpisodes: 3, nCrashes: 3 })).toThrow(/no candidate 4242/);

    const other = store.createStudy({ scenarioPath: 's.yaml', scenarioName: 's', researcher: 'r', config: {} });
    expect(() => store.addCandidate(other.id, { parentId: root.id, generation: 1, kind: 'params', body: {}, rationale: '', description: '' })).toThrow(/parentId.*not a candidate of study/);

    expect(store.exportRows(study.id)).toEqual([
      { id: root.id, generation: 0, score: null, success_rate: null, n_episodes: null, status: 'pending', description: 'baseline', parent: null, rationale: 'the defaults', body: { kind: 'params', params: { lift_height: 0.1 } }, note: null, cost_usd: 0 },
      { id: child.id, generation: 1, score: 0.8, success_rate: 0.9, n_episodes: 10, status: 'keep', description: 'lift 0.12', parent: root.id, rationale: 'lift higher to clear the rim', body: { kind: 'params', params: { lift_height: 0.12 } }, note: null, cost_usd: 0 },
    ]);
  });

  it('books what an episode spent to its study with the row, once', () => {
    const store = openStore();
    const { study, candidate } = setup(store);
    expect(store.recordEpisode(episodeInput(study.id, candidate.id, 1), { studyCostUsd: 0.25 })).toBeDefined();
    expect(store.study(study.id)!.costUsd).toBe(0.25);
    // The same key again (a resumed duplicate) is neither stored nor paid for twice.
    expect(store.recordEpisode(episodeInput(study.id, candidate.id, 1), { studyCostUsd: 0.25 })).toBeUndefined();
    expect(store.recordEpisode(episodeInput(study.id, candidate.id, 2), { studyCostUsd: 0.5 })).toBeDefined();
    expect(store.study(study.id)!.costUsd).toBe(0.75);
  });

  it('records episodes with trace artifacts, never twice', () => {
    const store = openStore();
    const { study, candidate } = setup(store);
    const trace = makeTrace(3);
    const ep = store.recordEpisode({ ...episodeInput(study.id, candidate.id, 3), trace })!;
    expect(ep).toMatchObject({ studyId: study.id, candidateId: candidate.id, split: 'train', seed: 3, status: 'ok', success: true, score: 0.75, outcome: 'success', wallTime: 1.25, crashReason: null });
    expect(ep.metrics).toEqual({ success: true, outcome: 'success', place_error: 0.01, drops: 0 });
    expect(ep.terms).toEqual({ success: 1, place_error: 0.9 });
    expect(ep.tracePath).toBe(join('artifacts', study.id, `c${candidate.id}-train-s3.trace`));
    expect(store.tracePath(ep)).toBe(join(dir, 'nested', ep.tracePath!));
    expectSameTrace(trace, store.loadEpisodeTrace(ep));
    expect(store.episode(ep.id)).toEqual(ep);

    // The same key again: nothing written, the first episode and its artifact stay.
    const artifact = readFileSync(store.tracePath(ep)!);
    const again = store.recordEpisode({ ...episodeInput(study.id, candidate.id, 3, { score: 0.1 }), trace: makeTrace(99) });
    expect(again).toBeUndefined();
    expect(store.episodes({ candidateId: candidate.id })).toEqual([ep]);
    expect(readFileSync(store.tracePath(ep)!).equals(artifact)).toBe(true);
    // No temp files are left behind.
    expect(readdirSync(join(dir, 'nested', 'artifacts', study.id))).toEqual([`c${candidate.id}-train-s3.trace`]);

    // Another split with the same seed is another episode; a crash may have no score (NaN → null).
    const crash = store.recordEpisode(episodeInput(study.id, candidate.id, 3, { split: 'validation', status: 'crash', success: false, score: NaN, outcome: 'crash', metrics: {}, terms: {}, crashReason: 'policy threw: boom' }))!;
    expect(crash).toMatchObject({ split: 'validation', status: 'crash', score: null, tracePath: null, crashReason: 'policy threw: boom' });
    expect(() => store.loadEpisodeTrace(crash)).toThrow(/recorded without a trace/);
    const base = store.recordEpisode(episodeInput(study.id, candidate.id, 1, { split: 'baseline' }))!;

    expect(store.episodes({ studyId: study.id }).map((e) => e.id)).toEqual([ep.id, crash.id, base.id]);
    expect(store.episodes({ studyId: study.id, split: 'validation' })).toEqual([crash]);
    expect(store.episodes({ candidateId: candidate.id, split: 'baseline' })).toEqual([base]);
    expect(store.episodes({ studyId: 'other' })).toEqual([]);

    // A missing artifact is named in the error.
    rmSync(store.tracePath(ep)!);
    expect(() => store.loadEpisodeTrace(ep)).toThrow(`The trace of episode ${ep.id} is missing: ${store.tracePath(ep)}`);
  });

  it('returns frozen records, JSON fields included', () => {
    const store = openStore();
    const { study, candidate } = setup(store);
    const ep = store.recordEpisode(episodeInput(study.id, candidate.id, 0))!;
    const row = store.exportRows(study.id)[0];
    for (const value of [study, study.config, candidate, candidate.body, ep, ep.metrics, ep.terms, row]) {
      expect(Object.isFrozen(value)).toBe(true);
    }
    expect(() => {
      (study as { status: string }).status = 'done';
    }).toThrow(TypeError);
    expect(() => {
      ((candidate.body as { params: Record<string, number> }).params).lift_height = 9;
    }).toThrow(TypeError);
    expect(store.candidate(candidate.id)!.body).toEqual({ kind: 'params', params: { lift_height: 0.1 } });
  });

  it('rejects bad inputs with errors that name the field and the fix, writing nothing', () => {
    const store = openStore();
    const { study, candidate } = setup(store);
    const attempt = (extra: Partial<EpisodeInput> & Record<string, unknown>) => {
      try {
        store.recordEpisode({ ...episodeInput(study.id, candidate.id, 5), ...extra } as EpisodeInput);
      } catch (err) {
        expect(err).toBeInstanceOf(ValidationError);
        return (err as Error).message;
      }
      throw new Error('expected a ValidationError');
    };
    expect(attempt({ split: 'test' as never })).toMatch(/recordEpisode: split: .*\(use one of: train, validation, baseline, train_nominal, validation_tier\)/);
    expect(attempt({ score: NaN })).toMatch(/score: is NaN but an ok episode needs a finite score/);
    expect(attempt({ score: Infinity })).toMatch(/score: must be a finite number/);
    expect(attempt({ seed: 1.5 })).toMatch(/seed: must be an integer \(give an integer\)/);
    expect(attempt({ metrics: { place_error: NaN } })).toMatch(/metrics\.place_error: is NaN; only finite numbers can be stored/);
    expect(attempt({ metrics: { image: new Float32Array(2) } })).toMatch(/metrics\.image: is a Float32Array/);
    expect(attempt({ terms: { success: Infinity } })).toMatch(/terms\.success/);
    expect(attempt({ status: 'crash', success: false, score: null })).toMatch(/crashReason: is required for a crash/);
    expect(attempt({ sede: 5 })).toMatch(/Unrecognized key.*sede.*remove it or check its spelling/);
    expect(attempt({ studyId: 'another-study' })).toMatch(/candidateId: = \d+ is not a candidate of study 'another-study'/);
    expect(store.episodes({ studyId: study.id })).toEqual([]);

    expect(() => store.updateStudy(study.id, { status: 'finished' as never })).toThrow(/status: .*use one of: running, done, stopped, failed/);
    expect(() => store.decideCandidate(candidate.id, { status: 'keep', scoreMean: 0.5, scoreStd: 0.1, successRate: 1.5, nEpisodes: 4, nCrashes: 0 })).toThrow(/successRate: must be in \[0, 1\]/);
    expect(() => store.decideCandidate(candidate.id, { status: 'keep', scoreMean: 0.5, scoreStd: 0.1, successRate: 1, nEpisodes: 4, nCrashes: 5 })).toThrow(/nCrashes: must not exceed nEpisodes/);
    expect(() => store.addCandidate(study.id, { generation: -1, kind: 'neural' as never, body: { f: () => 1 }, rationale: '', description: '' })).toThrow(
      /generation: must be >= 0[\s\S]*kind: [\s\S]*body\.f: is a function/,
    );
    expect(() => store.createStudy({ scenarioPath: 'x.yaml', scenarioName: '', researcher: 'r', config: { budget: -Infinity } })).toThrow(
      /scenarioName: must not be empty[\s\S]*config\.budget: is -Infinity/,
    );
    expect(store.candidate(candidate.id)!.status).toBe('pending');
  });

  it('lets a read-only store see what another connection writes', () => {
    expect(() => Store.open(join(dir, 'missing.db'), { readonly: true })).toThrow(/No arbor store at .*missing\.db/);
    const writer = openStore();
    const { study, candidate } = setup(writer);
    const reader = openStore({ readonly: true });
    expect(reader.readonly).toBe(true);
    expect(reader.episodes({ studyId: study.id })).toEqual([]);
    const ep = writer.recordEpisode({ ...episodeInput(study.id, candidate.id, 7), trace: makeTrace(7) })!;
    writer.updateStudy(study.id, { status: 'done' });
    expect(reader.episodes({ studyId: study.id })).toEqual([ep]);
    expect(reader.study(study.id)!.status).toBe('done');
    expectSameTrace(makeTrace(7), reader.loadEpisodeTrace(reader.episode(ep.id)!));
    expect(() => reader.createStudy({ scenarioPath: 'a', scenarioName: 'a', researcher: 'a', config: {} })).toThrow(/open read-only/);
    expect(() => reader.recordEpisode(episodeInput(study.id, candidate.id, 8))).toThrow(/open read-only/);

    // Also after the writer has closed (its -wal and -shm files are gone).
    reader.close();
    writer.close();
    const later = openStore({ readonly: true });
    expect(later.episodes({ studyId: study.id })).toEqual([ep]);

    // A file that is not an arbor store is refused by name.
    const other = join(dir, 'other.db');
    const foreign = new Database(other);
    foreign.exec('CREATE TABLE notes (text TEXT)');
    foreign.close();
    expect(() => Store.open(other, { readonly: true })).toThrow(/not an arbor store/);
    expect(() => Store.open(other)).toThrow(/not an arbor store: it holds other tables \(notes\)/);
  });

  it('keeps every committed episode exactly once through kill -9 and a rerun', async () => {
    const fixture = join(import.meta.dirname, 'fixtures', 'store-writer.ts');
    const KILL_AFTER = 40;

    // Run the writer until it reports KILL_AFTER commits, then SIGKILL it mid-loop.
    const reported = new Set<number>();
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dbPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | number | null>((done) => child.on('exit', (code, signal) => done(signal ?? code)));
    for await (const line of createInterface({ input: child.stdout })) {
      const m = /^committed (\d+) (\d+)$/.exec(line);
      if (!m) throw new Error(`Unexpected writer output: ${line}\n${stderr}`);
      reported.add(Number(m[1]));
      if (reported.size === KILL_AFTER) child.kill('SIGKILL');
    }
    expect(await exited, stderr).toBe('SIGKILL');
    expect(reported.size).toBeGreaterThanOrEqual(KILL_AFTER);

    // Every reported commit is there, exactly once, and the database is sound.
    let store = openStore();
    expect(store.integrityCheck()).toBe('ok');
    const seeds = store.episodes().map((e) => e.seed);
    expect(new Set(seeds).size).toBe(seeds.length);
    for (const seed of reported) expect(seeds).toContain(seed);
    const before = store.episodes();
    for (const e of before.slice(-3)) expect(store.loadEpisodeTrace(e).meta.seed).toBe(e.seed);
    store.close();

    // Rerun over the same keys and beyond: committed seeds come back as duplicates, nothing doubles.
    const total = Math.max(...seeds) + 10;
    const rerun = spawn(process.execPath, ['--import', 'tsx', fixture, dbPath, String(total)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    rerun.stdout.on('data', (d) => (out += d));
    rerun.stderr.on('data', (d) => (err += d));
    expect(await new Promise((done) => rerun.on('exit', done)), err).toBe(0);
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(total);
    for (const seed of seeds) expect(lines[seed]).toBe(`committed ${seed} dup`);

    store = openStore();
    expect(store.integrityCheck()).toBe('ok');
    const after = store.episodes();
    expect(after.map((e) => e.seed).sort((a, b) => a - b)).toEqual([...Array(total).keys()]);
    expect(after.slice(0, before.length)).toEqual(before);
    // Artifacts: one per episode (leftover temp files from the kill, if any, are inert).
    const artifacts = readdirSync(join(dir, 'nested', 'artifacts', after[0].studyId)).filter((f) => f.endsWith('.trace'));
    expect(artifacts).toHaveLength(total);
    for (const e of after) expect(statSync(store.tracePath(e)!).size).toBeGreaterThan(0);
  });
});
