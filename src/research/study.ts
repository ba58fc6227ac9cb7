/**
 * The study loop: the autoresearch cycle for robots.
 *
 *   baseline → repeat { ask the researcher → evaluate every candidate and the incumbent best on
 *   this generation's seeds → keep a candidate only if it beats the best by more than the noise
 *   → tell the researcher → persist } until the budget ends → validate the best on fresh seeds.
 *
 * Every finished episode is in the store before the loop looks at it, so a crash or a kill loses
 * nothing finished, and `resume` continues from the store.
 */
import type { PolicyFile } from '../policy/policy.ts';
import { defaultPolicy } from '../policy/policy.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { CandidateRecord, StudyRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { CmaesResearcher } from './cmaes-researcher.ts';
import type { EpisodeJob, EpisodeResult, EvaluatorPool } from './pool.ts';
import { RandomResearcher } from './random.ts';
import { describeChange, spaceOf, type Researcher } from './researcher.ts';
import { meanStd } from './stats.ts';

/** How a study runs; stored with it so `resume` runs it the same way. */
export interface StudyConfig {
  /** `cmaes` or `random`. */
  researcher: 'cmaes' | 'random';
  /** Seed of the researcher's random stream. */
  seed: number;
  /** Candidates per generation for random search (CMA-ES uses its λ). */
  batch: number;
  /** Episodes per candidate per generation (shared by the generation). */
  seedsPerCandidate: number;
  /** Stop before starting a generation that would pass any of these. */
  budget: { candidates: number; episodes: number; wallTime: number };
  /** Fresh seeds for the final validation; training never uses them. */
  validation: { from: number; count: number };
  /** Standard errors by which a candidate must beat the best to replace it. */
  keepMargin: number;
}

export function defaultStudyConfig(scenario: LoadedScenario, overrides: Partial<StudyConfig> = {}): StudyConfig {
  const b = scenario.budget;
  return {
    researcher: 'cmaes',
    seed: 1,
    batch: 8,
    seedsPerCandidate: b.seeds_per_candidate,
    budget: { candidates: b.candidates, episodes: b.episodes, wallTime: b.wall_time },
    validation: b.validation_seeds,
    keepMargin: 2,
    ...overrides,
  };
}

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
  phase: 'baseline' | 'search' | 'validation';
  /** Seconds since this run (not the study) started. */
  elapsed: number;
}

/** One scored figure: a success rate and a mean score over a number of episodes. */
export interface Figure {
  /** Fraction of successful episodes. */
  success_rate: number;
  /** Mean episode score. */
  score: number;
  /** Episodes behind the figure. */
  episodes: number;
}

/** What a finished (or stopped) run reports. */
export interface StudySummary {
  /** Study id. */
  study: string;
  /** `done`, or `stopped` when interrupted (resume it). */
  status: 'done' | 'stopped';
  /** The defaults on the validation seeds (null until validation ran). */
  baseline: (Figure & { candidate: number }) | null;
  /** The best candidate on its training episodes. */
  best: Figure & { candidate: number; params: Record<string, number> };
  /** The best candidate on the validation seeds: the figure to report (null until it ran). */
  validation: (Figure & { seeds: string }) | null;
  /** Training episodes in the store. */
  train_episodes: number;
  /** Candidates in the store. */
  candidates: number;
  /** Wall-clock seconds over all runs of the study. */
  wall_time: number;
}

/** State saved after every generation. */
interface LoopState {
  /** The next generation to run. */
  generation: number;
  /** The researcher's own state, as of before asking `generation`. */
  researcher: unknown;
  /** Wall-clock seconds spent in earlier runs and finished generations. */
  elapsed: number;
}

export interface RunOptions {
  /** Aborting finishes the episodes in flight, stores them, and stops (resume continues). */
  signal?: AbortSignal;
  /** Called as episodes finish. */
  onProgress?: (p: StudyProgress) => void;
  /** A researcher to use instead of the one the config names (tests, LLM researchers); it must resume from `state`. */
  researcher?: (state: unknown) => Researcher;
  /** Called when a candidate or an episode is stored (the live dashboard refreshes on it). */
  onStored?: (event: { kind: 'candidate' | 'episode'; candidate: number; seed?: number }) => void;
}

/** Creates a study record for a scenario. */
export function createStudy(store: Store, scenario: LoadedScenario, config: StudyConfig): StudyRecord {
  return store.createStudy({ scenarioPath: scenario.file, scenarioName: scenario.name, researcher: config.researcher, config });
}

/** Runs (or resumes) a study until its budget ends or `signal` aborts. */
export async function runStudy(store: Store, studyId: string, scenario: LoadedScenario, pool: EvaluatorPool, options: RunOptions = {}): Promise<StudySummary> {
  const study = store.study(studyId);
  if (!study) throw new Error(`No study '${studyId}' in ${store.path}; list them with 'arbor studies'.`);
  const config = study.config as unknown as StudyConfig;
  const space = spaceOf(scenario.policy.params);
  const saved = study.researcherState as unknown as LoopState | null;
  const researcher = options.researcher?.(saved?.researcher) ?? makeResearcher(config, space, saved?.researcher);
  const started = performance.now();
  const elapsedBefore = saved?.elapsed ?? 0;
  const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;
  let generation = saved?.generation ?? 0;
  let lastGenerationSeconds = 0;
  store.updateStudy(studyId, { status: 'running' });

  // Progress is reported after every episode, so it reads counters, not the store: the training
  // episode count is kept here, and the candidate count and best figure refresh per batch.
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
      generation,
      bestScore: bestFigure.score,
      bestSuccess: bestFigure.success_rate,
      phase,
      elapsed: (performance.now() - started) / 1000,
    });
  };
  const evaluate = async (candidates: CandidateRecord[], seeds: number[], split: 'train' | 'validation' | 'baseline', phase: StudyProgress['phase']) => {
    const jobs: EpisodeJob[] = [];
    for (const c of candidates) {
      const done = new Set(store.episodes({ candidateId: c.id, split }).map((e) => e.seed));
      for (const seed of seeds) if (!done.has(seed)) jobs.push({ policy: c.body as unknown as PolicyFile, seed, tag: { candidate: c.id, split } });
    }
    if (jobs.length === 0) return;
    refresh();
    progress(phase);
    await pool.evaluate(jobs, (result) => {
      if (!result.ok && result.reason === 'cancelled') return;
      if (recordResult(store, studyId, result, split) && split === 'train') trainEpisodes++;
      const { candidate } = result.job.tag as { candidate: number };
      options.onStored?.({ kind: 'episode', candidate, seed: result.seed });
      progress(phase);
    });
  };
  const aborted = () => options.signal?.aborted === true;
  options.signal?.addEventListener('abort', () => pool.drain(), { once: true });

  // Generation 0: the scenario defaults are the baseline and the first best.
  if (generation === 0) {
    const baseline = store.candidates(studyId)[0] ?? addCandidate(store, studyId, options, {
      generation: 0, parentId: null, kind: 'params', body: defaultPolicy(scenario), rationale: 'the scenario defaults (baseline)', description: 'baseline: scenario defaults',
    });
    await evaluate([baseline], trainSeeds(config, 0), 'train', 'baseline');
    if (aborted()) return stop();
    const figure = figureOf(store, baseline.id);
    store.decideCandidate(baseline.id, { status: 'keep', scoreMean: figure.score, scoreStd: figure.std, successRate: figure.success_rate, nEpisodes: figure.episodes, nCrashes: figure.crashes });
    generation = 1;
    saveLoop();
  }

  while (!aborted()) {
    const candidatesSoFar = store.candidates(studyId).length;
    const proposals = researcher.ask();
    const perGeneration = (proposals.length + 1) * config.seedsPerCandidate;
    if (candidatesSoFar + proposals.length > config.budget.candidates) break;
    if (trainEpisodes + perGeneration > config.budget.episodes) break;
    if (elapsed() + lastGenerationSeconds > config.budget.wallTime) break;

    const generationStarted = performance.now();
    const best = incumbent(store, studyId)!;
    // Resume: the proposals of an interrupted generation are already stored, pending, in order.
    const pending = store.candidates(studyId).filter((c) => c.generation === generation && c.status === 'pending');
    const candidates = proposals.map((p, i) =>
      pending[i] ?? addCandidate(store, studyId, options, {
        generation, parentId: best.id, kind: 'params', body: { kind: 'params', params: p.params }, rationale: p.rationale,
        description: describeChange(space, p.params),
      }),
    );
    const seeds = trainSeeds(config, generation);
    await evaluate([best, ...candidates], seeds, 'train', 'search');
    if (aborted()) break;

    // Keep/discard on paired differences over the shared seeds (common random numbers).
    const bestScores = scoresOn(store, best.id, seeds);
    const verdicts = candidates.map((c) => {
      const scores = scoresOn(store, c.id, seeds);
      const diff = meanStd(scores.map((s, i) => s - bestScores[i]));
      const margin = config.keepMargin * (diff.std / Math.sqrt(seeds.length));
      const figure = figureOf(store, c.id, seeds);
      return { c, mean: meanStd(scores).mean, beats: diff.mean > 0 && diff.mean > margin, figure, scores };
    });
    researcher.tell(verdicts.map((v, i) => ({ proposal: proposals[i], score: v.mean })));
    const winner = verdicts.filter((v) => v.beats && v.figure.crashes * 2 < seeds.length).sort((a, b) => b.mean - a.mean)[0];
    for (const v of verdicts) {
      const status = v.figure.crashes * 2 >= seeds.length ? 'crash' : v === winner ? 'keep' : 'discard';
      store.decideCandidate(v.c.id, { status, scoreMean: v.mean, scoreStd: v.figure.std, successRate: v.figure.success_rate, nEpisodes: v.figure.episodes, nCrashes: v.figure.crashes });
      options.onStored?.({ kind: 'candidate', candidate: v.c.id });
    }
    if (winner) store.updateStudy(studyId, { bestCandidate: winner.c.id });
    lastGenerationSeconds = (performance.now() - generationStarted) / 1000;
    generation++;
    saveLoop();
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
  const validation = { ...figureOf(store, best.id, validationSeeds, 'validation'), seeds: seedsText };
  const baselineFigure = baseline.id === best.id ? validation : { ...figureOf(store, baseline.id, validationSeeds, 'baseline'), seeds: seedsText };
  saveLoop();
  const summary = summarize('done', { validation: { ...pick(validation), seeds: seedsText }, baseline: { ...pick(baselineFigure), candidate: baseline.id } });
  store.updateStudy(studyId, { status: 'done', validation: summary.validation, baseline: summary.baseline, summary });
  return summary;

  function saveLoop(): void {
    const state: LoopState = { generation, researcher: researcher.state(), elapsed: elapsed() };
    store.updateStudy(studyId, { researcherState: state });
  }
  function stop(): StudySummary {
    const state: LoopState = { generation, researcher: researcher.state(), elapsed: elapsed() };
    store.updateStudy(studyId, { status: 'stopped', researcherState: state });
    return summarize('stopped', { validation: null, baseline: null });
  }
  function summarize(status: 'done' | 'stopped', figures: Pick<StudySummary, 'validation' | 'baseline'>): StudySummary {
    const best = incumbent(store, studyId);
    const train = best ? figureOf(store, best.id) : { success_rate: NaN, score: NaN, episodes: 0 };
    return {
      study: studyId,
      status,
      ...figures,
      best: { candidate: best?.id ?? -1, params: ((best?.body as unknown as PolicyFile | undefined)?.params ?? {}), ...pick(train) },
      train_episodes: store.episodes({ studyId, split: 'train' }).length,
      candidates: store.candidates(studyId).length,
      wall_time: elapsed(),
    };
  }
}

function makeResearcher(config: StudyConfig, space: ReturnType<typeof spaceOf>, state: unknown): Researcher {
  switch (config.researcher) {
    case 'cmaes':
      return new CmaesResearcher(space, config.seed, state);
    case 'random':
      return new RandomResearcher(space, config.batch, config.seed, state);
    default:
      throw new Error(`Unknown researcher '${String(config.researcher)}'; use cmaes or random.`);
  }
}

/** The training seeds of a generation: consecutive blocks that skip the validation range. */
export function trainSeeds(config: StudyConfig, generation: number): number[] {
  const { from, count } = config.validation;
  return Array.from({ length: config.seedsPerCandidate }, (_, i) => {
    const n = generation * config.seedsPerCandidate + i;
    return n < from ? n : n + count;
  });
}

function addCandidate(store: Store, studyId: string, options: RunOptions, input: Parameters<Store['addCandidate']>[1]): CandidateRecord {
  const c = store.addCandidate(studyId, input);
  options.onStored?.({ kind: 'candidate', candidate: c.id });
  return c;
}

/** Stores a finished episode; false when it was already stored (a resumed duplicate). */
function recordResult(store: Store, studyId: string, r: EpisodeResult, split: 'train' | 'validation' | 'baseline'): boolean {
  const { candidate } = r.job.tag as { candidate: number };
  if (r.ok) {
    return !!store.recordEpisode({
      studyId, candidateId: candidate, split, seed: r.seed, status: 'ok', success: r.success, score: r.score,
      outcome: r.metrics.outcome, metrics: r.metrics, breakdown: r.breakdown, trace: r.trace, wallTime: r.wallTime,
    });
  }
  return !!store.recordEpisode({
    studyId, candidateId: candidate, split, seed: r.seed, status: 'crash', success: false, score: null,
    outcome: 'crash', metrics: {}, breakdown: {}, wallTime: r.wallTime, crashReason: r.reason,
  });
}

/** The current best: the study's best candidate, or the baseline before anything beat it. */
function incumbent(store: Store, studyId: string): CandidateRecord | undefined {
  const study = store.study(studyId)!;
  return study.bestCandidate !== null ? store.candidate(study.bestCandidate) : store.candidates(studyId)[0];
}

/** Scores of a candidate on the given seeds, in seed order; a crash scores 0. */
function scoresOn(store: Store, candidateId: number, seeds: number[]): number[] {
  const bySeed = new Map(store.episodes({ candidateId, split: 'train' }).map((e) => [e.seed, e.score ?? 0]));
  return seeds.map((s) => bySeed.get(s) ?? 0);
}

function figureOf(store: Store, candidateId: number, seeds?: number[], split: 'train' | 'validation' | 'baseline' = 'train') {
  const wanted = seeds ? new Set(seeds) : undefined;
  const episodes = store.episodes({ candidateId, split }).filter((e) => !wanted || wanted.has(e.seed));
  const scores = episodes.map((e) => e.score ?? 0);
  const { mean, std } = meanStd(scores);
  return {
    success_rate: episodes.length ? episodes.filter((e) => e.success).length / episodes.length : NaN,
    score: mean,
    std,
    episodes: episodes.length,
    crashes: episodes.filter((e) => e.status === 'crash').length,
  };
}

function pick<T extends Figure>(f: T): Figure {
  return { success_rate: f.success_rate, score: f.score, episodes: f.episodes };
}
