/**
 * What a study is: its configuration (stored with it, so `resume` runs it the same way), why its
 * search may stop, the summary it reports, and its seeds. Stored JSON comes back through these
 * schemas, never through casts.
 */
import { z } from 'zod';
import { robustProblem, type LoadedScenario } from '../scenario/load.ts';
import { Perturbations } from '../scenario/perturbation.ts';
import { KEEP_RULES, RESEARCHER_NAMES, SEED_MAX } from '../scenario/schema.ts';
import { POLICY_KINDS } from '../policy/kinds.ts';
import type { StudyRecord } from '../store/schema.ts';

/**
 * A robust study's tier and the block its worlds are drawn from, stored whole: a resumed study
 * draws the same worlds even if the scenario's block was edited since.
 */
const Robust = z.object({
  /** The tier every training episode's world is drawn at, and validation reports beside nominal. */
  tier: z.string(),
  /** The scenario's `perturbations:` block when the study was created. */
  perturbations: Perturbations,
});

/** How a study runs; stored with it so `resume` runs it the same way. */
export const StudyConfig = z.object({
  /** Which researcher proposes. */
  researcher: z.enum(RESEARCHER_NAMES),
  /** Seed of the researcher's random stream. */
  seed: z.number().int().min(0).max(SEED_MAX),
  /** Proposals per generation; absent: the researcher's own default (CMA-ES: its λ). */
  batch: z.number().int().positive().max(256).optional(),
  /** Episodes per candidate per generation (shared by the generation). */
  seedsPerCandidate: z.number().int().positive(),
  /** Stop before asking for a generation that would pass any of these. */
  budget: z.object({
    candidates: z.number().int().positive(),
    episodes: z.number().int().positive(),
    wallTime: z.number().positive(),
    /** Dollars (LLM calls); absent: no limit. */
    costUsd: z.number().nonnegative().optional(),
  }),
  /** Fresh seeds for the final validation; training never uses them. */
  validation: z.object({ from: z.number().int().min(0), count: z.number().int().positive() }),
  /** Standard errors by which a candidate must beat the best to replace it. */
  keepMargin: z.number().nonnegative(),
  /** Racing: after half its seeds, a candidate worse than the best by `keepMargin` standard errors is dropped. */
  racing: z.boolean().default(false),
  /** Stop after this many generations in a row keep nothing; absent: never. */
  patience: z.number().int().positive().optional(),
  /** Stop once the best's training success rate reaches this over two generations of seeds or more; absent: never. */
  targetSuccess: z.number().min(0).max(1).optional(),
  /**
   * CMA-ES's initial step, as a fraction of each range. 0.2 rather than the textbook 0.3: on
   * pick-and-place it reached 90% validation in 104/296/200/968/200 training episodes (researcher
   * seeds 1..5) against 296/776/584/1160/>1544 (bench/start.ts prints both).
   */
  sigma0: z.number().positive().max(1).default(0.2),
  /** The model of an LLM researcher. */
  model: z.string().optional(),
  /** Candidate kinds the researcher may propose. */
  kinds: z.array(z.enum(POLICY_KINDS)).min(1).default(['params']),
  /** Probe episodes an LLM researcher may run per generation. */
  probes: z.number().int().min(0).default(4),
  /** Where episodes run (`sim`, `rosbridge://...`, `ros2`). */
  backend: z.string().default('sim'),
  /** An operator supervises every episode (sim gate, confirmations, reduced speed, e-stop key). */
  operator: z.boolean().default(false),
  /** The calibration file the sim world is loaded with (absent: the nominal model). */
  calibration: z.string().optional(),
  /** Domain randomization: each training episode's world drawn per seed at this tier (absent: the nominal world). */
  robust: Robust.optional(),
  /** What a keep needs beyond a better mean (absent: the mean alone). */
  keepIf: z.enum(KEEP_RULES).optional(),
}).superRefine((config, ctx) => {
  const problem = robustProblem(config.robust?.perturbations, config.robust?.tier, config.keepIf);
  if (problem) ctx.addIssue({ code: 'custom', path: [problem.field === 'robust' ? 'robust' : 'keepIf'], message: `${problem.message}; ${problem.hint}` });
  if (config.robust && config.backend !== 'sim') {
    ctx.addIssue({ code: 'custom', path: ['robust'], message: `a robust study draws perturbed sim worlds, and its episodes run on '${config.backend}'; run it on the sim (leave out --backend), or leave robust out` });
  }
});
export type StudyConfig = z.infer<typeof StudyConfig>;
/** A study config before it is parsed: defaults not filled in, nothing checked. */
export type StudyConfigInput = z.input<typeof StudyConfig>;

/** Study configs parsed by this process, for tests: `arbor run` and `resume` parse theirs once. */
let parses = 0;

/** How many study configs this process has parsed (and read back from the store) so far. */
export function studyConfigParses(): number {
  return parses;
}

/** Parses a study config (defaults filled in, every field and combination checked); throws naming the field. */
export function parseStudyConfig(input: StudyConfigInput): StudyConfig {
  parses++;
  return StudyConfig.parse(input);
}

/** Reads a stored study config through its schema, without throwing. */
export function readStudyConfig(stored: unknown): z.ZodSafeParseResult<StudyConfig> {
  parses++;
  return StudyConfig.safeParse(stored);
}

/** The scenario's study config, parsed, with `overrides` over its defaults. */
export function defaultStudyConfig(scenario: LoadedScenario, overrides: Partial<StudyConfigInput> = {}): StudyConfig {
  return parseStudyConfig(studyConfigInput(scenario, overrides));
}

/** The scenario's study config before it is parsed, with `overrides` over its defaults: what a command adds its flags to, then parses once. */
export function studyConfigInput(scenario: LoadedScenario, overrides: Partial<StudyConfigInput> = {}): StudyConfigInput {
  const b = scenario.budget;
  const r = scenario.researcher;
  return {
    researcher: r.name,
    seed: 1,
    batch: r.batch,
    seedsPerCandidate: b.seeds_per_candidate,
    budget: { candidates: b.candidates, episodes: b.episodes, wallTime: b.wall_time, costUsd: b.max_cost_usd },
    validation: b.validation_seeds,
    keepMargin: 2,
    racing: b.racing,
    patience: b.patience,
    targetSuccess: b.target_success,
    model: r.model,
    sigma0: r.sigma0,
    kinds: r.kinds,
    probes: r.probes,
    calibration: scenario.calibration?.file,
    ...(b.robust !== undefined && scenario.perturbations ? { robust: { tier: b.robust, perturbations: scenario.perturbations } } : {}),
    ...(b.keep_if !== undefined ? { keepIf: b.keep_if } : {}),
    ...overrides,
  };
}

/** Why the search part of a study ended. */
export const STOP_REASONS = {
  'budget-candidates': 'the candidate budget is spent',
  'budget-episodes': 'the episode budget is spent',
  'wall-time': 'the wall-time budget is spent',
  cost: 'the dollar budget is spent',
  patience: 'its patience ran out: generations in a row kept no candidate',
  'target-success': 'the best reached the target success rate (over two generations of seeds or more)',
  'researcher-done': 'the researcher proposed nothing more',
} as const;
export type StopReason = keyof typeof STOP_REASONS;

/** One scored figure: a success rate and a mean score over a number of episodes. */
const Figure = z.object({
  /** Fraction of successful episodes. */
  success_rate: z.number().nullable(),
  /** Mean episode score. */
  score: z.number().nullable(),
  /** Episodes behind the figure. */
  episodes: z.number().int(),
});
export type Figure = z.infer<typeof Figure>;

/** What a finished (or stopped) run reports; stored with the study and read back through zod. */
export const StudySummary = z.object({
  /** Study id. */
  study: z.string(),
  /** `done`, or `stopped` when interrupted (resume it). */
  status: z.enum(['done', 'stopped']),
  /** Why the search ended (null when interrupted). */
  stop_reason: z.string().nullable().default(null),
  /** The defaults on the validation seeds (null until validation ran). */
  baseline: Figure.extend({ candidate: z.number().int().optional(), seeds: z.string().optional() }).nullable(),
  /** The best candidate on its training episodes. */
  best: Figure.extend({ candidate: z.number().int(), params: z.record(z.string(), z.number()).default({}), kind: z.string().default('params') }),
  /** The best candidate on the validation seeds: the figure to report (null until it ran). */
  validation: Figure.extend({ seeds: z.string() }).nullable(),
  /** A robust study's best on the same validation seeds at its tier (absent: a nominal study, or not run yet). */
  validation_tier: Figure.extend({ seeds: z.string(), tier: z.string() }).optional(),
  /** Training episodes in the store. */
  train_episodes: z.number().int(),
  /** Candidates in the store. */
  candidates: z.number().int(),
  /** Wall-clock seconds over all runs of the study. */
  wall_time: z.number(),
  /** Dollars spent (researcher and policies). */
  cost_usd: z.number().default(0),
});
export type StudySummary = z.infer<typeof StudySummary>;

/** Reads a study's stored config through its schema. */
export function studyConfigOf(study: StudyRecord): StudyConfig {
  const parsed = readStudyConfig(study.config);
  if (!parsed.success) {
    throw new Error(`Study ${study.id} has a config this arbor cannot read (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}); it was made by another version.`);
  }
  return parsed.data;
}

/** Reads a study's stored summary through its schema; null when it has none (or an unreadable one). */
export function studySummaryOf(study: StudyRecord): StudySummary | null {
  if (study.summary === null) return null;
  const parsed = StudySummary.safeParse(study.summary);
  return parsed.success ? parsed.data : null;
}

/** A sentence for a stop reason. */
export function describeStop(reason: string | null): string {
  if (reason === null) return 'it was interrupted';
  return Object.hasOwn(STOP_REASONS, reason) ? STOP_REASONS[reason as StopReason] : reason;
}

/** The training seeds of a generation: consecutive blocks that skip the validation range. */
export function trainSeeds(config: Pick<StudyConfig, 'seedsPerCandidate' | 'validation'>, generation: number): number[] {
  const { from, count } = config.validation;
  return Array.from({ length: config.seedsPerCandidate }, (_, i) => {
    const n = generation * config.seedsPerCandidate + i;
    return n < from ? n : n + count;
  });
}
