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
import { baselinePolicy, resolvePolicy } from '../policy/policy.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { SEED_MAX } from '../scenario/schema.ts';
import type { CandidateRecord, StudyRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { EpisodeJob, EpisodeResult, Evaluator } from '../evaluation/evaluator.ts';
import { resultEvidence, storedEvidence } from './evidence.ts';
import { checkProposal, firstLine, jsonSafe, kindOf, storedPolicy, viewOf, type Checked } from './proposals.ts';
import { describeChange, spaceOf, type Outcome, type Proposal, type Researcher, type StudyHistory } from '../researchers/researcher.ts';
import { createResearcher } from '../researchers/registry.ts';
import { describeStop, StudyConfig, studyConfigOf, trainSeeds, type StopReason, type StudySummary } from './config.ts';
import { finiteOrNull, firstHalf, Judge, pick } from './judge.ts';

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
  /** Training episodes behind the best candidate's figures (for the rate's interval). */
  bestEpisodes: number;
  /** What the loop is doing. */
  phase: 'baseline' | 'ask' | 'search' | 'validation';
  /** Seconds since this run (not the study) started. */
  elapsed: number;
  /** Dollars spent by the study so far. */
  costUsd: number;
}

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
  // Checked like any proposal: a baseline that cannot run (an unpriced model) stops here.
  const baseline = resolvePolicy(baselinePolicy(scenario), scenario, `${scenario.file} (the baseline policy)`);
  return store.transaction(() => {
    const study = store.createStudy({ scenarioPath: scenario.file, scenarioName: scenario.name, researcher: checked.researcher, config: checked });
    store.addCandidate(study.id, {
      generation: 0, parentId: null, kind: baseline.kind, body: baseline, rationale: 'the scenario defaults (baseline)', description: 'baseline: scenario defaults',
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
  const judge = new Judge(store, config);
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
  let bestFigure = { score: NaN, success_rate: NaN, episodes: 0 };
  const refresh = () => {
    candidateCount = store.candidates(studyId).length;
    const best = incumbent(store, studyId);
    if (best) bestFigure = judge.figure(best.id);
  };
  const progress = (phase: StudyProgress['phase']) => {
    options.onProgress?.({
      episodes: trainEpisodes,
      candidates: candidateCount,
      generation: loop.generation,
      bestScore: bestFigure.score,
      bestSuccess: bestFigure.success_rate,
      bestEpisodes: bestFigure.episodes,
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
    const figure = judge.figure(baseline.id);
    store.transaction(() => {
      if (store.candidate(baseline.id)!.status === 'pending') {
        store.decideCandidate(baseline.id, { status: 'keep', scoreMean: figure.score, scoreStd: figure.std, successRate: figure.success_rate, nEpisodes: figure.episodes, nCrashes: figure.crashes, addCostUsd: figure.costUsd });
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
      await evaluate([best, ...valid.filter((c) => !judge.dropped(best, c, seeds))], seeds, 'train', 'search');
    }
    if (aborted()) break;
    const verdicts = judge.judge(best, candidates, seeds);
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
  const validated = judge.figure(best.id, validationSeeds, 'validation');
  const validation = { ...pick(validated), seeds: seedsText };
  const baselineValidated = baseline.id === best.id ? undefined : judge.figure(baseline.id, validationSeeds, 'baseline');
  const baselineFigure = baselineValidated ? { ...pick(baselineValidated), seeds: seedsText } : validation;
  save();
  const summary = store.transaction(() => {
    const done = summarize('done', { validation, baseline: { ...baselineFigure, candidate: baseline.id } });
    store.updateStudy(studyId, { status: 'done', validation: done.validation, baseline: done.baseline, summary: done, stopReason: loop.stopReason });
    return done;
  });
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
      const figure = best && judge.figure(best.id);
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

  /** The read-only snapshot a researcher is asked with. */
  function history(): StudyHistory {
    const candidates = store.candidates(studyId);
    const views = candidates.map(viewOf);
    const best = incumbent(store, studyId)!;
    const previous = candidates.filter((c) => c.generation === loop.generation - 1 && loop.generation > 1);
    // The last generation's outcomes as they were told, with the statuses the study decided.
    const last: Outcome[] = previous.length
      ? judge.judge(store.candidate(previous[0].parentId!)!, previous, trainSeeds(config, loop.generation - 1)).map((v) => ({ ...v.outcome, status: v.candidate.status as Outcome['status'] }))
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
          const probeCost = results.reduce((sum, r) => sum + (r.ok && typeof r.metrics.cost_usd === 'number' ? r.metrics.cost_usd : 0), 0);
          store.transaction(() => {
            if (probeCost > 0) store.updateStudy(studyId, { addCostUsd: probeCost });
            save({ probeEpisodes: loop.probeEpisodes + results.length, generationProbes: loop.generationProbes + results.length });
          });
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
    const train = best ? pick(judge.figure(best.id)) : { success_rate: null, score: null, episodes: 0 };
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

/** Probe episodes a study's researcher has run so far (they count in its episode budget). */
export function probeEpisodes(study: StudyRecord): number {
  return study.researcherState === null ? 0 : LoopState.safeParse(study.researcherState).data?.probeEpisodes ?? 0;
}

function readLoop(study: StudyRecord): LoopState {
  const parsed = LoopState.safeParse(study.researcherState);
  if (!parsed.success) throw new Error(`Study ${study.id} has a saved loop state this arbor cannot read (${parsed.error.issues[0]?.message}); it cannot be resumed.`);
  return parsed.data;
}

/**
 * Stores a finished episode, and books what it spent to the study with it; false when it was
 * already stored (a resumed duplicate).
 */
function recordResult(store: Store, studyId: string, r: EpisodeResult, split: 'train' | 'validation' | 'baseline'): boolean {
  const { candidate } = r.job.tag as { candidate: number };
  if (r.ok) {
    const spent = r.metrics.cost_usd;
    return !!store.recordEpisode(
      {
        studyId, candidateId: candidate, split, seed: r.seed, status: 'ok', success: r.success, score: r.score,
        outcome: r.outcome, metrics: r.metrics, terms: r.terms, trace: r.trace, wallTime: r.wallTime,
      },
      { studyCostUsd: typeof spent === 'number' && Number.isFinite(spent) && spent > 0 ? spent : 0 },
    );
  }
  return !!store.recordEpisode({
    studyId, candidateId: candidate, split, seed: r.seed, status: 'crash', success: false, score: null,
    outcome: 'crash', metrics: {}, terms: {}, wallTime: r.wallTime, crashReason: r.reason,
  });
}

