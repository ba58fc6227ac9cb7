/**
 * Success against cost for every candidate of a study whose policies pay for model calls (prompt
 * policies): each candidate's training success rate and its planner's dollars per episode, and
 * which candidates are on the Pareto front (no other is as cheap and as successful, and better in
 * one). What the dashboard's success-vs-cost plot draws; empty for studies that spend nothing.
 */
import type { CandidateRow, EpisodeCost } from './views.ts';

/** One candidate's point. */
export interface CostPoint {
  /** Candidate id. */
  candidate: number;
  /** Its status (keep, discard, crash, invalid, pending). */
  status: string;
  /** Fraction of its training episodes that succeeded. */
  successRate: number;
  /** Mean dollars per training episode: the planner's list price (`planner_usd`), else what was spent (`cost_usd`). */
  costPerEpisode: number;
  /** Training episodes behind the point. */
  episodes: number;
  /** On the Pareto front. */
  front: boolean;
}

/** The points of the candidates with priced training episodes, in candidate order. */
export function costPoints(candidates: readonly Pick<CandidateRow, 'id' | 'status'>[], episodes: readonly EpisodeCost[]): CostPoint[] {
  const points: CostPoint[] = [];
  for (const c of candidates) {
    const own = episodes.filter((e) => e.candidateId === c.id && e.split === 'train');
    const costs = own.map((e) => e.dollars).filter((d): d is number => d !== undefined);
    if (costs.length === 0) continue;
    points.push({
      candidate: c.id,
      status: c.status,
      successRate: own.filter((e) => e.success).length / own.length,
      costPerEpisode: costs.reduce((a, b) => a + b, 0) / own.length,
      episodes: own.length,
      front: false,
    });
  }
  if (!points.some((p) => p.costPerEpisode > 0)) return [];
  for (const p of points) {
    p.front = !points.some((q) => q !== p && q.costPerEpisode <= p.costPerEpisode && q.successRate >= p.successRate && (q.costPerEpisode < p.costPerEpisode || q.successRate > p.successRate));
  }
  return points;
}
