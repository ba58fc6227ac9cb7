/**
 * The study store: one SQLite database (studies, candidates, episodes) plus one trace artifact file
 * per episode under `<dir of db>/artifacts/<studyId>/`. This is the only code that touches SQLite.
 *
 * It takes ids and returns frozen plain records (camelCase, JSON columns parsed), so researchers
 * and the viewer read snapshots and never hold the database. What can change:
 * - a study, through `updateStudy`;
 * - a candidate, once, through `decideCandidate` (pending → keep | discard | crash); then never;
 * - an episode never: a recorded episode and its trace artifact are final.
 *
 * Durability: WAL with `synchronous = NORMAL`. A commit is in the WAL file (the OS page cache)
 * before it returns, so a killed process (even `kill -9`) loses nothing committed; only an OS crash
 * or power loss can roll back the last few commits, and never corrupts the database. FULL would
 * add an fsync per commit for that case only.
 *
 * One process writes a study; others (the viewer) may open the same file with `{readonly: true}`
 * and see each commit as it lands.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { z } from 'zod';
import type { PolicyKind } from '../policy/kinds.ts';
import { ValidationError, hintFor } from '../scenario/validate.ts';
import { openForReading, openForWriting } from './open.ts';
import { decodeTrace, encodeTrace, type Trace } from '../trace/trace.ts';
import {
  CandidateDecisionSchema,
  CandidateInputSchema,
  EpisodeInputSchema,
  EventInputSchema,
  MIGRATIONS,
  SCHEMA_VERSION,
  StudyInputSchema,
  StudyPatchSchema,
  type CandidateDecision,
  type CandidateInput,
  type CandidateRecord,
  type CandidateStatus,
  type EpisodeInput,
  type EpisodeRecord,
  type EpisodeStatus,
  type EventInput,
  type EventRecord,
  type JsonObject,
  type JsonValue,
  type ResultRow,
  type Split,
  type StudyInput,
  type StudyPatch,
  type StudyRecord,
  type StudyStatus,
} from './schema.ts';

export * from './schema.ts';

/** Where `Store.open` puts the database when given no path. */
export const DEFAULT_STORE_PATH = '.arbor/arbor.db';

/** How to open a store. */
export interface StoreOptions {
  /** Open an existing store for reading only (a viewer next to a running study). */
  readonly?: boolean;
}

/** Which episodes to list; fields combine with AND, none lists every episode. */
export interface EpisodeFilter {
  /** Only this candidate's. */
  candidateId?: number;
  /** Only these candidates' (a study reads a generation's episodes in one query). */
  candidateIds?: readonly number[];
  /** Only this study's. */
  studyId?: string;
  /** Only this split's. */
  split?: Split;
}

export class Store {
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    private readonly db: Database.Database,
    /** Absolute path of the database file. */
    readonly path: string,
    /** True when opened with `{readonly: true}`. */
    readonly readonly: boolean,
    /** Closes the connection (and removes the private copy a read-only place needs). */
    private readonly release: () => void,
  ) {}

  /** Directory holding the database and its `artifacts/`. */
  get dir(): string {
    return dirname(this.path);
  }

  /**
   * Opens (creating if needed) the store at `path`, upgrading its schema. A file that is not empty
   * and not an arbor store is refused before anything is written. With `{readonly: true}` the
   * store must exist and is never written; in a read-only folder a private copy is read.
   */
  static open(path = DEFAULT_STORE_PATH, options: StoreOptions = {}): Store {
    const file = resolve(path);
    const readonly = options.readonly ?? false;
    const opened = readonly ? openForReading(file) : openForWriting(file);
    const db = opened.db;
    try {
      if (!readonly) {
        db.pragma('journal_mode = WAL');
        // NORMAL is durable against process kills in WAL mode; see the top of this file.
        db.pragma('synchronous = NORMAL');
      }
      // Migrations rebuild tables, which needs foreign keys off; they are checked after.
      if (readonly) checkVersion(db, file, false);
      else migrate(db, file);
      db.pragma('foreign_keys = ON');
    } catch (err) {
      opened.close();
      throw err;
    }
    return new Store(db, file, readonly, opened.close);
  }

  /** Closes the database; the store can no longer be used. */
  close(): void {
    this.statements.clear();
    this.release();
  }

  /** SQLite's `integrity_check`: `'ok'`, or its problems one per line. */
  integrityCheck(): string {
    const rows = this.db.pragma('integrity_check') as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('\n');
  }

  // ----- studies -------------------------------------------------------------------------------

  /** Creates a running study; its id is `<scenario>-<yyyymmdd>-<hhmmss>-<4 hex>` (UTC). */
  createStudy(input: StudyInput): StudyRecord {
    this.assertWritable('createStudy');
    const s = parse(StudyInputSchema, input, 'createStudy');
    const now = new Date();
    const at = now.toISOString();
    const insert = this.stmt(
      `INSERT INTO studies (id, scenario_path, scenario_name, researcher, config, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'running', ?, ?) ON CONFLICT (id) DO NOTHING`,
    );
    for (let attempt = 0; attempt < 8; attempt++) {
      const id = studyId(s.scenarioName, now);
      const info = insert.run(id, s.scenarioPath, s.scenarioName, s.researcher, toJson(s.config), at, at);
      if (info.changes === 1) return this.study(id)!;
    }
    throw new Error(`Could not find a free study id for '${s.scenarioName}' after 8 tries; try again.`);
  }

  /** A study, or undefined when there is none with that id. */
  study(id: string): StudyRecord | undefined {
    const row = this.stmt('SELECT * FROM studies WHERE id = ?').get(id) as StudyRow | undefined;
    return row && studyRecord(row);
  }

  /** Every study, newest first. */
  studies(): StudyRecord[] {
    const rows = this.stmt('SELECT * FROM studies ORDER BY created_at DESC, rowid DESC').all() as StudyRow[];
    return rows.map(studyRecord);
  }

  /** Changes a study; returns it as it now is. */
  updateStudy(id: string, patch: StudyPatch): StudyRecord {
    this.assertWritable('updateStudy');
    const p = parse(StudyPatchSchema, patch, 'updateStudy');
    this.requireStudy(id, 'updateStudy');
    if (p.bestCandidate != null) {
      const best = this.candidate(p.bestCandidate);
      if (!best || best.studyId !== id) {
        throw new ValidationError([
          { file: 'updateStudy', path: 'bestCandidate', message: `= ${p.bestCandidate} is not a candidate of study '${id}'`, hint: 'give the id of one of its candidates' },
        ]);
      }
    }
    const sets: string[] = [];
    const values: unknown[] = [];
    const set = (column: string, value: unknown) => {
      sets.push(`${column} = ?`);
      values.push(value);
    };
    if (p.status !== undefined) set('status', p.status);
    if (p.researcherState !== undefined) set('researcher_state', toJsonOrNull(p.researcherState));
    if (p.bestCandidate !== undefined) set('best_candidate', p.bestCandidate);
    if (p.baseline !== undefined) set('baseline', toJsonOrNull(p.baseline));
    if (p.validation !== undefined) set('validation', toJsonOrNull(p.validation));
    if (p.summary !== undefined) set('summary', toJsonOrNull(p.summary));
    if (p.stopReason !== undefined) set('stop_reason', p.stopReason);
    if (p.addCostUsd !== undefined) {
      sets.push('cost_usd = cost_usd + ?');
      values.push(p.addCostUsd);
    }
    set('updated_at', new Date().toISOString());
    this.db.prepare(`UPDATE studies SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
    return this.study(id)!;
  }

  // ----- candidates ----------------------------------------------------------------------------

  /** Adds a pending candidate to a study. */
  addCandidate(studyId: string, input: CandidateInput): CandidateRecord {
    this.assertWritable('addCandidate');
    const c = parse(CandidateInputSchema, input, 'addCandidate');
    this.requireStudy(studyId, 'addCandidate');
    const parentId = c.parentId ?? null;
    if (parentId !== null) {
      const parent = this.candidate(parentId);
      if (!parent || parent.studyId !== studyId) {
        throw new ValidationError([
          { file: 'addCandidate', path: 'parentId', message: `= ${parentId} is not a candidate of study '${studyId}'`, hint: 'give the id of one of its candidates, or leave it out for a root' },
        ]);
      }
    }
    const at = new Date().toISOString();
    const status = c.status ?? 'pending';
    const info = this.stmt(
      `INSERT INTO candidates (study_id, parent_id, generation, kind, body, rationale, description, status, created_at, decided_at, note, cost_usd)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(studyId, parentId, c.generation, c.kind, toJson(c.body), c.rationale, c.description, status, at, status === 'invalid' ? at : null, c.note ?? null, c.costUsd ?? 0);
    return this.candidate(Number(info.lastInsertRowid))!;
  }

  /**
   * Decides a pending candidate and stores the statistics behind the decision. Throws when it is
   * already decided: a decided candidate never changes.
   */
  decideCandidate(id: number, decision: CandidateDecision): CandidateRecord {
    this.assertWritable('decideCandidate');
    const d = parse(CandidateDecisionSchema, decision, 'decideCandidate');
    const info = this.stmt(
      `UPDATE candidates SET status = ?, score_mean = ?, score_std = ?, success_rate = ?, n_episodes = ?, n_crashes = ?, decided_at = ?,
              note = coalesce(?, note), cost_usd = cost_usd + ?
       WHERE id = ? AND status = 'pending'`,
    ).run(d.status, d.scoreMean, d.scoreStd, d.successRate, d.nEpisodes, d.nCrashes, new Date().toISOString(), d.note ?? null, d.addCostUsd ?? 0, id);
    if (info.changes === 0) {
      const existing = this.candidate(id);
      if (!existing) throw new Error(`decideCandidate: there is no candidate ${id}. Use the id addCandidate returned.`);
      throw new Error(`decideCandidate: candidate ${id} is already decided (${existing.status}); a decided candidate never changes. Add a new candidate instead.`);
    }
    return this.candidate(id)!;
  }

  /** A candidate, or undefined. */
  candidate(id: number): CandidateRecord | undefined {
    const row = this.stmt('SELECT * FROM candidates WHERE id = ?').get(id) as CandidateRow | undefined;
    return row && candidateRecord(row);
  }

  /** A study's candidates in id (proposal) order. */
  candidates(studyId: string): CandidateRecord[] {
    const rows = this.stmt('SELECT * FROM candidates WHERE study_id = ? ORDER BY id').all(studyId) as CandidateRow[];
    return rows.map(candidateRecord);
  }

  // ----- episodes ------------------------------------------------------------------------------

  /**
   * Records a finished episode: writes its trace artifact (temp file, fsync, rename) and inserts
   * its row, the rename and the insert under one write transaction. Returns the new record, or
   * undefined when (candidate, split, seed) was already recorded: then nothing is written and the
   * existing episode and its artifact stay as they were (find them with `episodes`). An artifact
   * left without a row by a kill is harmless: recording the episode again rewrites it.
   * `studyCostUsd` (what the episode spent: a prompt policy's model calls) is added to the study's
   * cost in the same transaction as the row, so a study's cost counts each stored episode once,
   * whatever stops the run.
   */
  recordEpisode(input: EpisodeInput, options: { studyCostUsd?: number } = {}): EpisodeRecord | undefined {
    this.assertWritable('recordEpisode');
    const e = parse(EpisodeInputSchema, input, 'recordEpisode');
    const candidate = this.candidate(e.candidateId);
    if (!candidate || candidate.studyId !== e.studyId) {
      throw new ValidationError([
        { file: 'recordEpisode', path: 'candidateId', message: `= ${e.candidateId} is not a candidate of study '${e.studyId}'`, hint: 'record episodes of candidates made with addCandidate on that study' },
      ]);
    }
    const existing = this.stmt('SELECT id FROM episodes WHERE candidate_id = ? AND split = ? AND seed = ?');
    if (existing.get(e.candidateId, e.split, e.seed)) return undefined;

    let tracePath: string | null = null;
    let tmp: string | undefined;
    let target = '';
    if (e.trace) {
      tracePath = join('artifacts', e.studyId, `c${e.candidateId}-${e.split}-s${e.seed}.trace`);
      target = join(this.dir, tracePath);
      mkdirSync(dirname(target), { recursive: true });
      tmp = `${target}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
      writeDurably(tmp, encodeTrace(e.trace));
    }
    const insert = this.stmt(
      `INSERT INTO episodes (study_id, candidate_id, split, seed, status, success, score, outcome, metrics, terms,
                             trace_path, wall_time, crash_reason, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (candidate_id, split, seed) DO NOTHING`,
    );
    try {
      // IMMEDIATE takes the write lock first, so no other writer can record this key between the
      // check and the rename: an existing episode's artifact is never overwritten.
      const id = this.db
        .transaction((): number | undefined => {
          if (existing.get(e.candidateId, e.split, e.seed)) return undefined;
          if (tmp) {
            renameSync(tmp, target);
            tmp = undefined;
          }
          const score = e.score === null || Number.isNaN(e.score) ? null : e.score;
          const info = insert.run(
            e.studyId, e.candidateId, e.split, e.seed, e.status, e.success ? 1 : 0, score, e.outcome,
            toJson(e.metrics), toJson(e.terms), tracePath, e.wallTime, e.crashReason ?? null, new Date().toISOString(),
          );
          if (info.changes !== 1) return undefined;
          if (options.studyCostUsd) this.stmt('UPDATE studies SET cost_usd = cost_usd + ? WHERE id = ?').run(options.studyCostUsd, e.studyId);
          return Number(info.lastInsertRowid);
        })
        .immediate();
      return id === undefined ? undefined : this.episode(id);
    } finally {
      if (tmp) rmSync(tmp, { force: true });
    }
  }

  /** An episode, or undefined. */
  episode(id: number): EpisodeRecord | undefined {
    const row = this.stmt('SELECT * FROM episodes WHERE id = ?').get(id) as EpisodeRow | undefined;
    return row && episodeRecord(row);
  }

  /** Episodes matching the filter, in id (recording) order. */
  episodes(filter: EpisodeFilter = {}): EpisodeRecord[] {
    const where: string[] = [];
    const values: unknown[] = [];
    if (filter.candidateId !== undefined) {
      where.push('candidate_id = ?');
      values.push(filter.candidateId);
    }
    if (filter.candidateIds !== undefined) {
      where.push(`candidate_id IN (${filter.candidateIds.map(() => '?').join(', ') || 'NULL'})`);
      values.push(...filter.candidateIds);
    }
    if (filter.studyId !== undefined) {
      where.push('study_id = ?');
      values.push(filter.studyId);
    }
    if (filter.split !== undefined) {
      where.push('split = ?');
      values.push(filter.split);
    }
    const sql = `SELECT * FROM episodes${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return (this.stmt(sql).all(...values) as EpisodeRow[]).map(episodeRecord);
  }

  /** Absolute path of an episode's trace artifact; undefined when it was recorded without one. */
  tracePath(episode: EpisodeRecord): string | undefined {
    return episode.tracePath === null ? undefined : join(this.dir, episode.tracePath);
  }

  /** Loads an episode's trace; throws naming the path when the artifact is missing. */
  loadEpisodeTrace(episode: EpisodeRecord): Trace {
    const path = this.tracePath(episode);
    if (path === undefined) {
      throw new Error(`Episode ${episode.id} (candidate ${episode.candidateId}, ${episode.split} seed ${episode.seed}) was recorded without a trace.`);
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(`The trace of episode ${episode.id} is missing: ${path}. Artifacts live next to the database; was the artifacts/ directory moved or deleted?`);
      }
      throw err;
    }
    try {
      return decodeTrace(bytes);
    } catch (err) {
      throw new Error(`The trace of episode ${episode.id} at ${path} cannot be read: ${(err as Error).message}`);
    }
  }

  // ----- events --------------------------------------------------------------------------------

  /** Logs an event of a study (immutable once logged). */
  addEvent(studyId: string, input: EventInput): EventRecord {
    this.assertWritable('addEvent');
    const e = parse(EventInputSchema, input, 'addEvent');
    this.requireStudy(studyId, 'addEvent');
    const info = this.stmt('INSERT INTO events (study_id, candidate_id, at, kind, message, data) VALUES (?, ?, ?, ?, ?, ?)').run(
      studyId, e.candidateId ?? null, new Date().toISOString(), e.kind, e.message, e.data === undefined ? null : toJson(e.data),
    );
    return this.events(studyId, Number(info.lastInsertRowid) - 1)[0];
  }

  /** A study's events in logging order, those after event id `after` when given. */
  events(studyId: string, after = 0): EventRecord[] {
    const rows = this.stmt('SELECT * FROM events WHERE study_id = ? AND id > ? ORDER BY id').all(studyId, after) as EventRow[];
    return rows.map(eventRecord);
  }

  /**
   * Runs `fn` as one write transaction: either every write in it lands or none does (a kill in
   * the middle leaves the store as before). `fn` must be synchronous, as every store method is.
   */
  transaction<T>(fn: () => T): T {
    this.assertWritable('transaction');
    return this.db.transaction(fn).immediate();
  }

  // ----- export --------------------------------------------------------------------------------

  /** One results row per candidate of a study, in id order, for `arbor show` and exports. */
  exportRows(studyId: string): ResultRow[] {
    return this.candidates(studyId).map((c) =>
      Object.freeze({
        id: c.id,
        generation: c.generation,
        score: c.scoreMean,
        success_rate: c.successRate,
        n_episodes: c.nEpisodes,
        status: c.status,
        description: c.description,
        parent: c.parentId,
        rationale: c.rationale,
        body: c.body,
        note: c.note,
        cost_usd: c.costUsd,
      }),
    );
  }

  // ----- internals -----------------------------------------------------------------------------

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private assertWritable(method: string): void {
    if (this.readonly) {
      throw new Error(`${method}: the store at ${this.path} is open read-only; open it without {readonly: true} to write.`);
    }
  }

  private requireStudy(id: string, method: string): void {
    if (!this.stmt('SELECT 1 FROM studies WHERE id = ?').get(id)) {
      throw new Error(`${method}: there is no study '${id}' in ${this.path}. Use an id from createStudy or studies().`);
    }
  }
}

// ----- opening ---------------------------------------------------------------------------------

function checkVersion(db: Database.Database, file: string, allowOlder: boolean): number {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`The store ${file} has schema version ${version}, newer than this arbor reads (${SCHEMA_VERSION}). Update arbor.`);
  }
  if (!allowOlder && version < SCHEMA_VERSION) {
    throw new Error(
      version === 0
        ? `${file} is not an arbor store (it has no arbor tables). Pass the path of an arbor.db.`
        : `The store ${file} has schema version ${version}; open it once for writing to upgrade it to ${SCHEMA_VERSION}.`,
    );
  }
  return version;
}

/** Brings the schema up to date; runs under the write lock so two openers cannot both migrate. */
function migrate(db: Database.Database, file: string): void {
  if (checkVersion(db, file, true) === SCHEMA_VERSION) return;
  db.transaction(() => {
    const from = checkVersion(db, file, true);
    if (from === 0 && db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table'").get()) {
      throw new Error(`${file} is not an arbor store (it holds other tables). Pass a new path or the path of an arbor.db.`);
    }
    for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v]);
    const broken = db.pragma('foreign_key_check') as unknown[];
    if (broken.length) throw new Error(`Upgrading ${file} would break ${broken.length} references between its tables; the file is left as it was.`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

// ----- records ---------------------------------------------------------------------------------

interface StudyRow {
  id: string;
  scenario_path: string;
  scenario_name: string;
  researcher: string;
  config: string;
  status: StudyStatus;
  created_at: string;
  updated_at: string;
  researcher_state: string | null;
  best_candidate: number | null;
  baseline: string | null;
  validation: string | null;
  summary: string | null;
  stop_reason: string | null;
  cost_usd: number;
}

interface CandidateRow {
  id: number;
  study_id: string;
  parent_id: number | null;
  generation: number;
  kind: PolicyKind;
  body: string;
  rationale: string;
  description: string;
  status: CandidateStatus;
  score_mean: number | null;
  score_std: number | null;
  success_rate: number | null;
  n_episodes: number | null;
  n_crashes: number | null;
  created_at: string;
  decided_at: string | null;
  note: string | null;
  cost_usd: number;
}

interface EpisodeRow {
  id: number;
  study_id: string;
  candidate_id: number;
  split: Split;
  seed: number;
  status: EpisodeStatus;
  success: number;
  score: number | null;
  outcome: string;
  metrics: string;
  terms: string;
  trace_path: string | null;
  wall_time: number;
  crash_reason: string | null;
  created_at: string;
}

function studyRecord(r: StudyRow): StudyRecord {
  return Object.freeze({
    id: r.id,
    scenarioPath: r.scenario_path,
    scenarioName: r.scenario_name,
    researcher: r.researcher,
    config: fromJson(r.config),
    status: r.status,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    researcherState: fromJsonOrNull(r.researcher_state),
    bestCandidate: r.best_candidate,
    baseline: fromJsonOrNull(r.baseline),
    validation: fromJsonOrNull(r.validation),
    summary: fromJsonOrNull(r.summary),
    stopReason: r.stop_reason,
    costUsd: r.cost_usd,
  });
}

function candidateRecord(r: CandidateRow): CandidateRecord {
  return Object.freeze({
    id: r.id,
    studyId: r.study_id,
    parentId: r.parent_id,
    generation: r.generation,
    kind: r.kind,
    body: fromJson(r.body),
    rationale: r.rationale,
    description: r.description,
    status: r.status,
    scoreMean: r.score_mean,
    scoreStd: r.score_std,
    successRate: r.success_rate,
    nEpisodes: r.n_episodes,
    nCrashes: r.n_crashes,
    createdAt: r.created_at,
    decidedAt: r.decided_at,
    note: r.note,
    costUsd: r.cost_usd,
  });
}

function episodeRecord(r: EpisodeRow): EpisodeRecord {
  return Object.freeze({
    id: r.id,
    studyId: r.study_id,
    candidateId: r.candidate_id,
    split: r.split,
    seed: r.seed,
    status: r.status,
    success: r.success === 1,
    score: r.score,
    outcome: r.outcome,
    metrics: fromJson(r.metrics) as JsonObject,
    terms: fromJson(r.terms) as { readonly [term: string]: number },
    tracePath: r.trace_path,
    wallTime: r.wall_time,
    crashReason: r.crash_reason,
    createdAt: r.created_at,
  });
}

interface EventRow {
  id: number;
  study_id: string;
  candidate_id: number | null;
  at: string;
  kind: string;
  message: string;
  data: string | null;
}

function eventRecord(r: EventRow): EventRecord {
  return Object.freeze({ id: r.id, studyId: r.study_id, candidateId: r.candidate_id, at: r.at, kind: r.kind, message: r.message, data: fromJsonOrNull(r.data) });
}

// ----- helpers ---------------------------------------------------------------------------------

/** Validates an input; throws a `ValidationError` naming each bad field and its fix. */
function parse<S extends z.ZodType>(schema: S, value: unknown, method: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({ file: method, path: issue.path.map(String).join('.'), message: issue.message, hint: hintFor(issue) })),
  );
}

function toJson(value: unknown): string {
  return JSON.stringify(value);
}

function toJsonOrNull(value: unknown): string | null {
  return value === null ? null : JSON.stringify(value);
}

function fromJson(text: string): JsonValue {
  return deepFreeze(JSON.parse(text) as JsonValue);
}

function fromJsonOrNull(text: string | null): JsonValue | null {
  return text === null ? null : fromJson(text);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** `<scenario slug>-<yyyymmdd>-<hhmmss>-<4 hex>`, in UTC. */
function studyId(scenarioName: string, at: Date): string {
  const slug = scenarioName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'study';
  const iso = at.toISOString(); // 2026-11-26T17:12:03.123Z
  const stamp = `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}`;
  return `${slug}-${stamp}-${randomBytes(2).toString('hex')}`;
}

/** Writes a file and fsyncs it, so a committed row never points at a file the OS had not kept. */
function writeDurably(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
