/**
 * The ledger: the one writer of a study's rows. It stores proposals, records finished episodes,
 * stores verdicts, books what the study spends, checkpoints the loop and stops or finishes the
 * study. It keeps what the loop asks about all the time (the candidates, the training episode
 * count, the dollars spent, the best) in memory, written through to the store, so a generation
 * reads the store only for its episodes.
 */
import type { LoadedScenario } from '../scenario/load.ts';
import type { CandidateDecision, CandidateInput, CandidateRecord, EpisodeRecord, Split, StudyRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { EpisodeResult } from '../evaluation/evaluator.ts';
import type { EpisodeEvidence } from '../researchers/researcher.ts';
import { storedEvidence } from './evidence.ts';
import { byCandidate, type EpisodesByCandidate } from './judge.ts';
import type { StudySummary } from './config.ts';

/** The splits the episode budget counts. */
const TRAINING_SPLITS: readonly Split[] = ['train', 'train_nominal'];

/** A candidate's decision, as the ledger stores it. */
export interface Decision {
  /** The candidate decided. */
  candidate: number;
  /** Its status and the figures behind it. */
  decision: CandidateDecision;
}

export class Ledger {
  private constructor(
    private readonly store: Store,
    private study: StudyRecord,
    private readonly rows: CandidateRecord[],
    private train: number,
  ) {}

  /** The ledger of a stored study: its record, candidates and training episode count, read once. */
  static open(store: Store, studyId: string): Ledger {
    const study = store.study(studyId);
    if (!study) throw new Error(`No study '${studyId}' in ${store.path}; list them with 'arbor studies'.`);
    const train = TRAINING_SPLITS.reduce((n, split) => n + store.episodes({ studyId, split }).length, 0);
    return new Ledger(store, study, store.candidates(studyId), train);
  }

  /** The study as stored (its config, the saved loop state). */
  get stored(): StudyRecord {
    return this.study;
  }

  /** Every candidate, in id (proposal) order. */
  get candidates(): readonly CandidateRecord[] {
    return this.rows;
  }

  /** Training episodes stored (a robust study's nominal checks of contenders count: the budget pays for them). */
  get trainEpisodes(): number {
    return this.train;
  }

  /** Dollars the study has spent. */
  get costUsd(): number {
    return this.study.costUsd;
  }

  /** The study's first candidate: the scenario defaults. */
  get baseline(): CandidateRecord {
    return this.rows[0];
  }

  /** The current best: the study's best candidate, or the baseline before anything beat it. */
  get incumbent(): CandidateRecord {
    return this.study.bestCandidate !== null ? this.candidate(this.study.bestCandidate) : this.baseline;
  }

  candidate(id: number): CandidateRecord {
    const found = this.rows.find((c) => c.id === id);
    if (!found) throw new Error(`Study ${this.study.id} has no candidate ${id}.`);
    return found;
  }

  /** A generation's candidates, in proposal order. */
  generation(generation: number): CandidateRecord[] {
    return this.rows.filter((c) => c.generation === generation);
  }

  /** Every stored episode of these candidates in a split: one read. */
  episodes(candidates: readonly CandidateRecord[], split: Split): EpisodesByCandidate {
    return byCandidate(this.store.episodes({ candidateIds: [...new Set(candidates.map((c) => c.id))], split }));
  }

  /** The evidence of a candidate's first training episodes (a researcher's tool). */
  evidence(candidate: number, limit: number, scenario: LoadedScenario): EpisodeEvidence[] {
    return this.store.episodes({ candidateId: candidate, split: 'train' }).slice(0, limit).map((e: EpisodeRecord) => storedEvidence(this.store, scenario, e));
  }

  /** Marks the study as running (a run or a resume began). */
  start(): void {
    this.study = this.store.updateStudy(this.study.id, { status: 'running', stopReason: null });
  }

  /** Saves the loop state. */
  checkpoint(loop: unknown): void {
    this.study = this.store.updateStudy(this.study.id, { researcherState: loop });
  }

  /** Books dollars spent outside any episode (asking, probes) with the loop state, in one transaction. */
  book(costUsd: number, loop: unknown): void {
    this.store.transaction(() => {
      if (costUsd > 0) this.study = this.store.updateStudy(this.study.id, { addCostUsd: costUsd });
      this.checkpoint(loop);
    });
  }

  /** Stores a generation's proposals, what asking cost and the loop state after asking, in one transaction. */
  propose(inputs: readonly CandidateInput[], costUsd: number, loop: unknown): CandidateRecord[] {
    return this.store.transaction(() => {
      const added = inputs.map((input) => this.store.addCandidate(this.study.id, input));
      this.rows.push(...added);
      this.book(costUsd, loop);
      return added;
    });
  }

  /**
   * Stores a finished episode of a study's candidate, and books what it spent to the study with
   * it; false when it was already stored (a resumed duplicate) or is no study episode (a probe).
   */
  record(r: EpisodeResult): boolean {
    const { candidate, split } = r.job;
    if (candidate === undefined || split === undefined || split === 'probe') return false;
    const base = { studyId: this.study.id, candidateId: candidate, split, seed: r.seed, wallTime: r.wallTime };
    const spent = r.ok && typeof r.metrics.cost_usd === 'number' && Number.isFinite(r.metrics.cost_usd) && r.metrics.cost_usd > 0 ? r.metrics.cost_usd : 0;
    const stored = r.ok
      ? this.store.recordEpisode(
          { ...base, status: 'ok', success: r.success, score: r.score, outcome: r.outcome, metrics: r.metrics, terms: r.terms, trace: r.trace },
          { studyCostUsd: spent },
        )
      : this.store.recordEpisode({ ...base, status: 'crash', success: false, score: null, outcome: 'crash', metrics: {}, terms: {}, crashReason: r.reason });
    if (!stored) return false;
    if (TRAINING_SPLITS.includes(split)) this.train++;
    // Written through: the store added the same amount in the same transaction as the row.
    if (spent > 0) this.study = { ...this.study, costUsd: this.study.costUsd + spent };
    return true;
  }

  /**
   * Stores the decisions of the candidates still pending and the new best (if any), with the loop
   * state when given, in one transaction.
   */
  decide(decisions: readonly Decision[], best?: number, loop?: unknown): void {
    this.store.transaction(() => {
      for (const d of decisions) {
        const index = this.rows.findIndex((c) => c.id === d.candidate);
        if (this.rows[index].status !== 'pending') continue;
        this.rows[index] = this.store.decideCandidate(d.candidate, d.decision);
      }
      if (best !== undefined) this.study = this.store.updateStudy(this.study.id, { bestCandidate: best });
      if (loop !== undefined) this.checkpoint(loop);
    });
  }

  /** Marks the study stopped, resumable, and says why. */
  stop(loop: unknown, why: string): void {
    this.checkpoint(loop);
    this.study = this.store.updateStudy(this.study.id, { status: 'stopped' });
    this.store.addEvent(this.study.id, { kind: 'stop', message: `${why}; every finished episode is stored, and resume continues it.` });
  }

  /** Marks the study done with its summary, and says why the search ended. */
  finish(summary: StudySummary, message: string): void {
    const { validation, baseline, stop_reason: stopReason } = summary;
    this.study = this.store.updateStudy(this.study.id, { status: 'done', validation, baseline, summary, stopReason });
    this.store.addEvent(this.study.id, { kind: 'stop', message, data: { reason: stopReason } });
  }
}
