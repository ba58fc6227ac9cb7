/**
 * A generation's verdict, from one read of its stored episodes: each candidate against the best on
 * the generation's shared seeds (common random numbers). A candidate beats the best when its mean
 * paired score difference is positive and larger than `keepMargin` standard errors; with racing,
 * one already worse by that margin after the first half of the seeds runs no more of them. The
 * same stored episodes always give the same verdict, so a resumed study decides as it would have.
 * Under the keep rule `no_tier_regresses` (robust studies) a candidate that beats the best on the
 * mean is kept only if it loses significantly to the best in no world: on the same seeds, at the
 * robust tier (its training episodes) and in the nominal world (its `train_nominal` episodes),
 * McNemar's exact p < 0.05 with more seeds lost than gained refuses it.
 * The judge is pure: it reads only the episodes it is given, never the store.
 */
import type { CandidateRecord, EpisodeRecord } from '../store/schema.ts';
import type { Outcome, Proposal } from '../researchers/researcher.ts';
import { proposalOf } from './proposals.ts';
import type { Figure, StudyConfig } from './config.ts';
import { mcnemarExact, meanStd } from '../scoring/stats.ts';

/** A candidate's figures on some seeds. */
export interface CandidateFigure {
  /** Fraction of its episodes that succeeded (NaN without episodes). */
  success_rate: number;
  /** Mean score, crashes counting 0 (NaN without episodes). */
  score: number;
  /** Standard deviation of the scores. */
  std: number;
  /** Episodes behind the figure. */
  episodes: number;
  /** Crashed episodes among them. */
  crashes: number;
  /** Dollars its episodes cost (prompt policies). */
  costUsd: number;
}

/** One candidate's verdict in its generation. */
export interface Verdict {
  /** The candidate. */
  candidate: CandidateRecord;
  /** Its figures on the seeds it ran. */
  figure: CandidateFigure;
  /** It beat the best by more than the noise. */
  beats: boolean;
  /** What its researcher is told. */
  outcome: Outcome;
}

/** Episodes of one split by candidate id, each list in store (id) order: one read of the store. */
export type EpisodesByCandidate = ReadonlyMap<number, readonly EpisodeRecord[]>;

/** Groups episodes by candidate, keeping their order. */
export function byCandidate(episodes: readonly EpisodeRecord[]): EpisodesByCandidate {
  const groups = new Map<number, EpisodeRecord[]>();
  for (const e of episodes) {
    const group = groups.get(e.candidateId);
    if (group) group.push(e);
    else groups.set(e.candidateId, [e]);
  }
  return groups;
}

/** The significance a paired loss in one world must reach to refuse a keep. */
export const REGRESSION_P = 0.05;

/** A candidate against the best in one world, seed by seed. */
export interface WorldComparison {
  /** The world: `nominal`, or the robust tier's name. */
  world: string;
  /** Seeds the best passed and the candidate failed. */
  lost: number;
  /** Seeds the candidate passed and the best failed. */
  gained: number;
  /** McNemar's exact two-sided p. */
  p: number;
}

/**
 * The paired comparison of a candidate with the best in one world (`best[i]`, `candidate[i]`: the
 * successes on the same seed), and whether it is a regression: more seeds lost than gained, at p < 0.05.
 */
export function compareInWorld(world: string, best: readonly boolean[], candidate: readonly boolean[]): WorldComparison & { regresses: boolean } {
  let lost = 0;
  let gained = 0;
  best.forEach((ok, i) => {
    if (ok && !candidate[i]) lost++;
    if (!ok && candidate[i]) gained++;
  });
  const p = mcnemarExact(lost, gained);
  return { world, lost, gained, p, regresses: lost > gained && p < REGRESSION_P };
}

export class Judge {
  constructor(
    private readonly config: Pick<StudyConfig, 'keepMargin' | 'racing' | 'keepIf' | 'robust'>,
    /** The training episodes of the candidates judged (and of the best). */
    private readonly episodes: EpisodesByCandidate,
    /** Their `train_nominal` episodes (keep rule `no_tier_regresses`). */
    private readonly nominal: EpisodesByCandidate = new Map(),
  ) {}

  /** The verdicts of a generation's candidates against `best` on the generation's `seeds`. */
  judge(best: CandidateRecord, candidates: readonly CandidateRecord[], seeds: number[]): Verdict[] {
    const bestMean = meanStd(this.scores(best.id, seeds)).mean;
    return candidates.map((candidate) => {
      const proposal = proposalOf(candidate);
      if (candidate.status === 'invalid') {
        const figure = { success_rate: NaN, score: NaN, std: NaN, episodes: 0, crashes: 0, costUsd: 0 };
        return { candidate, figure, beats: false, outcome: invalidOutcome(candidate, proposal, bestMean) };
      }
      const raced = this.dropped(best, candidate, seeds);
      const ran = raced ? firstHalf(seeds) : seeds;
      const figure = this.figure(candidate.id, ran);
      const crashed = figure.crashes * 2 >= ran.length;
      const outcome = this.outcome(candidate, proposal, ran, raced ? meanStd(this.scores(best.id, ran)).mean : bestMean, crashed ? 'crash' : 'discard');
      if (raced && !crashed) outcome.reason = `dropped after ${ran.length} of ${seeds.length} seeds: clearly worse than the best (racing)`;
      const contends = !raced && !crashed && this.clearsMargin(best, candidate, ran);
      const regression = contends ? this.regression(best, candidate, seeds) : undefined;
      if (regression) {
        outcome.reason = `beats the best on the mean but regresses in the ${regression.world} world: lost ${regression.lost} and gained ${regression.gained} of ${seeds.length} paired seeds (McNemar p = ${regression.p.toPrecision(2)}; keep rule no_tier_regresses)`;
      }
      return { candidate, figure, beats: contends && !regression, outcome };
    });
  }

  /**
   * The candidates that beat the best on the mean by the margin: those a keep rule with more to
   * check runs further episodes for (the same answer `judge` starts from).
   */
  contenders(best: CandidateRecord, candidates: readonly CandidateRecord[], seeds: number[]): CandidateRecord[] {
    return candidates.filter((candidate) => {
      if (candidate.status === 'invalid' || this.dropped(best, candidate, seeds)) return false;
      return this.figure(candidate.id, seeds).crashes * 2 < seeds.length && this.clearsMargin(best, candidate, seeds);
    });
  }

  /** The mean paired score difference candidate − best on `seeds` is positive and clears the margin. */
  private clearsMargin(best: CandidateRecord, candidate: CandidateRecord, seeds: number[]): boolean {
    const diff = this.pairedDifference(best, candidate, seeds);
    return diff.mean > 0 && diff.mean > diff.margin;
  }

  /** Under `no_tier_regresses`: the first world in which the candidate loses significantly to the best, or undefined. */
  private regression(best: CandidateRecord, candidate: CandidateRecord, seeds: number[]): WorldComparison | undefined {
    if (this.config.keepIf !== 'no_tier_regresses') return undefined;
    const worlds: [string, EpisodesByCandidate][] = [['nominal', this.nominal], [this.config.robust?.tier ?? 'training', this.episodes]];
    for (const [world, episodes] of worlds) {
      const successes = (id: number) => {
        const bySeed = new Map((episodes.get(id) ?? []).map((e) => [e.seed, e.success]));
        return seeds.map((s) => bySeed.get(s) ?? false);
      };
      const { regresses, ...comparison } = compareInWorld(world, successes(best.id), successes(candidate.id));
      if (regresses) return comparison;
    }
    return undefined;
  }

  /** Racing: is the candidate worse than the best by the margin after the first half of the seeds? */
  dropped(best: CandidateRecord, candidate: CandidateRecord, seeds: number[]): boolean {
    if (!this.config.racing) return false;
    const diff = this.pairedDifference(best, candidate, firstHalf(seeds));
    return diff.mean < 0 && -diff.mean > diff.margin;
  }

  /** A candidate's figures on `seeds` (on all its episodes without `seeds`). */
  figure(candidateId: number, seeds?: number[]): CandidateFigure {
    return figureOf(this.of(candidateId), seeds);
  }

  /** The paired score differences candidate − best over `seeds`, and the margin a difference must clear. */
  private pairedDifference(best: CandidateRecord, candidate: CandidateRecord, seeds: number[]) {
    const bestScores = this.scores(best.id, seeds);
    const diff = meanStd(this.scores(candidate.id, seeds).map((s, k) => s - bestScores[k]));
    return { mean: diff.mean, margin: this.config.keepMargin * (diff.std / Math.sqrt(seeds.length)) };
  }

  /** Training scores of a candidate on the given seeds, in seed order; a crash (or no episode) scores 0. */
  private scores(candidateId: number, seeds: number[]): number[] {
    const bySeed = new Map(this.of(candidateId).map((e) => [e.seed, e.score ?? 0]));
    return seeds.map((s) => bySeed.get(s) ?? 0);
  }

  /** A candidate's outcome on some seeds: means of its scores, terms and numeric metrics, outcome counts, crash reasons. */
  private outcome(c: CandidateRecord, proposal: Proposal, seeds: number[], bestScore: number, status: Outcome['status']): Outcome {
    const wanted = new Set(seeds);
    const episodes = this.of(c.id).filter((e) => wanted.has(e.seed));
    const outcomes: Record<string, number> = {};
    for (const e of episodes) outcomes[e.outcome] = (outcomes[e.outcome] ?? 0) + 1;
    const crashes = [...new Set(episodes.filter((e) => e.status === 'crash').map((e) => e.crashReason ?? 'crash'))];
    return {
      candidate: c.id,
      proposal,
      status,
      score: meanStd(this.scores(c.id, seeds)).mean,
      successRate: episodes.length ? episodes.filter((e) => e.success).length / episodes.length : 0,
      terms: meanOf(episodes.map((e) => e.terms)),
      metrics: meanOf(episodes.map((e) => e.metrics)),
      outcomes,
      ...(crashes.length ? { reason: crashes.slice(0, 3).join(' | ') } : {}),
      bestScore,
    };
  }

  private of(candidateId: number): readonly EpisodeRecord[] {
    return this.episodes.get(candidateId) ?? [];
  }
}

/** Figures of some episodes (those on `seeds`, or all). */
export function figureOf(all: readonly EpisodeRecord[], seeds?: number[]): CandidateFigure {
  const wanted = seeds ? new Set(seeds) : undefined;
  // In seed order: episodes are stored as they finish, and a sum in finishing order would differ in
  // its last bit between a resumed study and an uninterrupted one.
  const episodes = all.filter((e) => !wanted || wanted.has(e.seed)).sort((a, b) => a.seed - b.seed);
  const { mean, std } = meanStd(episodes.map((e) => e.score ?? 0));
  return {
    success_rate: episodes.length ? episodes.filter((e) => e.success).length / episodes.length : NaN,
    score: mean,
    std,
    episodes: episodes.length,
    crashes: episodes.filter((e) => e.status === 'crash').length,
    costUsd: episodes.reduce((total, e) => total + (typeof e.metrics.cost_usd === 'number' ? e.metrics.cost_usd : 0), 0),
  };
}

/** The first half of a generation's seeds (racing's first heat). */
export function firstHalf(seeds: number[]): number[] {
  return seeds.slice(0, Math.ceil(seeds.length / 2));
}

/** A number JSON can hold, or null (NaN: no episodes). */
export function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/** A figure with NaN (no episodes) as null: JSON cannot hold NaN. */
export function pick(f: { success_rate: number; score: number; episodes: number }): Figure {
  return { success_rate: finiteOrNull(f.success_rate), score: finiteOrNull(f.score), episodes: f.episodes };
}

function invalidOutcome(c: CandidateRecord, proposal: Proposal, bestScore: number): Outcome {
  return { candidate: c.id, proposal, status: 'invalid', score: 0, successRate: 0, terms: {}, metrics: {}, outcomes: {}, reason: c.note ?? 'invalid', bestScore };
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
