/**
 * The study loop: the autoresearch cycle for robots.
 *
 *   baseline → repeat { check the budget → ask the researcher → validate and store the proposals
 *   → evaluate them and the incumbent best on this generation's seeds → keep a candidate only if
 *   it beats the best by more than the noise → tell the researcher } → validate the best on
 *   fresh seeds.
 *
 * Every step leaves the store in a state `resume` continues from exactly: finished episodes are
 * stored as they come; proposals are stored (with the researcher's state after asking) before any
 * is evaluated, so a resumed study evaluates and tells the stored ones and never asks twice; the
 * verdicts of a generation land in one transaction. A resumed study ends as an uninterrupted one.
 */
import { z } from 'zod';
import { defaultPolicy, resolvePolicy, type PolicyFile } from '../policy/policy.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { RESEARCHER_NAMES, SEED_MAX } from '../scenario/schema.ts';
import { CANDIDATE_KINDS, type CandidateRecord, type StudyRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { EpisodeJob, EpisodeResult, Evaluator } from './evaluator.ts';
import { describeChange, spaceOf, type CandidateView, type Outcome, type Proposal, type Researcher, type StudyHistory } from './researcher.ts';
import { createResearcher } from './researchers.ts';
import { resultEvidence, storedEvidence } from './evidence.ts';
import { meanStd } from './stats.ts';

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
  kinds: z.array(z.enum(CANDIDATE_KINDS)).min(1).default(['params']),
  /** Probe episodes an LLM researcher may run per generation. */
  probes: z.number().int().min(0).default(4),
  /** Where episodes run (`sim`, `rosbridge://...`, `ros2`). */
  backend: z.string().default('sim'),
  /** An operator supervises every episode (sim gate, confirmations, reduced speed, e-stop key). */
  operator: z.boolean().default(false),
});
export type StudyConfig = z.infer<typeof StudyConfig>;

export function defaultStudyConfig(scenario: LoadedScenario, overrides: Partial<StudyConfig> = {}): StudyConfig {
  const b = scenario.budget;
  const r = scenario.researcher;
  return StudyConfig.parse({
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
    ...overrides,
  });
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

/** How far a study has come, for progress bars. */
export interface StudyProgress {
  /** Training episodes stored. */
  episodes: number;
  /** Candidates proposed so far, the baseline included. */
  candidates: number;
  /** Generation being evaluated (0 = baseline). */
  generation: number;
  /** Mean training score of the best candidate. */
  bestScore: number;
  /** Training success rate of the best candidate. */
  bestSuccess: number;
  /** What the loop is doing. */
  phase: 'baseline' | 'ask' | 'search' | 'validation';
  /** Seconds since this run (not the study) started. */
  elapsed: number;
  /** Dollars spent by the study so far. */
  costUsd: number;
}

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

/** Where the loop is; saved with every step so `resume` continues exactly. */
const LoopState = z.object({
  /** The generation in progress (`evaluate`) or to ask for next (`ask`); 0 = the baseline. */
  generation: z.number().int().min(0),
  /** `ask`: the researcher state is from before asking; `evaluate`: the generation's proposals are stored and the state is from after asking; `validate`: the search ended. */
  phase: z.enum(['ask', 'evaluate', 'validate']).default('ask'),
  /** The researcher's own state (JSON). */
  researcher: z.unknown(),
  /** Wall-clock seconds spent in earlier runs and finished steps. */
  elapsed: z.number().min(0),
  /** Generations in a row that kept nothing. */
  sinceKept: z.number().int().min(0).default(0),
  /** Wall-clock seconds the last generation took (for the wall-time budget). */
  lastGenerationSeconds: z.number().min(0).default(0),
  /** Probe episodes run for the researcher (they count in the episode budget). */
  probeEpisodes: z.number().int().min(0).default(0),
  /** Probe episodes run while asking for the current generation (at most `config.probes`). */
  generationProbes: z.number().int().min(0).default(0),
  /** Dollars the researcher spent asking for the current generation and already booked to the study (checkpoints). */
  askCost: z.number().min(0).default(0),
  /** Why the search ended (phase `validate`). */
  stopReason: z.string().nullable().default(null),
});
type LoopState = z.infer<typeof LoopState>;

export interface RunOptions {
  /** Aborting finishes the episodes in flight, stores them, and stops (resume continues). */
  signal?: AbortSignal;
  /** Called as episodes finish. */
  onProgress?: (p: StudyProgress) => void;
  /** A researcher to use instead of the one the config names (tests); it must resume from `state`. */
  researcher?: (state: unknown) => Researcher;
  /** Called when a candidate or an episode is stored (the live dashboard refreshes on it). */
  onStored?: (event: { kind: 'candidate' | 'episode'; candidate: number; seed?: number }) => void;
}

/** Reads a study's stored config through its schema. */
export function studyConfigOf(study: StudyRecord): StudyConfig {
  const parsed = StudyConfig.safeParse(study.config);
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

/**
 * Creates a study record for a scenario, with its baseline candidate. Refuses a budget too small
 * for the baseline generation, so no study starts that could only break its budget.
 */
export function createStudy(store: Store, scenario: LoadedScenario, config: StudyConfig): StudyRecord {
  const checked = StudyConfig.parse(config);
  if (checked.budget.episodes < checked.seedsPerCandidate) {
    throw new Error(
      `The episode budget (${checked.budget.episodes}) is smaller than the baseline generation (${checked.seedsPerCandidate} seeds per candidate); raise --budget-episodes or lower budget.seeds_per_candidate.`,
    );
  }
  const lastTrainSeed = trainSeeds(checked, Math.ceil(checked.budget.episodes / checked.seedsPerCandidate)).at(-1)!;
  if (lastTrainSeed > SEED_MAX || checked.validation.from + checked.validation.count - 1 > SEED_MAX) {
    throw new Error(`The study's seeds would pass ${SEED_MAX}; lower the episode budget or the validation seeds.`);
  }
  return store.transaction(() => {
    const study = store.createStudy({ scenarioPath: scenario.file, scenarioName: scenario.name, researcher: checked.researcher, config: checked });
    store.addCandidate(study.id, {
      generation: 0, parentId: null, kind: 'params', body: defaultPolicy(scenario), rationale: 'the scenario defaults (baseline)', description: 'baseline: scenario defaults',
    });
    return study;
  });
}

/** The current best: the study's best candidate, or the baseline before anything beat it. */
export function incumbent(store: Store, studyId: string): CandidateRecord | undefined {
  const study = store.study(studyId);
  if (!study) return undefined;
  return study.bestCandidate !== null ? store.candidate(study.bestCandidate) : store.candidates(studyId)[0];
}

/** Runs (or resumes) a study until its budget ends or `signal` aborts. */
export async function runStudy(store: Store, studyId: string, scenario: LoadedScenario, evaluator: Evaluator, options: RunOptions = {}): Promise<StudySummary> {
  const study = store.study(studyId);
  if (!study) throw new Error(`No study '${studyId}' in ${store.path}; list them with 'arbor studies'.`);
  const config = studyConfigOf(study);
  const space = spaceOf(scenario.policy.params);
  const loop: LoopState = study.researcherState === null ? LoopState.parse({ generation: 0, researcher: null, elapsed: 0 }) : readLoop(study);
  const researcher = options.researcher?.(loop.researcher) ?? (await createResearcher(config.researcher, { space, config, scenario, state: loop.researcher }));
  const started = performance.now();
  const elapsedBefore = loop.elapsed;
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  // An episode the evaluator could not finish even after reconnecting (the robot is gone): stop
  // here, resumable, rather than judge candidates on episodes that never ran.
  let linkLost: string | undefined;
  const aborted = () => options.signal?.aborted === true || linkLost !== undefined;
  options.signal?.addEventListener('abort', () => evaluator.drain(), { once: true });
  store.updateStudy(studyId, { status: 'running', stopReason: null });

  // Progress is reported after every episode, so it reads counters, not the store: the training
  // episode count is kept here, and the candidate count and best figure refresh per step.
  let trainEpisodes = store.episodes({ studyId, split: 'train' }).length;
  let candidateCount = 0;
  let bestFigure = { score: NaN, success_rate: NaN };
  const refresh = () => {
    candidateCount = store.candidates(studyId).length;
    const best = incumbent(store, studyId);
    if (best) bestFigure = figureOf(store, best.id);
  };
  const progress = (phase: StudyProgress['phase']) => {
    options.onProgress?.({
      episodes: trainEpisodes,
      candidates: candidateCount,
      generation: loop.generation,
      bestScore: bestFigure.score,
      bestSuccess: bestFigure.success_rate,
      phase,
      elapsed: (performance.now() - started) / 1000,
      costUsd: store.study(studyId)?.costUsd ?? 0,
    });
  };
  const evaluate = async (candidates: readonly CandidateRecord[], seeds: number[], split: 'train' | 'validation' | 'baseline', phase: StudyProgress['phase']) => {
    const jobs: EpisodeJob[] = [];
    for (const c of candidates) {
      const done = new Set(store.episodes({ candidateId: c.id, split }).map((e) => e.seed));
      const policy = storedPolicy(c, scenario);
      for (const seed of seeds) if (!done.has(seed)) jobs.push({ policy, seed, tag: { candidate: c.id, split } });
    }
    if (jobs.length === 0) return;
    refresh();
    progress(phase);
    await evaluator.evaluate(jobs, (result) => {
      if (!result.ok && result.aborted) {
        linkLost ??= result.reason;
        evaluator.drain();
        return;
      }
      if (!result.ok && result.reason === 'cancelled') return;
      if (recordResult(store, studyId, result, split) && split === 'train') trainEpisodes++;
      const { candidate } = result.job.tag as { candidate: number };
      options.onStored?.({ kind: 'episode', candidate, seed: result.seed });
      progress(phase);
    });
  };
  const save = (patch: Partial<LoopState> = {}) => {
    Object.assign(loop, patch, { elapsed: elapsed() });
    store.updateStudy(studyId, { researcherState: loop });
  };
  /** The researcher's spending already booked to the study during the ask in progress. */
  let booked = 0;

  // Generation 0: the scenario defaults are the baseline and the first best.
  if (loop.generation === 0) {
    const baseline = store.candidates(studyId)[0];
    await evaluate([baseline], trainSeeds(config, 0), 'train', 'baseline');
    if (aborted()) return stop();
    const figure = figureOf(store, baseline.id);
    store.transaction(() => {
      if (store.candidate(baseline.id)!.status === 'pending') {
        store.decideCandidate(baseline.id, { status: 'keep', scoreMean: figure.score, scoreStd: figure.std, successRate: figure.success_rate, nEpisodes: figure.episodes, nCrashes: figure.crashes });
      }
      save({ generation: 1, phase: 'ask', researcher: researcher.state() });
    });
  }

  while (loop.phase !== 'validate' && !aborted()) {
    if (loop.phase === 'ask') {
      const reason = stopReason();
      if (reason) {
        save({ phase: 'validate', stopReason: reason });
        break;
      }
      refresh();
      progress('ask');
      booked = researcher.spent?.() ?? 0;
      const proposals = await researcher.ask(history());
      const cost = Math.max(0, (researcher.spent?.() ?? 0) - booked);
      if (proposals.length === 0) {
        const spentOut = config.budget.costUsd !== undefined && (store.study(studyId)?.costUsd ?? 0) + cost >= config.budget.costUsd;
        store.transaction(() => {
          if (cost > 0) store.updateStudy(studyId, { addCostUsd: cost });
          save({ phase: 'validate', stopReason: spentOut ? 'cost' : 'researcher-done', researcher: researcher.state(), askCost: 0, generationProbes: 0 });
        });
        break;
      }
      storeProposals(proposals, cost);
      continue;
    }
    // Phase `evaluate`: the generation's proposals are stored; run, decide, tell.
    const generationStarted = performance.now();
    const candidates = store.candidates(studyId).filter((c) => c.generation === loop.generation);
    const valid = candidates.filter((c) => c.status !== 'invalid');
    const best = store.candidate(candidates[0].parentId!)!;
    const seeds = trainSeeds(config, loop.generation);
    if (valid.length) {
      // Racing: the first half of the seeds for everyone, the rest only for those still in the race.
      if (config.racing) await evaluate([best, ...valid], firstHalf(seeds), 'train', 'search');
      if (aborted()) break;
      await evaluate([best, ...valid.filter((c) => !dropped(best, c, seeds))], seeds, 'train', 'search');
    }
    if (aborted()) break;
    const verdicts = judge(best, candidates, seeds);
    const winner = verdicts.filter((v) => v.beats).sort((a, b) => b.outcome.score - a.outcome.score)[0];
    store.transaction(() => {
      for (const v of verdicts) {
        if (store.candidate(v.candidate.id)!.status !== 'pending') continue;
        const status = v === winner ? 'keep' : v.outcome.status === 'crash' ? 'crash' : 'discard';
        const f = v.figure;
        store.decideCandidate(v.candidate.id, {
          status, scoreMean: finiteOrNull(f.score), scoreStd: finiteOrNull(f.std), successRate: finiteOrNull(f.success_rate), nEpisodes: f.episodes, nCrashes: f.crashes,
          note: status === 'keep' ? undefined : v.outcome.reason, addCostUsd: f.costUsd,
        });
        if (f.costUsd > 0) store.updateStudy(studyId, { addCostUsd: f.costUsd });
      }
      if (winner) store.updateStudy(studyId, { bestCandidate: winner.candidate.id });
    });
    for (const v of verdicts) options.onStored?.({ kind: 'candidate', candidate: v.candidate.id });
    const outcomes = verdicts.map((v) => ({ ...v.outcome, status: v === winner ? ('keep' as const) : v.outcome.status }));
    // The verdicts are stored; a researcher that fails to learn from them stops the run, and a
    // resume tells it again from the state it had after asking.
    await researcher.tell(outcomes);
    save({
      generation: loop.generation + 1,
      phase: 'ask',
      researcher: researcher.state(),
      sinceKept: winner ? 0 : loop.sinceKept + 1,
      lastGenerationSeconds: (performance.now() - generationStarted) / 1000,
    });
    refresh();
    progress('search');
  }
  if (aborted()) return stop();

  // Validation: the best and the baseline on fresh seeds no candidate was trained on.
  const best = incumbent(store, studyId)!;
  const baseline = store.candidates(studyId)[0];
  const validationSeeds = Array.from({ length: config.validation.count }, (_, i) => config.validation.from + i);
  await evaluate([best], validationSeeds, 'validation', 'validation');
  if (aborted()) return stop();
  if (baseline.id !== best.id) await evaluate([baseline], validationSeeds, 'baseline', 'validation');
  if (aborted()) return stop();
  const seedsText = `${config.validation.from}..${config.validation.from + config.validation.count - 1}`;
  const validation = { ...pick(figureOf(store, best.id, validationSeeds, 'validation')), seeds: seedsText };
  const baselineFigure = baseline.id === best.id ? validation : { ...pick(figureOf(store, baseline.id, validationSeeds, 'baseline')), seeds: seedsText };
  save();
  const summary = summarize('done', { validation, baseline: { ...baselineFigure, candidate: baseline.id } });
  store.updateStudy(studyId, { status: 'done', validation: summary.validation, baseline: summary.baseline, summary, stopReason: loop.stopReason });
  store.addEvent(studyId, { kind: 'stop', message: `The search ended: ${describeStop(loop.stopReason)}.`, data: { reason: loop.stopReason } });
  return summary;

  /** Why the search should end now, checked before asking (so a paid researcher is not asked in vain). */
  function stopReason(): StopReason | undefined {
    const candidatesSoFar = store.candidates(studyId).length;
    const batch = researcher.batchSize;
    const b = config.budget;
    if (candidatesSoFar + batch > b.candidates) return 'budget-candidates';
    if (trainEpisodes + loop.probeEpisodes + (batch + 1) * config.seedsPerCandidate > b.episodes) return 'budget-episodes';
    if (elapsed() + loop.lastGenerationSeconds > b.wallTime) return 'wall-time';
    if (b.costUsd !== undefined && (store.study(studyId)?.costUsd ?? 0) >= b.costUsd) return 'cost';
    if (config.patience !== undefined && loop.sinceKept >= config.patience) return 'patience';
    if (config.targetSuccess !== undefined) {
      // Over two generations of seeds at least: one generation's lucky streak is not evidence.
      const best = incumbent(store, studyId);
      const figure = best && figureOf(store, best.id);
      if (figure && figure.episodes >= 2 * config.seedsPerCandidate && figure.success_rate >= config.targetSuccess) return 'target-success';
    }
    return undefined;
  }

  /**
   * Validates and stores a generation's proposals with the researcher's state after asking. `cost`
   * is what the ask spent since its last checkpoint; the candidates share all the ask spent.
   */
  function storeProposals(proposals: Proposal[], cost: number): void {
    const best = incumbent(store, studyId)!;
    const share = (loop.askCost + cost) / proposals.length;
    store.transaction(() => {
      for (const p of proposals) {
        const checked: Checked = p.invalid !== undefined ? { ok: false, reason: p.invalid } : checkProposal(p, scenario, config.kinds);
        const description = checked.ok && checked.policy.kind === 'params' ? describeChange(space, checked.policy.params) : firstLine(p.rationale);
        const c = store.addCandidate(studyId, {
          generation: loop.generation, parentId: best.id, kind: checked.ok ? checked.policy.kind : kindOf(p), body: checked.ok ? checked.policy : jsonSafe(p.body),
          rationale: p.rationale, description, costUsd: share,
          ...(checked.ok ? {} : { status: 'invalid' as const, note: checked.reason }),
        });
        options.onStored?.({ kind: 'candidate', candidate: c.id });
      }
      if (cost > 0) store.updateStudy(studyId, { addCostUsd: cost });
      save({ phase: 'evaluate', researcher: researcher.state(), askCost: 0, generationProbes: 0 });
    });
  }

  /** Verdicts of a generation on paired differences over the shared seeds (common random numbers). */
  function judge(best: CandidateRecord, candidates: CandidateRecord[], seeds: number[]) {
    const bestMean = meanStd(scoresOn(store, best.id, seeds)).mean;
    return candidates.map((candidate) => {
      const proposal = proposalOf(candidate);
      if (candidate.status === 'invalid') {
        const figure = { success_rate: NaN, score: NaN, std: NaN, episodes: 0, crashes: 0, costUsd: 0 };
        return { candidate, figure, beats: false, outcome: invalidOutcome(candidate, proposal, bestMean) };
      }
      const raced = dropped(best, candidate, seeds);
      const ran = raced ? firstHalf(seeds) : seeds;
      const diff = pairedDifference(best, candidate, ran);
      const figure = figureOf(store, candidate.id, ran);
      const crashed = figure.crashes * 2 >= ran.length;
      const outcome = outcomeOf(store, candidate, proposal, ran, raced ? meanStd(scoresOn(store, best.id, ran)).mean : bestMean, crashed ? 'crash' : 'discard');
      if (raced && !crashed) outcome.reason = `dropped after ${ran.length} of ${seeds.length} seeds: clearly worse than the best (racing)`;
      return { candidate, figure, beats: !raced && !crashed && diff.mean > 0 && diff.mean > diff.margin, outcome };
    });
  }

  /** The paired score differences candidate − best over `seeds`, and the margin a difference must clear. */
  function pairedDifference(best: CandidateRecord, candidate: CandidateRecord, seeds: number[]) {
    const bestScores = scoresOn(store, best.id, seeds);
    const diff = meanStd(scoresOn(store, candidate.id, seeds).map((s, k) => s - bestScores[k]));
    return { mean: diff.mean, margin: config.keepMargin * (diff.std / Math.sqrt(seeds.length)) };
  }

  /** Racing: is the candidate worse than the best by the margin after the first half of the seeds? */
  function dropped(best: CandidateRecord, candidate: CandidateRecord, seeds: number[]): boolean {
    if (!config.racing) return false;
    const diff = pairedDifference(best, candidate, firstHalf(seeds));
    return diff.mean < 0 && -diff.mean > diff.margin;
  }

  /** The read-only snapshot a researcher is asked with. */
  function history(): StudyHistory {
    const candidates = store.candidates(studyId);
    const views = candidates.map(viewOf);
    const best = incumbent(store, studyId)!;
    const previous = candidates.filter((c) => c.generation === loop.generation - 1 && loop.generation > 1);
    // The last generation's outcomes as they were told, with the statuses the study decided.
    const last: Outcome[] = previous.length
      ? judge(store.candidate(previous[0].parentId!)!, previous, trainSeeds(config, loop.generation - 1)).map((v) => ({ ...v.outcome, status: v.candidate.status as Outcome['status'] }))
      : [];
    const b = config.budget;
    return Object.freeze({
      scenario,
      generation: loop.generation,
      candidates: Object.freeze(views),
      best: viewOf(best),
      last: Object.freeze(last),
      budget: Object.freeze({
        candidates: b.candidates - candidates.length,
        episodes: b.episodes - trainEpisodes - loop.probeEpisodes,
        seconds: b.wallTime - elapsed(),
        dollars: b.costUsd === undefined ? Infinity : b.costUsd - (store.study(studyId)?.costUsd ?? 0),
      }),
      tools: {
        episodes: (candidate: number, limit = 8) =>
          store.episodes({ candidateId: candidate, split: 'train' }).slice(0, limit).map((e) => storedEvidence(store, scenario, e)),
        probe: async (policy: unknown, seeds: number[]) => {
          const { from, count } = config.validation;
          const bad = seeds.find((s) => !Number.isInteger(s) || s < 0 || s > SEED_MAX || (s >= from && s < from + count));
          if (bad !== undefined) throw new Error(`Probe seed ${bad} is not allowed: use whole numbers in 0..${SEED_MAX} outside the validation seeds ${from}..${from + count - 1}.`);
          if (loop.generationProbes + seeds.length > config.probes) {
            throw new Error(`At most ${config.probes} probe episodes per generation; ${loop.generationProbes} are used, and ${seeds.length} more were asked for.`);
          }
          const resolved = resolvePolicy(policy, scenario, 'probe policy');
          const results = await evaluator.evaluate(seeds.map((seed) => ({ policy: resolved, seed, tag: { candidate: -1, split: 'probe' } })));
          save({ probeEpisodes: loop.probeEpisodes + results.length, generationProbes: loop.generationProbes + results.length });
          return results.map((r) => resultEvidence(scenario, r));
        },
        check: (proposal: Proposal) => {
          const checked = checkProposal(proposal, scenario, config.kinds);
          return checked.ok ? null : checked.reason;
        },
        checkpoint: () => {
          const now = researcher.spent?.() ?? 0;
          const delta = Math.max(0, now - booked);
          booked = now;
          store.transaction(() => {
            if (delta > 0) store.updateStudy(studyId, { addCostUsd: delta });
            save({ researcher: researcher.state(), askCost: loop.askCost + delta });
          });
        },
      },
    });
  }

  function stop(): StudySummary {
    save();
    store.updateStudy(studyId, { status: 'stopped' });
    const why = linkLost !== undefined ? `The link to the robot was lost (${linkLost})` : 'The run was interrupted';
    store.addEvent(studyId, { kind: 'stop', message: `${why}; every finished episode is stored, and resume continues it.` });
    return summarize('stopped', { validation: null, baseline: null });
  }

  function summarize(status: 'done' | 'stopped', figures: Pick<StudySummary, 'validation' | 'baseline'>): StudySummary {
    const best = incumbent(store, studyId);
    const train = best ? pick(figureOf(store, best.id)) : { success_rate: null, score: null, episodes: 0 };
    const policy = best?.body as { kind?: string; params?: Record<string, number> } | undefined;
    return {
      study: studyId,
      status,
      stop_reason: status === 'done' ? loop.stopReason : null,
      ...figures,
      best: { candidate: best?.id ?? -1, kind: best?.kind ?? 'params', params: policy?.params ?? {}, ...train },
      train_episodes: store.episodes({ studyId, split: 'train' }).length,
      candidates: store.candidates(studyId).length,
      wall_time: elapsed(),
      cost_usd: store.study(studyId)?.costUsd ?? 0,
    };
  }
}

/** A sentence for a stop reason. */
export function describeStop(reason: string | null): string {
  if (reason === null) return 'it was interrupted';
  return Object.hasOwn(STOP_REASONS, reason) ? STOP_REASONS[reason as StopReason] : reason;
}

/** Probe episodes a study's researcher has run so far (they count in its episode budget). */
export function probeEpisodes(study: StudyRecord): number {
  return study.researcherState === null ? 0 : LoopState.safeParse(study.researcherState).data?.probeEpisodes ?? 0;
}

function readLoop(study: StudyRecord): LoopState {
  const parsed = LoopState.safeParse(study.researcherState);
  if (!parsed.success) throw new Error(`Study ${study.id} has a saved loop state this arbor cannot read (${parsed.error.issues[0]?.message}); it cannot be resumed.`);
  return parsed.data;
}

/** The training seeds of a generation: consecutive blocks that skip the validation range. */
export function trainSeeds(config: Pick<StudyConfig, 'seedsPerCandidate' | 'validation'>, generation: number): number[] {
  const { from, count } = config.validation;
  return Array.from({ length: config.seedsPerCandidate }, (_, i) => {
    const n = generation * config.seedsPerCandidate + i;
    return n < from ? n : n + count;
  });
}

/** The first half of a generation's seeds (racing's first heat). */
function firstHalf(seeds: number[]): number[] {
  return seeds.slice(0, Math.ceil(seeds.length / 2));
}

/** A proposal checked against the scenario where it enters the study. */
type Checked = { ok: true; policy: PolicyFile } | { ok: false; reason: string };

/** Validates a proposal: an allowed kind whose policy resolves against the scenario (bounds, names, code that compiles). */
export function checkProposal(proposal: Proposal, scenario: LoadedScenario, kinds: readonly string[]): Checked {
  const shape = ProposalShape.safeParse(proposal);
  if (!shape.success) return { ok: false, reason: `The proposal is malformed: ${shape.error.issues.map((i) => `${i.path.join('.') || 'proposal'} ${i.message}`).join('; ')}.` };
  if (!kinds.includes(shape.data.kind)) return { ok: false, reason: `Kind '${shape.data.kind}' is not allowed in this study; allowed: ${kinds.join(', ')}.` };
  try {
    return { ok: true, policy: resolvePolicy({ ...shape.data.body, kind: shape.data.kind }, scenario, 'proposal') };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

const ProposalShape = z.object({
  kind: z.enum(CANDIDATE_KINDS),
  body: z.record(z.string(), z.unknown()),
  rationale: z.string(),
});

/** A stored candidate's policy, checked again on the way out of the store (never trusted by cast). */
function storedPolicy(c: CandidateRecord, scenario: LoadedScenario): PolicyFile {
  return resolvePolicy(c.body, scenario, `candidate ${c.id}`);
}

function proposalOf(c: CandidateRecord): Proposal {
  const body = { ...(c.body as Record<string, unknown>) };
  delete body.kind;
  return { kind: c.kind, body, rationale: c.rationale };
}

function kindOf(p: Proposal): CandidateRecord['kind'] {
  return (CANDIDATE_KINDS as readonly string[]).includes(p.kind) ? p.kind : 'params';
}

/** A value the store can hold (a malformed proposal's body is kept as text when it is not JSON). */
function jsonSafe(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null)) ?? null;
  } catch {
    return String(value);
  }
}

function firstLine(text: string): string {
  const line = text.split('\n')[0].trim();
  return line.length > 80 ? `${line.slice(0, 77)}...` : line || '(no rationale)';
}

function viewOf(c: CandidateRecord): CandidateView {
  return Object.freeze({
    id: c.id, generation: c.generation, kind: c.kind, policy: c.body, rationale: c.rationale, description: c.description,
    status: c.status, score: c.scoreMean, successRate: c.successRate, note: c.note,
  });
}

function invalidOutcome(c: CandidateRecord, proposal: Proposal, bestScore: number): Outcome {
  return { candidate: c.id, proposal, status: 'invalid', score: 0, successRate: 0, terms: {}, metrics: {}, outcomes: {}, reason: c.note ?? 'invalid', bestScore };
}

/** A candidate's outcome on some seeds: means of its scores, terms and numeric metrics, outcome counts, crash reasons. */
function outcomeOf(store: Store, c: CandidateRecord, proposal: Proposal, seeds: number[], bestScore: number, status: Outcome['status']): Outcome {
  const wanted = new Set(seeds);
  const episodes = store.episodes({ candidateId: c.id, split: 'train' }).filter((e) => wanted.has(e.seed));
  const scores = seeds.map((s) => episodes.find((e) => e.seed === s)?.score ?? 0);
  const outcomes: Record<string, number> = {};
  for (const e of episodes) outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
  const crashes = [...new Set(episodes.filter((e) => e.status === 'crash').map((e) => e.crashReason ?? 'crash'))];
  return {
    candidate: c.id,
    proposal,
    status,
    score: meanStd(scores).mean,
    successRate: episodes.length ? episodes.filter((e) => e.success).length / episodes.length : 0,
    terms: meanOf(episodes.map((e) => e.terms)),
    metrics: meanOf(episodes.map((e) => e.metrics)),
    outcomes,
    ...(crashes.length ? { reason: crashes.slice(0, 3).join(' | ') } : {}),
    bestScore,
  };
}

/** Per-key means of the numeric values of several records. */
function meanOf(records: readonly Readonly<Record<string, unknown>>[]): Record<string, number> {
  const sums = new Map<string, { total: number; n: number }>();
  for (const r of records) {
    for (const [k, v] of Object.entries(r)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      const s = sums.get(k) ?? { total: 0, n: 0 };
      s.total += v;
      s.n++;
      sums.set(k, s);
    }
  }
  return Object.fromEntries([...sums].map(([k, s]) => [k, s.total / s.n]));
}

/** Stores a finished episode; false when it was already stored (a resumed duplicate). */
function recordResult(store: Store, studyId: string, r: EpisodeResult, split: 'train' | 'validation' | 'baseline'): boolean {
  const { candidate } = r.job.tag as { candidate: number };
  if (r.ok) {
    return !!store.recordEpisode({
      studyId, candidateId: candidate, split, seed: r.seed, status: 'ok', success: r.success, score: r.score,
      outcome: r.outcome, metrics: r.metrics, terms: r.terms, trace: r.trace, wallTime: r.wallTime,
    });
  }
  return !!store.recordEpisode({
    studyId, candidateId: candidate, split, seed: r.seed, status: 'crash', success: false, score: null,
    outcome: 'crash', metrics: {}, terms: {}, wallTime: r.wallTime, crashReason: r.reason,
  });
}

/** Scores of a candidate on the given seeds, in seed order; a crash scores 0. */
function scoresOn(store: Store, candidateId: number, seeds: number[]): number[] {
  const bySeed = new Map(store.episodes({ candidateId, split: 'train' }).map((e) => [e.seed, e.score ?? 0]));
  return seeds.map((s) => bySeed.get(s) ?? 0);
}

function figureOf(store: Store, candidateId: number, seeds?: number[], split: 'train' | 'validation' | 'baseline' = 'train') {
  const wanted = seeds ? new Set(seeds) : undefined;
  // In seed order: episodes are stored as they finish, and a sum in finishing order would differ in
  // its last bit between a resumed study and an uninterrupted one.
  const episodes = store.episodes({ candidateId, split }).filter((e) => !wanted || wanted.has(e.seed)).sort((a, b) => a.seed - b.seed);
  const scores = episodes.map((e) => e.score ?? 0);
  const { mean, std } = meanStd(scores);
  const cost = episodes.reduce((total, e) => total + (typeof e.metrics.cost_usd === 'number' ? e.metrics.cost_usd : 0), 0);
  return {
    success_rate: episodes.length ? episodes.filter((e) => e.success).length / episodes.length : NaN,
    score: mean,
    std,
    episodes: episodes.length,
    crashes: episodes.filter((e) => e.status === 'crash').length,
    costUsd: cost,
  };
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** A figure with NaN (no episodes) stored as null: JSON cannot hold NaN. */
function pick(f: { success_rate: number; score: number; episodes: number }): Figure {
  return { success_rate: finiteOrNull(f.success_rate), score: finiteOrNull(f.score), episodes: f.episodes };
}
