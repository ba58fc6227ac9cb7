/**
 * What the page is sent about studies, and the one place where the study's records become it.
 *
 * One spelling per layer. The files people write (scenarios, policy files, a prompt's config) and
 * the metrics a scorer records are snake_case (`max_tokens`, `planner_usd`); the store's records
 * are camelCase objects (`scoreMean`) that carry those snake_case contents as they were given
 * (a candidate's `body`, an episode's `metrics`). The viewer's wire, its JSON and the client, is
 * camelCase only: the functions here read the store's records, check the snake_case contents they
 * show with zod, and rename them. Nothing after this module reads a snake_case key, and nothing
 * before it (src/store, the study) changes for the viewer.
 */
import { z } from 'zod';
import type { CandidateRecord, EpisodeRecord, StudyRecord } from '../store/schema.ts';
import type { StudySummary } from '../study/config.ts';
import { wilsonOfRate, type Interval } from '../scoring/stats.ts';

/** What `/api/info` says about the server. */
export interface ViewerInfo {
  /** True when live studies can stream here (`arbor run --view`, or relays). */
  live: boolean;
  /** True when a model was given (`arbor view --model`). */
  model: boolean;
  /** True when the store exists. */
  db: boolean;
  /** Always true: the viewer changes nothing. */
  readonly: true;
}

/** A study as `/api/studies` lists it. */
export interface StudyListItem {
  /** Study id. */
  id: string;
  /** Scenario name. */
  scenarioName: string;
  /** `running`, `done`, `stopped` or `failed`. */
  status: string;
  /** When it was created (ISO time). */
  createdAt: string;
  /** Number of candidates so far. */
  candidates: number;
}

/** The study at the top of its dashboard. */
export interface StudyHeader {
  /** Study id. */
  id: string;
  /** Scenario name. */
  scenarioName: string;
  /** Researcher name. */
  researcher: string;
  /** `running`, `done`, `stopped` or `failed`. */
  status: string;
  /** Id of the best candidate so far; null before one is kept. */
  bestCandidate: number | null;
  /** Dollars spent on model calls. */
  costUsd: number;
}

/** A prompt candidate's planner config, in a line's worth of facts. */
export interface PromptSummary {
  /** Model id. */
  model: string | null;
  /** Sampling temperature. */
  temperature: number | null;
  /** Most output tokens per call (`max_tokens`). */
  maxTokens: number | null;
  /** Number of few-shot examples. */
  examples: number;
  /** Length of the system prompt (characters). */
  systemChars: number;
  /** How the scene is written (`json`, `prose`). */
  sceneFormat: string | null;
  /** Facts the scene gives of each thing. */
  sceneFacts: string[];
  /** Unit of the scene's lengths. */
  sceneUnits: string | null;
  /** True when the planner re-plans after a failed step. */
  replan: boolean;
}

/** A candidate as the dashboard's table shows it. */
export interface CandidateRow {
  /** Candidate id. */
  id: number;
  /** Policy kind (`params`, `code`, `prompt`). */
  kind: string;
  /** `pending`, `keep`, `discard`, `crash` or `invalid`. */
  status: string;
  /** Mean episode score; null until decided. */
  scoreMean: number | null;
  /** Standard deviation of the scores; null until decided. */
  scoreStd: number | null;
  /** Fraction of successful episodes; null until decided. */
  successRate: number | null;
  /** Episodes behind the decision; null until decided. */
  nEpisodes: number | null;
  /** Wilson 95% interval of the success rate; null until decided. */
  successInterval: Interval | null;
  /** One line a person can scan. */
  description: string;
  /** Why the researcher proposed it. */
  rationale: string;
  /** A params candidate's values by name (empty for other kinds). */
  params: Record<string, number>;
  /** A prompt candidate's config (null for other kinds). */
  prompt: PromptSummary | null;
}

/** An episode as the dashboard lists it. */
export type EpisodeSummary = Pick<EpisodeRecord, 'id' | 'candidateId' | 'split' | 'seed' | 'status' | 'success' | 'score' | 'outcome'>;

/** An episode's part in the success-vs-cost plot. */
export interface EpisodeCost {
  /** The candidate it evaluated. */
  candidateId: number;
  /** Its seed set. */
  split: string;
  /** The task was done. */
  success: boolean;
  /** Dollars its policy's model calls cost (undefined: the policy reported none). */
  dollars: number | undefined;
}

/** One validation figure of a finished study: the best in a world (or the baseline) on the validation seeds. */
export interface ValidationFigure {
  /** `nominal`, a robust study's tier (`T2`), or `baseline`. */
  label: string;
  /** Fraction of the validation episodes that succeeded. */
  successRate: number;
  /** Its Wilson 95% interval. */
  successInterval: Interval;
  /** Validation episodes behind it. */
  n: number;
  /** The validation seeds, e.g. `1000..1063`. */
  seeds: string;
}

/** The validation figures of a study's summary: the best nominally, at a robust study's tier, and the baseline. */
export function validationFigures(summary: StudySummary | null): ValidationFigure[] {
  if (!summary?.validation) return [];
  const figures: [string, { success_rate: number | null; episodes: number; seeds?: string } | null | undefined][] = [
    ['nominal', summary.validation],
    [summary.validation_tier?.tier ?? '', summary.validation_tier],
    ['baseline', summary.baseline?.candidate !== summary.best.candidate ? summary.baseline : null],
  ];
  return figures.flatMap(([label, f]) =>
    f && f.success_rate !== null && f.episodes > 0 ? [{ label, successRate: f.success_rate, successInterval: wilsonOfRate(f.success_rate, f.episodes), n: f.episodes, seeds: f.seeds ?? summary.validation!.seeds }] : [],
  );
}

/** The study's row as the page sees it. */
export function studyHeader({ id, scenarioName, researcher, status, bestCandidate, costUsd }: StudyRecord): StudyHeader {
  return { id, scenarioName, researcher, status, bestCandidate, costUsd };
}

/** The study as the study list shows it. */
export function studyListItem({ id, scenarioName, status, createdAt }: StudyRecord, candidates: number): StudyListItem {
  return { id, scenarioName, status, createdAt, candidates };
}

/** The episode as the dashboard lists it. */
export function episodeSummary({ id, candidateId, split, seed, status, success, score, outcome }: EpisodeRecord): EpisodeSummary {
  return { id, candidateId, split, seed, status, success, score, outcome };
}

/** A field shown when it has the expected type, null otherwise (an invalid candidate is stored as proposed). */
const shown = <T extends z.ZodType>(type: T) => type.nullable().catch(null);

/** The parts of a params body the table shows (`{"kind": "params", "params": {...}}`). */
const ParamsBody = z.object({ params: z.record(z.string(), z.number()).catch({}) });

/** The parts of a prompt body the table shows (`{"kind": "prompt", "config": {...}}`, snake_case as written). */
const PromptBody = z.object({
  config: z.object({
    model: shown(z.string()),
    temperature: shown(z.number()),
    max_tokens: shown(z.number()),
    system: z.string().catch(''),
    examples: z.array(z.unknown()).catch([]),
    scene: z
      .object({ format: shown(z.string()), facts: z.array(z.string()).catch([]), units: shown(z.string()) })
      .catch({ format: null, facts: [], units: null }),
    replan: z.boolean().catch(false),
  }),
});

/** A prompt body's config as the page spells it; null when the body has no config. */
function promptSummary(body: unknown): PromptSummary | null {
  const parsed = PromptBody.safeParse(body);
  if (!parsed.success) return null;
  const c = parsed.data.config;
  return { model: c.model, temperature: c.temperature, maxTokens: c.max_tokens, examples: c.examples.length, systemChars: c.system.length, sceneFormat: c.scene.format, sceneFacts: c.scene.facts, sceneUnits: c.scene.units, replan: c.replan };
}

/** The candidate as the table shows it: its policy body read here, in the page's spelling. */
export function candidateRow(c: CandidateRecord): CandidateRow {
  const { id, kind, status, scoreMean, scoreStd, successRate, nEpisodes, description, rationale } = c;
  const params = kind === 'params' ? (ParamsBody.safeParse(c.body).data?.params ?? {}) : {};
  const successInterval = successRate === null || !nEpisodes ? null : wilsonOfRate(successRate, nEpisodes);
  return { id, kind, status, scoreMean, scoreStd, successRate, nEpisodes, successInterval, description, rationale, params, prompt: kind === 'prompt' ? promptSummary(c.body) : null };
}

/** A finite number of dollars, else undefined. */
const Dollars = z.number().refine(Number.isFinite).optional().catch(undefined);

/**
 * What an episode's planner cost: its list price (`planner_usd`), else what was spent
 * (`cost_usd`); undefined when its policy reported neither.
 */
export function episodeCost({ candidateId, split, success, metrics }: { candidateId: number; split: string; success: boolean; metrics: Readonly<Record<string, unknown>> }): EpisodeCost {
  const dollars = Dollars.parse(metrics.planner_usd) ?? Dollars.parse(metrics.cost_usd);
  return { candidateId, split, success, dollars };
}
