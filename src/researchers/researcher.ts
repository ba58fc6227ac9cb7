/**
 * Researchers propose candidates and learn from their outcomes (ask-and-tell, like Optuna's
 * samplers). They see a read-only snapshot of the study — the scenario, the results so far, the
 * budget left — and tools to look closer (an episode's evidence, probe episodes), never the store.
 * Their state is plain JSON, saved before they are asked and again with what they proposed, so a
 * resumed study never asks a paid researcher twice for the same generation.
 */
import type { LoadedScenario } from '../scenario/load.ts';
import type { ParamSpec } from '../scenario/schema.ts';
import type { PolicyKind } from '../policy/kinds.ts';

/** One proposed candidate: a policy of some kind and why. */
export interface Proposal {
  /** The policy kind: `params` (numbers for the controller), `code` (a controller module), `prompt`. */
  kind: PolicyKind;
  /** The policy file's body (everything but `kind`): e.g. `{params: {...}}` or `{source: '...'}`. */
  body: Record<string, unknown>;
  /** Why this candidate, in a sentence or two. */
  rationale: string;
  /** Set when the researcher already knows the proposal is invalid (why): it is recorded so, never run. */
  invalid?: string;
}

/** A candidate as researchers see it in the study's history (a frozen snapshot). */
export interface CandidateView {
  /** Candidate id. */
  readonly id: number;
  /** Generation it was proposed in (0: the baseline). */
  readonly generation: number;
  /** Policy kind. */
  readonly kind: PolicyKind;
  /** The policy file as stored (`{kind, ...body}`). */
  readonly policy: unknown;
  /** Why it was proposed. */
  readonly rationale: string;
  /** One line a person can scan. */
  readonly description: string;
  /** `pending`, `keep`, `discard`, `crash` or `invalid`. */
  readonly status: string;
  /** Mean training score; null while pending or when invalid. */
  readonly score: number | null;
  /** Training success rate; null as for `score`. */
  readonly successRate: number | null;
  /** Why it is invalid or crashed; null otherwise. */
  readonly note: string | null;
}

/** What the study tells a researcher about one of its proposals, in the order they were proposed. */
export interface Outcome {
  /** Candidate id the proposal became. */
  candidate: number;
  /** The proposal, as proposed. */
  proposal: Proposal;
  /** `keep` (it beat the best), `discard`, `crash` (most episodes failed) or `invalid` (never run). */
  status: 'keep' | 'discard' | 'crash' | 'invalid';
  /** Mean episode score on the generation's seeds (crashes count 0; invalid: 0). Higher is better. */
  score: number;
  /** Fraction of the generation's episodes that succeeded. */
  successRate: number;
  /** Mean of each score term over the generation's episodes. */
  terms: Record<string, number>;
  /** Mean of each numeric metric over the generation's episodes. */
  metrics: Record<string, number>;
  /** How many episodes ended each way (`success`, `drop`, `crash`, ...). */
  outcomes: Record<string, number>;
  /** Why it is invalid or crashed, or the first crash reasons; absent otherwise. */
  reason?: string;
  /** The incumbent's mean score on the same seeds (the bar it had to clear). */
  bestScore: number;
}

/** One episode's evidence, as an LLM researcher reads it. */
export interface EpisodeEvidence {
  /** Seed. */
  seed: number;
  /** How it ended. */
  outcome: string;
  /** Score and success. */
  score: number | null;
  /** The task was done. */
  success: boolean;
  /** Score terms. */
  terms: Record<string, number>;
  /** Metrics. */
  metrics: Record<string, unknown>;
  /** Why it crashed, when it did. */
  crashReason?: string;
  /** A few lines summarising the topics: phases, contacts, gripper events, object trajectory. */
  summary?: string[];
}

/** The tools a researcher may use while it is asked (an LLM researcher's tool calls). */
export interface ResearchTools {
  /** The evidence of a candidate's training episodes (at most `limit`). */
  episodes(candidate: number, limit?: number): EpisodeEvidence[];
  /** Runs a draft policy on a few seeds now (counted in the budget) and returns the evidence. */
  probe(policy: unknown, seeds: number[]): Promise<EpisodeEvidence[]>;
  /** Checks a proposal as the study will when it is proposed: null when valid, else why not. */
  check(proposal: Proposal): string | null;
  /**
   * Saves the researcher's `state()` now, in the middle of `ask`, and books what it spent so far:
   * a researcher that talks to a model calls it after every reply, so a killed study resumes the
   * conversation instead of paying for it again.
   */
  checkpoint(): void;
}

/** What a researcher is asked with: a read-only snapshot of the study. */
export interface StudyHistory {
  /** The scenario: task, parameter space, budget. */
  readonly scenario: LoadedScenario;
  /** The generation being asked for (1 = the first after the baseline). */
  readonly generation: number;
  /** Every candidate so far, in id order. */
  readonly candidates: readonly CandidateView[];
  /** The current best (the baseline until something beat it). */
  readonly best: CandidateView;
  /** Outcomes of the last generation (empty before the first). */
  readonly last: readonly Outcome[];
  /** What is left of the budget. */
  readonly budget: { readonly candidates: number; readonly episodes: number; readonly seconds: number; readonly dollars: number };
  /** Tools to look closer before proposing. */
  readonly tools: ResearchTools;
}

export interface Researcher {
  /** Name stored with the study (`cmaes`, `random`, `claude`, ...). */
  readonly name: string;
  /** About how many proposals a generation has (for budget checks before asking). */
  readonly batchSize: number;
  /** The next generation of proposals. */
  ask(history: StudyHistory): Promise<Proposal[]>;
  /** Outcomes of the last generation asked, in the order proposed. */
  tell(outcomes: Outcome[]): void | Promise<void>;
  /** JSON state from which the researcher continues exactly (after a restore, asking again proposes the same). */
  state(): unknown;
  /** Dollars this researcher has spent so far (LLM calls); 0 for offline ones. */
  spent?(): number;
}

/**
 * The settings a researcher is made with: the study config's fields it reads, and nothing more of
 * the study (a study's config has them all).
 */
export interface ResearcherSettings {
  /** Seed of the researcher's random stream. */
  readonly seed: number;
  /** Proposals per generation; absent: the researcher's own default. */
  readonly batch?: number;
  /** CMA-ES's initial step, as a fraction of each range. */
  readonly sigma0: number;
  /** The model of an LLM researcher. */
  readonly model?: string;
  /** Candidate kinds it may propose. */
  readonly kinds: readonly PolicyKind[];
  /** Probe episodes it may run per generation. */
  readonly probes: number;
  /** Episodes per candidate per generation (an LLM researcher is told). */
  readonly seedsPerCandidate: number;
}

/** The parameter space as numeric researchers see it: names in a fixed order with bounds. */
export interface Space {
  /** Parameter names, in the scenario's order. */
  names: string[];
  /** Lower bounds, by index. */
  lower: number[];
  /** Upper bounds, by index. */
  upper: number[];
  /** Defaults (the baseline), by index. */
  defaults: number[];
}

export function spaceOf(params: Record<string, ParamSpec>): Space {
  const names = Object.keys(params);
  return {
    names,
    lower: names.map((n) => params[n].min),
    upper: names.map((n) => params[n].max),
    defaults: names.map((n) => params[n].default),
  };
}

/** Point (by index) → named parameters, rounded to 6 significant digits for readable logs. */
export function toParams(space: Space, x: readonly number[]): Record<string, number> {
  return Object.fromEntries(space.names.map((n, i) => [n, Number(x[i].toPrecision(6))]));
}

/** A params proposal's body. */
export function paramsProposal(space: Space, x: readonly number[], rationale: string): Proposal {
  return { kind: 'params', body: { params: toParams(space, x) }, rationale };
}

/** A one-line description of how `params` differ from the defaults, for results tables. */
export function describeChange(space: Space, params: Record<string, number>): string {
  const changed = space.names
    .map((n, i) => ({ n, from: space.defaults[i], to: Object.hasOwn(params, n) ? params[n] : space.defaults[i], span: space.upper[i] - space.lower[i] }))
    .filter((c) => Math.abs(c.to - c.from) > 0.02 * c.span)
    .sort((a, b) => Math.abs(b.to - b.from) / b.span - Math.abs(a.to - a.from) / a.span);
  if (changed.length === 0) return 'defaults';
  const shown = changed.slice(0, 3).map((c) => `${c.n} ${fmt(c.from)}→${fmt(c.to)}`);
  return changed.length > 3 ? `${shown.join(', ')} (+${changed.length - 3} more)` : shown.join(', ');
}

function fmt(v: number): string {
  return Number(v.toPrecision(3)).toString();
}
