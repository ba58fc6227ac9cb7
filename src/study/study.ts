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
 *
 * A robust study (`config.robust`) runs every training episode in its seed's world drawn at the
 * robust tier (domain randomization, the same world for the same seed, every candidate paired on
 * it), and validates the best both in the nominal world and at that tier on the same seeds.
 *
 * `Study` is that loop with its steps as methods (`ask`, `evaluate`, `decide`, `tell`, `validate`),
 * so a caller outside (a test, an MCP client) can drive it step by step; `run` is the header above.
 * The `Ledger` writes every row; the `Judge` and the stop rule are pure.
 */
import { baselinePolicy, resolvePolicy } from '../policy/file.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { SEED_MAX } from '../scenario/schema.ts';
import type { CandidateRecord, StudyRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { EpisodeJob, Evaluator } from '../evaluation/evaluator.ts';
import type { AxisValue } from '../scenario/perturbation.ts';
import type { Split } from '../store/schema.ts';
import { drawValues, tierFraction } from '../scenario/perturbation-draw.ts';
import { resultEvidence } from './evidence.ts';
import { checkProposal, firstLine, jsonSafe, kindOf, storedPolicy, viewOf, type Checked } from './proposals.ts';
import { describeChange, spaceOf, type Outcome, type Proposal, type ResearchTools, type Researcher, type Space, type StudyHistory } from '../researchers/researcher.ts';
import { createResearcher } from '../researchers/registry.ts';
import { describeStop, StudyConfig, studyConfigOf, trainSeeds, type StudySummary } from './config.ts';
import { figureOf, finiteOrNull, firstHalf, Judge, pick, type CandidateFigure, type Verdict } from './judge.ts';
import { Ledger } from './ledger.ts';
import { loopOf, type LoopState } from './loop.ts';
import { stopReason } from './stop.ts';

export { probeEpisodes } from './loop.ts';

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

export interface RunOptions {
  /** Aborting finishes the episodes in flight, stores them, and stops (resume continues). */
  signal?: AbortSignal;
  /** Called as episodes finish. */
  onProgress?: (p: StudyProgress) => void;
  /** A researcher to use instead of the one the config names (tests); it must resume from `state`. */
  researcher?: (state: unknown) => Researcher;
  /** Called when a candidate or an episode is stored (the live dashboard refreshes on it). */
  onStored?: (event: { kind: 'candidate' | 'episode'; candidate: number; seed?: number }) => void;
  /** The study's config as the caller already parsed it, where it made the study or read it back (absent: read from the store). */
  config?: StudyConfig;
}

/**
 * Creates a study record for a scenario, with its baseline candidate. `config` was parsed where it
 * was made (`parseStudyConfig`, `defaultStudyConfig`) and is stored as it is. Refuses a budget too
 * small for the baseline generation, so no study starts that could only break its budget.
 */
export function createStudy(store: Store, scenario: LoadedScenario, checked: StudyConfig): StudyRecord {
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

/** The current best of a stored study: its best candidate, or the baseline before anything beat it. */
export function incumbent(store: Store, studyId: string): CandidateRecord | undefined {
  const study = store.study(studyId);
  if (!study) return undefined;
  return study.bestCandidate !== null ? store.candidate(study.bestCandidate) : store.candidates(studyId)[0];
}

/** Runs (or resumes) a study until its budget ends or `signal` aborts. */
export async function runStudy(store: Store, studyId: string, scenario: LoadedScenario, evaluator: Evaluator, options: RunOptions = {}): Promise<StudySummary> {
  return (await Study.open(store, studyId, scenario, evaluator, options)).run();
}

type Phase = StudyProgress['phase'];
const NO_FIGURE: CandidateFigure = { success_rate: NaN, score: NaN, std: NaN, episodes: 0, crashes: 0, costUsd: 0 };

export class Study {
  private readonly started = performance.now();
  private readonly elapsedBefore: number;
  private readonly space: Space;
  /** Why the evaluator could not finish an episode even after reconnecting (the robot is gone). */
  private linkLost: string | undefined;
  /** The researcher's spending already booked to the study during the ask in progress. */
  private booked = 0;
  /** When the generation in progress began evaluating. */
  private generationStarted = performance.now();
  /** The best's training figures, refreshed whenever its episodes are read. */
  private bestFigure: CandidateFigure = NO_FIGURE;
  /** The last generation's outcomes as told (undefined after a resume until they are judged again). */
  private lastTold: readonly Outcome[] | undefined;
  /** A robust study's world of a seed at its tier (undefined: every episode in the nominal world). */
  private readonly tierWorld: ((seed: number) => AxisValue[]) | undefined;

  private constructor(
    private readonly ledger: Ledger,
    private readonly scenario: LoadedScenario,
    private readonly evaluator: Evaluator,
    private readonly config: StudyConfig,
    private readonly researcher: Researcher,
    private readonly loop: LoopState,
    private readonly options: RunOptions,
  ) {
    this.elapsedBefore = loop.elapsed;
    this.space = spaceOf(scenario.policy.params);
    const robust = config.robust;
    if (robust) {
      const fraction = tierFraction(robust.perturbations, robust.tier);
      this.tierWorld = (seed) => drawValues(robust.perturbations, fraction, seed);
    }
    options.signal?.addEventListener('abort', () => evaluator.drain(), { once: true });
  }

  /** Opens a stored study to run or resume, with its researcher restored from the saved state. */
  static async open(store: Store, studyId: string, scenario: LoadedScenario, evaluator: Evaluator, options: RunOptions = {}): Promise<Study> {
    const ledger = Ledger.open(store, studyId);
    const config = options.config ?? studyConfigOf(ledger.stored);
    const loop = loopOf(ledger.stored);
    const researcher = options.researcher?.(loop.researcher) ?? (await createResearcher(config.researcher, { space: spaceOf(scenario.policy.params), config, scenario, state: loop.researcher }));
    const study = new Study(ledger, scenario, evaluator, config, researcher, loop, options);
    ledger.start();
    const best = ledger.incumbent;
    study.bestFigure = figureOf(ledger.episodes([best], 'train').get(best.id) ?? []);
    return study;
  }

  /** The header's steps: baseline, generations while the budget lasts, validation. */
  async run(): Promise<StudySummary> {
    await this.baseline();
    while (this.loop.phase !== 'validate' && !this.aborted) {
      if (this.loop.phase === 'ask') {
        await this.ask();
        continue;
      }
      await this.evaluate();
      if (this.aborted) break;
      await this.tell(this.decide());
    }
    return this.aborted ? this.stop() : this.validate();
  }

  /** Aborted, or the link to the robot is lost: stop here, resumable, rather than judge on episodes that never ran. */
  get aborted(): boolean {
    return this.options.signal?.aborted === true || this.linkLost !== undefined;
  }

  /** Generation 0: the scenario defaults are the baseline and the first best (nothing to do once it is decided). */
  async baseline(): Promise<void> {
    if (this.loop.generation !== 0) return;
    const baseline = this.ledger.baseline;
    await this.episodes([baseline], trainSeeds(this.config, 0), 'train', 'baseline');
    if (this.aborted) return;
    const figure = figureOf(this.ledger.episodes([baseline], 'train').get(baseline.id) ?? []);
    this.bestFigure = figure;
    const decision = { status: 'keep' as const, scoreMean: figure.score, scoreStd: figure.std, successRate: figure.success_rate, nEpisodes: figure.episodes, nCrashes: figure.crashes, addCostUsd: figure.costUsd };
    this.ledger.decide([{ candidate: baseline.id, decision }], undefined, this.save({ generation: 1, phase: 'ask', researcher: this.researcher.state() }));
  }

  /**
   * Checks the budget, asks the researcher and stores its proposals with its state after asking;
   * returns the new generation's candidates, or none when the search ended (the phase is then
   * `validate`).
   */
  async ask(): Promise<readonly CandidateRecord[]> {
    const reason = stopReason(this.budgetView(), this.config);
    if (reason) {
      this.ledger.checkpoint(this.save({ phase: 'validate', stopReason: reason }));
      return [];
    }
    this.progress('ask');
    this.booked = this.researcher.spent?.() ?? 0;
    const proposals = await this.researcher.ask(this.history());
    const cost = Math.max(0, (this.researcher.spent?.() ?? 0) - this.booked);
    if (proposals.length === 0) {
      const spentOut = this.config.budget.costUsd !== undefined && this.ledger.costUsd + cost >= this.config.budget.costUsd;
      this.ledger.book(cost, this.save({ phase: 'validate', stopReason: spentOut ? 'cost' : 'researcher-done', researcher: this.researcher.state(), askCost: 0, generationProbes: 0 }));
      return [];
    }
    return this.propose(proposals, cost);
  }

  /**
   * Runs the generation's valid candidates and the best on the generation's seeds. Racing: the
   * first half of the seeds for everyone, the rest only for those still in the race.
   */
  async evaluate(generation = this.loop.generation): Promise<void> {
    this.generationStarted = performance.now();
    const candidates = this.ledger.generation(generation);
    const valid = candidates.filter((c) => c.status !== 'invalid');
    if (!valid.length) return;
    const best = this.ledger.candidate(candidates[0].parentId!);
    const seeds = trainSeeds(this.config, generation);
    const racing = this.config.racing;
    if (racing) await this.episodes([best, ...valid], firstHalf(seeds), 'train', 'search');
    if (this.aborted) return;
    const heat = racing ? new Judge(this.config, this.ledger.episodes([best, ...valid], 'train')) : undefined;
    await this.episodes([best, ...valid.filter((c) => !heat?.dropped(best, c, seeds))], seeds, 'train', 'search');
    if (this.aborted || this.config.keepIf !== 'no_tier_regresses') return;
    // No tier regresses: those that beat the best on the mean, and the best, in the nominal world too.
    const contenders = new Judge(this.config, this.ledger.episodes([best, ...valid], 'train')).contenders(best, valid, seeds);
    if (contenders.length) await this.episodes([best, ...contenders], seeds, 'train_nominal', 'search');
  }

  /** Judges the generation on one read of its episodes, stores the verdicts, and returns what the researcher is told. */
  decide(): Outcome[] {
    const candidates = this.ledger.generation(this.loop.generation);
    const best = this.ledger.candidate(candidates[0].parentId!);
    const judge = this.judgeOf([best, ...candidates]);
    const verdicts = judge.judge(best, candidates, trainSeeds(this.config, this.loop.generation));
    const winner = verdicts.filter((v) => v.beats).sort((a, b) => b.outcome.score - a.outcome.score)[0];
    this.ledger.decide(verdicts.map((v) => decisionOf(v, v === winner)), winner?.candidate.id);
    this.bestFigure = judge.figure(this.ledger.incumbent.id);
    for (const v of verdicts) this.options.onStored?.({ kind: 'candidate', candidate: v.candidate.id });
    return verdicts.map((v) => ({ ...v.outcome, status: v === winner ? ('keep' as const) : v.outcome.status }));
  }

  /**
   * Tells the researcher the generation's outcomes (stored already) and moves on. A researcher that
   * fails to learn from them stops the run, and a resume tells it again from its state after asking.
   */
  async tell(outcomes: Outcome[]): Promise<void> {
    this.lastTold = Object.freeze(structuredClone(outcomes));
    await this.researcher.tell(outcomes);
    const kept = outcomes.some((o) => o.status === 'keep');
    this.ledger.checkpoint(
      this.save({
        generation: this.loop.generation + 1, phase: 'ask', researcher: this.researcher.state(),
        sinceKept: kept ? 0 : this.loop.sinceKept + 1, lastGenerationSeconds: (performance.now() - this.generationStarted) / 1000,
      }),
    );
    this.progress('search');
  }

  /** The best and the baseline on fresh seeds no candidate was trained on; then the study is done. */
  async validate(): Promise<StudySummary> {
    const best = this.ledger.incumbent;
    const baseline = this.ledger.baseline;
    const { from, count } = this.config.validation;
    const seeds = Array.from({ length: count }, (_, i) => from + i);
    await this.episodes([best], seeds, 'validation', 'validation');
    if (this.aborted) return this.stop();
    if (baseline.id !== best.id) await this.episodes([baseline], seeds, 'baseline', 'validation');
    if (this.aborted) return this.stop();
    const robust = this.config.robust;
    if (robust) await this.episodes([best], seeds, 'validation_tier', 'validation');
    if (this.aborted) return this.stop();
    const seedsText = `${from}..${from + count - 1}`;
    const validation = { ...pick(figureOf(this.ledger.episodes([best], 'validation').get(best.id) ?? [], seeds)), seeds: seedsText };
    const baselineFigure = baseline.id === best.id ? validation : { ...pick(figureOf(this.ledger.episodes([baseline], 'baseline').get(baseline.id) ?? [], seeds)), seeds: seedsText };
    const tier = robust ? { validation_tier: { ...pick(figureOf(this.ledger.episodes([best], 'validation_tier').get(best.id) ?? [], seeds)), seeds: seedsText, tier: robust.tier } } : {};
    this.ledger.checkpoint(this.save());
    const summary = this.summarize('done', { validation, baseline: { ...baselineFigure, candidate: baseline.id }, ...tier });
    this.ledger.finish(summary, `The search ended: ${describeStop(this.loop.stopReason)}.`);
    return summary;
  }

  /** Stops here, resumable: every finished episode is stored. */
  stop(): StudySummary {
    const why = this.linkLost !== undefined ? `The link to the robot was lost (${this.linkLost})` : 'The run was interrupted';
    this.ledger.stop(this.save(), why);
    return this.summarize('stopped', { validation: null, baseline: null });
  }

  /** Runs the candidates' episodes on the seeds of a split they have not run yet, recording each as it finishes. */
  private async episodes(candidates: readonly CandidateRecord[], seeds: number[], split: Split, phase: Phase): Promise<void> {
    const stored = this.ledger.episodes(candidates, split);
    const best = this.ledger.incumbent;
    if (split === 'train' && stored.has(best.id)) this.bestFigure = figureOf(stored.get(best.id)!);
    const jobs: EpisodeJob[] = [];
    // A robust study trains and certifies at its tier; every other split is the nominal world.
    const world = split === 'train' || split === 'validation_tier' ? this.tierWorld : undefined;
    for (const c of candidates) {
      const done = new Set((stored.get(c.id) ?? []).map((e) => e.seed));
      const policy = storedPolicy(c);
      for (const seed of seeds) if (!done.has(seed)) jobs.push({ policy, seed, candidate: c.id, split, ...(world ? { perturbation: world(seed) } : {}) });
    }
    if (jobs.length === 0) return;
    this.progress(phase);
    await this.evaluator.evaluate(jobs, (result) => {
      if (!result.ok && result.aborted) {
        this.linkLost ??= result.reason;
        this.evaluator.drain();
        return;
      }
      if (!result.ok && result.reason === 'cancelled') return;
      this.ledger.record(result);
      this.options.onStored?.({ kind: 'episode', candidate: result.job.candidate ?? -1, seed: result.seed });
      this.progress(phase);
    });
  }

  /**
   * Validates and stores a generation's proposals with the researcher's state after asking. `cost`
   * is what the ask spent since its last checkpoint; the candidates share all the ask spent.
   */
  private propose(proposals: Proposal[], cost: number): CandidateRecord[] {
    const parentId = this.ledger.incumbent.id;
    const share = (this.loop.askCost + cost) / proposals.length;
    const inputs = proposals.map((p) => {
      const checked: Checked = p.invalid !== undefined ? { ok: false, reason: p.invalid } : checkProposal(p, this.scenario, this.config.kinds);
      const description = checked.ok && checked.policy.kind === 'params' ? describeChange(this.space, checked.policy.params) : firstLine(p.rationale);
      return {
        generation: this.loop.generation, parentId, kind: checked.ok ? checked.policy.kind : kindOf(p), body: checked.ok ? checked.policy : jsonSafe(p.body),
        rationale: p.rationale, description, costUsd: share,
        ...(checked.ok ? {} : { status: 'invalid' as const, note: checked.reason }),
      };
    });
    const added = this.ledger.propose(inputs, cost, this.save({ phase: 'evaluate', researcher: this.researcher.state(), askCost: 0, generationProbes: 0 }));
    for (const c of added) this.options.onStored?.({ kind: 'candidate', candidate: c.id });
    return added;
  }

  /** A judge of these candidates on their stored training episodes (and nominal checks, under `no_tier_regresses`). */
  private judgeOf(candidates: readonly CandidateRecord[]): Judge {
    const nominal = this.config.keepIf === 'no_tier_regresses' ? this.ledger.episodes(candidates, 'train_nominal') : undefined;
    return new Judge(this.config, this.ledger.episodes(candidates, 'train'), nominal);
  }

  /** The read-only snapshot a researcher is asked with. */
  private history(): StudyHistory {
    const candidates = this.ledger.candidates;
    const b = this.config.budget;
    return Object.freeze({
      scenario: this.scenario,
      generation: this.loop.generation,
      candidates: Object.freeze(candidates.map(viewOf)),
      best: viewOf(this.ledger.incumbent),
      last: this.lastOutcomes(),
      budget: Object.freeze({
        candidates: b.candidates - candidates.length,
        episodes: b.episodes - this.ledger.trainEpisodes - this.loop.probeEpisodes,
        seconds: b.wallTime - this.elapsed(),
        dollars: b.costUsd === undefined ? Infinity : b.costUsd - this.ledger.costUsd,
      }),
      tools: this.tools(),
    });
  }

  /** The last generation's outcomes as they were told, with the statuses the study decided (judged again once after a resume). */
  private lastOutcomes(): readonly Outcome[] {
    if (this.lastTold) return this.lastTold;
    const previous = this.loop.generation > 1 ? this.ledger.generation(this.loop.generation - 1) : [];
    if (!previous.length) return Object.freeze([]);
    const best = this.ledger.candidate(previous[0].parentId!);
    const verdicts = this.judgeOf([best, ...previous]).judge(best, previous, trainSeeds(this.config, this.loop.generation - 1));
    this.lastTold = Object.freeze(verdicts.map((v) => ({ ...v.outcome, status: v.candidate.status as Outcome['status'] })));
    return this.lastTold;
  }

  /** The tools a researcher may use while it is asked. */
  private tools(): ResearchTools {
    return {
      episodes: (candidate: number, limit = 8) => this.ledger.evidence(candidate, limit, this.scenario),
      probe: (policy: unknown, seeds: number[]) => this.probe(policy, seeds),
      check: (proposal: Proposal) => {
        const checked = checkProposal(proposal, this.scenario, this.config.kinds);
        return checked.ok ? null : checked.reason;
      },
      checkpoint: () => {
        const now = this.researcher.spent?.() ?? 0;
        const delta = Math.max(0, now - this.booked);
        this.booked = now;
        this.ledger.book(delta, this.save({ researcher: this.researcher.state(), askCost: this.loop.askCost + delta }));
      },
    };
  }

  /** A researcher's probe: a draft policy on a few seeds now, counted in the episode budget. */
  private async probe(policy: unknown, seeds: number[]) {
    const { from, count } = this.config.validation;
    const bad = seeds.find((s) => !Number.isInteger(s) || s < 0 || s > SEED_MAX || (s >= from && s < from + count));
    if (bad !== undefined) throw new Error(`Probe seed ${bad} is not allowed: use whole numbers in 0..${SEED_MAX} outside the validation seeds ${from}..${from + count - 1}.`);
    if (this.loop.generationProbes + seeds.length > this.config.probes) {
      throw new Error(`At most ${this.config.probes} probe episodes per generation; ${this.loop.generationProbes} are used, and ${seeds.length} more were asked for.`);
    }
    const resolved = resolvePolicy(policy, this.scenario, 'probe policy');
    const results = await this.evaluator.evaluate(seeds.map((seed) => ({ policy: resolved, seed, candidate: -1, split: 'probe' as const })));
    const probeCost = results.reduce((sum, r) => sum + (r.ok && typeof r.metrics.cost_usd === 'number' ? r.metrics.cost_usd : 0), 0);
    this.ledger.book(probeCost, this.save({ probeEpisodes: this.loop.probeEpisodes + results.length, generationProbes: this.loop.generationProbes + results.length }));
    return results.map((r) => resultEvidence(this.scenario, r));
  }

  /** What the stop rule sees. */
  private budgetView() {
    const { loop, ledger } = this;
    return {
      candidates: ledger.candidates.length, batch: this.researcher.batchSize, trainEpisodes: ledger.trainEpisodes, probeEpisodes: loop.probeEpisodes,
      elapsed: this.elapsed(), lastGenerationSeconds: loop.lastGenerationSeconds, costUsd: ledger.costUsd, sinceKept: loop.sinceKept, best: this.bestFigure,
    };
  }

  /** Updates the loop state (and the time spent) for the ledger to checkpoint. */
  private save(patch: Partial<LoopState> = {}): LoopState {
    return Object.assign(this.loop, patch, { elapsed: this.elapsed() });
  }

  private elapsed(): number {
    return this.elapsedBefore + (performance.now() - this.started) / 1000;
  }

  /** Progress is reported after every episode, so it reads the ledger's counts, never the store. */
  private progress(phase: Phase): void {
    this.options.onProgress?.({
      episodes: this.ledger.trainEpisodes,
      candidates: this.ledger.candidates.length,
      generation: this.loop.generation,
      bestScore: this.bestFigure.score,
      bestSuccess: this.bestFigure.success_rate,
      bestEpisodes: this.bestFigure.episodes,
      phase,
      elapsed: (performance.now() - this.started) / 1000,
      costUsd: this.ledger.costUsd,
    });
  }

  private summarize(status: 'done' | 'stopped', figures: Pick<StudySummary, 'validation' | 'baseline' | 'validation_tier'>): StudySummary {
    const best = this.ledger.incumbent;
    const train = pick(figureOf(this.ledger.episodes([best], 'train').get(best.id) ?? []));
    const policy = storedPolicy(best);
    return {
      study: this.ledger.stored.id,
      status,
      stop_reason: status === 'done' ? this.loop.stopReason : null,
      ...figures,
      best: { candidate: best.id, kind: best.kind, params: policy.kind === 'params' ? policy.params : {}, ...train },
      train_episodes: this.ledger.trainEpisodes,
      candidates: this.ledger.candidates.length,
      wall_time: this.elapsed(),
      cost_usd: this.ledger.costUsd,
    };
  }
}

/** How a verdict is stored. */
function decisionOf(v: Verdict, won: boolean) {
  const status = won ? 'keep' : v.outcome.status === 'crash' ? 'crash' : 'discard';
  const f = v.figure;
  return {
    candidate: v.candidate.id,
    decision: {
      status, scoreMean: finiteOrNull(f.score), scoreStd: finiteOrNull(f.std), successRate: finiteOrNull(f.success_rate), nEpisodes: f.episodes, nCrashes: f.crashes,
      note: status === 'keep' ? undefined : v.outcome.reason, addCostUsd: f.costUsd,
    },
  } as const;
}
