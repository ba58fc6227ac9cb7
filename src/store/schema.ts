/**
 * The study database's shape: the SQL of each schema version, the records the store returns, and
 * the zod schemas that check what callers hand the store before anything is written.
 */
import { z } from 'zod';
import { POLICY_KINDS, type PolicyKind } from '../policy/kinds.ts';
import { Trace } from '../trace/trace.ts';

// ---------------------------------------------------------------------------------------------
// SQL. `MIGRATIONS[i]` takes a database from `user_version` i to i + 1; add, never edit.

const V1 = `
CREATE TABLE studies (
  id               TEXT PRIMARY KEY,
  scenario_path    TEXT NOT NULL,
  scenario_name    TEXT NOT NULL,
  researcher       TEXT NOT NULL,
  config           TEXT NOT NULL CHECK (json_valid(config)),
  status           TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'stopped', 'failed')),
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL,
  researcher_state TEXT CHECK (researcher_state IS NULL OR json_valid(researcher_state)),
  best_candidate   INTEGER REFERENCES candidates(id),
  baseline         TEXT CHECK (baseline IS NULL OR json_valid(baseline)),
  validation       TEXT CHECK (validation IS NULL OR json_valid(validation)),
  summary          TEXT CHECK (summary IS NULL OR json_valid(summary))
) STRICT;

CREATE TABLE candidates (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  study_id     TEXT NOT NULL REFERENCES studies(id),
  parent_id    INTEGER REFERENCES candidates(id),
  generation   INTEGER NOT NULL CHECK (generation >= 0),
  kind         TEXT NOT NULL,
  body         TEXT NOT NULL CHECK (json_valid(body)),
  rationale    TEXT NOT NULL,
  description  TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'keep', 'discard', 'crash')),
  score_mean   REAL,
  score_std    REAL,
  success_rate REAL,
  n_episodes   INTEGER,
  n_crashes    INTEGER,
  created_at   TEXT NOT NULL,
  decided_at   TEXT
) STRICT;
CREATE INDEX candidates_by_study ON candidates(study_id, id);

CREATE TABLE episodes (
  id           INTEGER PRIMARY KEY,
  study_id     TEXT NOT NULL REFERENCES studies(id),
  candidate_id INTEGER NOT NULL REFERENCES candidates(id),
  split        TEXT NOT NULL CHECK (split IN ('train', 'validation', 'baseline')),
  seed         INTEGER NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('ok', 'crash')),
  success      INTEGER NOT NULL CHECK (success IN (0, 1)),
  score        REAL,
  outcome      TEXT NOT NULL,
  metrics      TEXT NOT NULL CHECK (json_valid(metrics)),
  breakdown    TEXT NOT NULL CHECK (json_valid(breakdown)),
  trace_path   TEXT,
  wall_time    REAL NOT NULL,
  crash_reason TEXT,
  created_at   TEXT NOT NULL,
  UNIQUE (candidate_id, split, seed)
) STRICT;
CREATE INDEX episodes_by_study ON episodes(study_id, id);
`;

/*
 * V2: candidates may be `invalid` (a proposal that failed validation, recorded with its reason and
 * never evaluated) and carry what they cost; studies say why they stopped and what they spent;
 * an events log per study (safety, operator decisions, stops); score terms are called terms.
 * SQLite cannot change a CHECK constraint in place, so the candidates table is rebuilt (foreign
 * keys are off while migrations run: see `migrate`).
 */
const V2 = `
CREATE TABLE candidates_v2 (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  study_id     TEXT NOT NULL REFERENCES studies(id),
  parent_id    INTEGER REFERENCES candidates(id),
  generation   INTEGER NOT NULL CHECK (generation >= 0),
  kind         TEXT NOT NULL,
  body         TEXT NOT NULL CHECK (json_valid(body)),
  rationale    TEXT NOT NULL,
  description  TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'keep', 'discard', 'crash', 'invalid')),
  score_mean   REAL,
  score_std    REAL,
  success_rate REAL,
  n_episodes   INTEGER,
  n_crashes    INTEGER,
  created_at   TEXT NOT NULL,
  decided_at   TEXT,
  note         TEXT,
  cost_usd     REAL NOT NULL DEFAULT 0 CHECK (cost_usd >= 0)
) STRICT;
INSERT INTO candidates_v2 (id, study_id, parent_id, generation, kind, body, rationale, description, status, score_mean, score_std,
                           success_rate, n_episodes, n_crashes, created_at, decided_at)
  SELECT id, study_id, parent_id, generation, kind, body, rationale, description, status, score_mean, score_std,
         success_rate, n_episodes, n_crashes, created_at, decided_at FROM candidates;
DROP TABLE candidates;
ALTER TABLE candidates_v2 RENAME TO candidates;
CREATE INDEX candidates_by_study ON candidates(study_id, id);

ALTER TABLE studies ADD COLUMN stop_reason TEXT;
ALTER TABLE studies ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0 CHECK (cost_usd >= 0);
ALTER TABLE episodes RENAME COLUMN breakdown TO terms;

CREATE TABLE events (
  id           INTEGER PRIMARY KEY,
  study_id     TEXT NOT NULL REFERENCES studies(id),
  candidate_id INTEGER REFERENCES candidates(id),
  at           TEXT NOT NULL,
  kind         TEXT NOT NULL,
  message      TEXT NOT NULL,
  data         TEXT CHECK (data IS NULL OR json_valid(data))
) STRICT;
CREATE INDEX events_by_study ON events(study_id, id);
`;

/*
 * V3: two splits of a robust study: `train_nominal` (a contender and the best on a generation's
 * seeds in the nominal world, for the keep rule `no_tier_regresses`) and `validation_tier` (the
 * best on the validation seeds at the study's robust tier). The episodes table is rebuilt for its
 * CHECK, as V2 rebuilt the candidates table.
 */
const V3 = `
CREATE TABLE episodes_v3 (
  id           INTEGER PRIMARY KEY,
  study_id     TEXT NOT NULL REFERENCES studies(id),
  candidate_id INTEGER NOT NULL REFERENCES candidates(id),
  split        TEXT NOT NULL CHECK (split IN ('train', 'validation', 'baseline', 'train_nominal', 'validation_tier')),
  seed         INTEGER NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('ok', 'crash')),
  success      INTEGER NOT NULL CHECK (success IN (0, 1)),
  score        REAL,
  outcome      TEXT NOT NULL,
  metrics      TEXT NOT NULL CHECK (json_valid(metrics)),
  terms        TEXT NOT NULL CHECK (json_valid(terms)),
  trace_path   TEXT,
  wall_time    REAL NOT NULL,
  crash_reason TEXT,
  created_at   TEXT NOT NULL,
  UNIQUE (candidate_id, split, seed)
) STRICT;
INSERT INTO episodes_v3 (id, study_id, candidate_id, split, seed, status, success, score, outcome, metrics, terms, trace_path,
                         wall_time, crash_reason, created_at)
  SELECT id, study_id, candidate_id, split, seed, status, success, score, outcome, metrics, terms, trace_path,
         wall_time, crash_reason, created_at FROM episodes;
DROP TABLE episodes;
ALTER TABLE episodes_v3 RENAME TO episodes;
CREATE INDEX episodes_by_study ON episodes(study_id, id);
`;

/** Schema migrations: entry i upgrades `PRAGMA user_version` i to i + 1. */
export const MIGRATIONS: readonly string[] = [V1, V2, V3];
/** The schema version this code reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

// ---------------------------------------------------------------------------------------------
// Records: what the store returns. All are frozen (JSON fields deeply); timestamps are ISO 8601 UTC.

/** A JSON value as read back from the store. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
/** A JSON object as read back from the store. */
export type JsonObject = { readonly [key: string]: JsonValue };

export const STUDY_STATUSES = ['running', 'done', 'stopped', 'failed'] as const;
export type StudyStatus = (typeof STUDY_STATUSES)[number];
export const CANDIDATE_STATUSES = ['pending', 'keep', 'discard', 'crash', 'invalid'] as const;
export type CandidateStatus = (typeof CANDIDATE_STATUSES)[number];
/**
 * Seed sets: training, the best and the baseline on the validation seeds, and a robust study's
 * nominal checks of contenders (`train_nominal`) and its best at the robust tier (`validation_tier`).
 */
export const SPLITS = ['train', 'validation', 'baseline', 'train_nominal', 'validation_tier'] as const;
export type Split = (typeof SPLITS)[number];
export const EPISODE_STATUSES = ['ok', 'crash'] as const;
export type EpisodeStatus = (typeof EPISODE_STATUSES)[number];

/** One study. Mutable through `updateStudy` (status, researcher state, best, results). */
export interface StudyRecord {
  /** Id, e.g. `pick-place-20261126-171203-3fa2`. */
  readonly id: string;
  /** Path of the scenario file the study runs. */
  readonly scenarioPath: string;
  /** Scenario name. */
  readonly scenarioName: string;
  /** Researcher name, e.g. `cmaes`. */
  readonly researcher: string;
  /** The study's configuration (budget, seeds, ...), as given. */
  readonly config: JsonValue;
  /** `running` until it ends as `done`, `stopped` (by a person or a kill) or `failed`. */
  readonly status: StudyStatus;
  /** When it was created. */
  readonly createdAt: string;
  /** When it last changed. */
  readonly updatedAt: string;
  /** The researcher's saved state, for resuming; null before the first save. */
  readonly researcherState: JsonValue | null;
  /** Id of the best candidate so far; null before one is kept. */
  readonly bestCandidate: number | null;
  /** Baseline results; null before the baseline ran. */
  readonly baseline: JsonValue | null;
  /** Validation results of the best candidate; null before validation ran. */
  readonly validation: JsonValue | null;
  /** Final summary; null while running. */
  readonly summary: JsonValue | null;
  /** Why the search ended (`patience`, `budget-episodes`, ...); null while it goes on or when interrupted. */
  readonly stopReason: string | null;
  /** Dollars spent by the researcher and the policies (LLM calls), over all runs. */
  readonly costUsd: number;
}

/** One candidate. Immutable once decided (status other than `pending`). */
export interface CandidateRecord {
  /** Id, increasing across the whole store. */
  readonly id: number;
  /** The study it belongs to. */
  readonly studyId: string;
  /** The candidate it was derived from; null for a root. */
  readonly parentId: number | null;
  /** Researcher generation (0 for the baseline / first proposals). */
  readonly generation: number;
  /** Policy kind. */
  readonly kind: PolicyKind;
  /** The policy body (validated per kind by the policy module, stored as given). */
  readonly body: JsonValue;
  /** Why the researcher proposed it. */
  readonly rationale: string;
  /** One line a person can scan. */
  readonly description: string;
  /** `pending` until decided. */
  readonly status: CandidateStatus;
  /** Mean episode score; null until decided, or when no episode gave a score. */
  readonly scoreMean: number | null;
  /** Standard deviation of the episode scores; null as for `scoreMean`. */
  readonly scoreStd: number | null;
  /** Fraction of successful episodes; null as for `scoreMean`. */
  readonly successRate: number | null;
  /** Episodes behind the decision; null until decided. */
  readonly nEpisodes: number | null;
  /** Crashed episodes among them; null until decided. */
  readonly nCrashes: number | null;
  /** When it was proposed. */
  readonly createdAt: string;
  /** When it was decided; null while pending. */
  readonly decidedAt: string | null;
  /** Why it is invalid or crashed, or other feedback for the researcher; null when there is none. */
  readonly note: string | null;
  /** Dollars its proposal and its episodes cost (LLM calls). */
  readonly costUsd: number;
}

/** One finished episode. Immutable: a recorded episode (and its trace artifact) never changes. */
export interface EpisodeRecord {
  /** Id. */
  readonly id: number;
  /** The study it belongs to. */
  readonly studyId: string;
  /** The candidate it evaluated. */
  readonly candidateId: number;
  /** Which seed set it belongs to. */
  readonly split: Split;
  /** Episode seed. */
  readonly seed: number;
  /** `ok`, or `crash` when the policy or the sim failed. */
  readonly status: EpisodeStatus;
  /** The task was done. */
  readonly success: boolean;
  /** Score in [0, 1]; null for a crash that gave none. */
  readonly score: number | null;
  /** How it ended, e.g. `success`, `drop`, `crash`. */
  readonly outcome: string;
  /** Measurements, by name. */
  readonly metrics: JsonObject;
  /** Score terms before weighting, by name. */
  readonly terms: { readonly [term: string]: number };
  /** Trace artifact path relative to the database's directory; null when recorded without one. */
  readonly tracePath: string | null;
  /** Wall-clock seconds the episode took. */
  readonly wallTime: number;
  /** Why it crashed; null for `ok`. */
  readonly crashReason: string | null;
  /** When it was recorded. */
  readonly createdAt: string;
}

/** One row of a study's results table (`arbor show`, export): one per candidate, in id order. */
export interface ResultRow {
  /** Candidate id. */
  readonly id: number;
  /** Researcher generation. */
  readonly generation: number;
  /** Mean score; null while pending. */
  readonly score: number | null;
  /** Success rate; null while pending. */
  readonly success_rate: number | null;
  /** Episodes behind the score; null while pending. */
  readonly n_episodes: number | null;
  /** `pending`, `keep`, `discard`, `crash` or `invalid`. */
  readonly status: CandidateStatus;
  /** One line a person can scan. */
  readonly description: string;
  /** Parent candidate id; null for a root. */
  readonly parent: number | null;
  /** Why it was proposed. */
  readonly rationale: string;
  /** The policy body. */
  readonly body: JsonValue;
  /** Why it is invalid or crashed; null when there is nothing to say. */
  readonly note: string | null;
  /** Dollars it cost. */
  readonly cost_usd: number;
}

// ---------------------------------------------------------------------------------------------
// Inputs: what callers hand the store. Checked by the zod schemas below before any write.

/** A new study. */
export interface StudyInput {
  /** Path of the scenario file. */
  scenarioPath: string;
  /** Scenario name; it starts the study id. */
  scenarioName: string;
  /** Researcher name. */
  researcher: string;
  /** Study configuration; any JSON value (finite numbers only). */
  config: unknown;
}

/** Changes to a study; absent fields stay, `null` clears a nullable field. */
export interface StudyPatch {
  /** New status. */
  status?: StudyStatus;
  /** Researcher state to save (JSON). */
  researcherState?: unknown;
  /** Best candidate id (must belong to the study). */
  bestCandidate?: number | null;
  /** Baseline results (JSON). */
  baseline?: unknown;
  /** Validation results (JSON). */
  validation?: unknown;
  /** Final summary (JSON). */
  summary?: unknown;
  /** Why the search ended; `null` clears it (a resumed study goes on). */
  stopReason?: string | null;
  /** Dollars to add to the study's spend (>= 0). */
  addCostUsd?: number;
}

/** A new candidate. */
export interface CandidateInput {
  /** The candidate it derives from (same study); absent for a root. */
  parentId?: number | null;
  /** Researcher generation, >= 0. */
  generation: number;
  /** Policy kind. */
  kind: PolicyKind;
  /** Policy body (JSON). */
  body: unknown;
  /** Why it was proposed. */
  rationale: string;
  /** One line a person can scan. */
  description: string;
  /** `pending` (default) to be evaluated, or `invalid`: recorded with its reason in `note`, never evaluated. */
  status?: 'pending' | 'invalid';
  /** Why it is invalid (required for `invalid`). */
  note?: string;
  /** Dollars its proposal cost (default 0). */
  costUsd?: number;
}

/** The verdict on a candidate. */
export interface CandidateDecision {
  /** `keep`, `discard` or `crash`. */
  status: Exclude<CandidateStatus, 'pending' | 'invalid'>;
  /** Mean score, or null when no episode gave one. */
  scoreMean: number | null;
  /** Standard deviation of the scores, or null. */
  scoreStd: number | null;
  /** Success rate in [0, 1], or null. */
  successRate: number | null;
  /** Episodes behind the decision. */
  nEpisodes: number;
  /** Crashed episodes among them. */
  nCrashes: number;
  /** Feedback to keep with it (e.g. why it crashed). */
  note?: string;
  /** Dollars its episodes cost, added to its proposal's cost. */
  addCostUsd?: number;
}

/** Something that happened in a study, for its log: a stop, an operator's decision, a safety event. */
export interface EventInput {
  /** What kind of event (`stop`, `operator`, `safety`, `researcher`, ...). */
  kind: string;
  /** What happened, in a sentence. */
  message: string;
  /** The candidate it concerns, if any. */
  candidateId?: number | null;
  /** Details (JSON). */
  data?: unknown;
}

/** One logged event. Immutable. */
export interface EventRecord {
  /** Id, in logging order. */
  readonly id: number;
  /** The study. */
  readonly studyId: string;
  /** The candidate it concerns; null when none. */
  readonly candidateId: number | null;
  /** When it happened. */
  readonly at: string;
  /** What kind of event. */
  readonly kind: string;
  /** What happened. */
  readonly message: string;
  /** Details; null when none. */
  readonly data: JsonValue | null;
}

/** A finished episode to record. */
export interface EpisodeInput {
  /** Study id (must own the candidate). */
  studyId: string;
  /** Candidate id. */
  candidateId: number;
  /** Seed set. */
  split: Split;
  /** Episode seed, a non-negative integer. */
  seed: number;
  /** `ok` or `crash`. */
  status: EpisodeStatus;
  /** The task was done. */
  success: boolean;
  /** Score: finite for `ok`; for `crash` also null or NaN (stored as null). */
  score: number | null;
  /** How it ended. */
  outcome: string;
  /** Measurements (a JSON object, e.g. `PickPlaceMetrics`; `{}` for a crash). */
  metrics: object;
  /** Score terms by name (finite numbers; `{}` for a crash). */
  terms: Readonly<Record<string, number>>;
  /** The recorded topics; saved as an artifact next to the database. */
  trace?: Trace;
  /** Wall-clock seconds, >= 0. */
  wallTime: number;
  /** Why it crashed: required for `crash`, absent for `ok`. */
  crashReason?: string;
}

// ---------------------------------------------------------------------------------------------
// zod schemas.

/** Walks a value and reports what JSON cannot hold faithfully (NaN, Infinity, class instances, ...). */
function jsonProblems(value: unknown, path: (string | number)[], seen: Set<object>, out: { path: (string | number)[]; message: string }[]): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) out.push({ path, message: `is ${value}; only finite numbers can be stored` });
      return;
    case 'object': {
      if (value === null) return;
      if (seen.has(value)) {
        out.push({ path, message: 'refers back to itself; a stored value must be a tree' });
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
        out.push({ path, message: `is a ${value.constructor?.name ?? 'class instance'}; only plain objects, arrays, strings, numbers, booleans and null can be stored` });
        return;
      }
      seen.add(value);
      if (Array.isArray(value)) value.forEach((v, i) => jsonProblems(v, [...path, i], seen, out));
      // Undefined properties are dropped, as JSON.stringify does.
      else for (const [k, v] of Object.entries(value)) if (v !== undefined) jsonProblems(v, [...path, k], seen, out);
      seen.delete(value);
      return;
    }
    default:
      out.push({ path, message: `is ${typeof value === 'undefined' ? 'missing' : `a ${typeof value}`}; give a JSON value` });
  }
}

/** Any JSON value (`mustBeObject`: a JSON object). */
function json(mustBeObject = false) {
  return z.unknown().superRefine((value, ctx) => {
    if (mustBeObject && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object, like {"name": 1}' });
      return;
    }
    const problems: { path: (string | number)[]; message: string }[] = [];
    jsonProblems(value, [], new Set(), problems);
    for (const p of problems) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });
}

const text = z.string();
const name = z.string().min(1, 'must not be empty');
const id = z.number().int('must be an integer id').positive('must be a positive id');
const finite = z.number();
const nullableFinite = z.number().nullable();

export const StudyInputSchema = z.strictObject({
  scenarioPath: name,
  scenarioName: name,
  researcher: name,
  config: json(),
});

export const StudyPatchSchema = z.strictObject({
  status: z.enum(STUDY_STATUSES).optional(),
  researcherState: json().optional(),
  bestCandidate: id.nullable().optional(),
  baseline: json().optional(),
  validation: json().optional(),
  summary: json().optional(),
  stopReason: z.string().min(1).nullable().optional(),
  addCostUsd: finite.nonnegative('must be >= 0').optional(),
});

export const CandidateInputSchema = z.strictObject({
  parentId: id.nullable().optional(),
  generation: z.number().int('must be an integer').nonnegative('must be >= 0'),
  kind: z.enum(POLICY_KINDS),
  body: json(),
  rationale: text,
  description: text,
  status: z.enum(['pending', 'invalid']).optional(),
  note: z.string().optional(),
  costUsd: finite.nonnegative('must be >= 0').optional(),
}).refine((c) => c.status !== 'invalid' || !!c.note, { path: ['note'], message: 'is required for an invalid candidate; say why it is invalid' });

export const EventInputSchema = z.strictObject({
  kind: name,
  message: name,
  candidateId: id.nullable().optional(),
  data: json().optional(),
});

export const CandidateDecisionSchema = z
  .strictObject({
    status: z.enum(['keep', 'discard', 'crash']),
    scoreMean: nullableFinite,
    scoreStd: nullableFinite.refine((v) => v === null || v >= 0, 'must be >= 0'),
    successRate: nullableFinite.refine((v) => v === null || (v >= 0 && v <= 1), 'must be in [0, 1]'),
    nEpisodes: z.number().int('must be an integer').nonnegative('must be >= 0'),
    nCrashes: z.number().int('must be an integer').nonnegative('must be >= 0'),
    note: z.string().optional(),
    addCostUsd: finite.nonnegative('must be >= 0').optional(),
  })
  .refine((d) => d.nCrashes <= d.nEpisodes, { path: ['nCrashes'], message: 'must not exceed nEpisodes' });

export const EpisodeInputSchema = z
  .strictObject({
    studyId: name,
    candidateId: id,
    split: z.enum(SPLITS),
    seed: z.number().int('must be an integer').nonnegative('must be >= 0'),
    status: z.enum(EPISODE_STATUSES),
    success: z.boolean(),
    // NaN passes here; the refinement below allows it only for a crash.
    score: z.custom<number | null>(
      (v) => v === null || (typeof v === 'number' && Math.abs(v) !== Infinity),
      'must be a finite number (a crash may give null or NaN)',
    ),
    outcome: name,
    metrics: json(true),
    terms: z.record(z.string(), finite),
    trace: z.instanceof(Trace, { message: 'must be a Trace (from TraceRecorder.finish or loadTrace)' }).optional(),
    wallTime: finite.nonnegative('must be >= 0'),
    crashReason: z.string().optional(),
  })
  .superRefine((e, ctx) => {
    if (e.status === 'ok') {
      if (e.score === null || Number.isNaN(e.score)) {
        ctx.addIssue({ code: 'custom', path: ['score'], message: `is ${e.score} but an ok episode needs a finite score; record it with status 'crash' instead` });
      }
      if (e.crashReason !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['crashReason'], message: "is set but status is 'ok'; drop it or set status 'crash'" });
      }
    } else if (!e.crashReason) {
      ctx.addIssue({ code: 'custom', path: ['crashReason'], message: 'is required for a crash; say why it crashed' });
    }
  });
