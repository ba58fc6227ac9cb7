/**
 * `arbor transfer`: the same policy on the same seeds in sim and on the robot, compared pair by
 * pair. A seed is the same episode in both (the same object draw), so the seeds that fail on the
 * robot alone are the gap, and McNemar's test on them says whether it is real. The metrics whose
 * means moved most (in units of their spread) say how it failed; a gauntlet's one-axis sweeps,
 * run on the same seeds, say which physical difference fails the same seeds.
 */
import type { Evaluator, EpisodeJob, EpisodeResult } from '../evaluation/evaluator.ts';
import type { PolicyFile } from '../policy/file.ts';
import { meanStd, pairedDifference, wilson, type Interval, type PairedDifference } from '../scoring/stats.ts';

/** One side's outcome per seed. */
export interface SideReport {
  successes: number;
  n: number;
  success_rate: number;
  interval: Interval;
}

/** A metric whose mean moved between sim and robot. */
export interface MetricShift {
  name: string;
  sim: number;
  robot: number;
  /** Robot minus sim, in units of the pooled standard deviation (0 spread: the raw difference). */
  effect: number;
}

/** A world of a gauntlet that fails seeds as the robot does. */
export interface AxisMatch {
  /** The gauntlet world, e.g. `arm_kp=0.6`. */
  world: string;
  /** Jaccard overlap of the seeds it loses against nominal with those the robot loses against sim. */
  overlap: number;
}

export interface TransferReport {
  seeds: number[];
  sim: SideReport;
  robot: SideReport;
  /** Robot minus sim, paired on the seeds, with Newcombe's interval and McNemar's p. */
  gap: PairedDifference;
  /** Seeds that succeed in sim and fail on the robot. */
  lost: number[];
  /** Seeds that fail in sim and succeed on the robot. */
  gained: number[];
  /** Metrics by how far they moved, largest first (at most 5). */
  metrics: MetricShift[];
  /** Gauntlet worlds by how well their failures match the robot's, best first; absent without a gauntlet. */
  likeliest?: AxisMatch[];
}

/** Runs `policy` on `seeds` with both evaluators (the sim first, so a robot session is not spent on a policy that fails in sim). */
export async function runTransfer(sim: Evaluator, robot: Evaluator, policy: PolicyFile, seeds: number[], onResult?: (side: 'sim' | 'robot', r: EpisodeResult) => void): Promise<{ sim: EpisodeResult[]; robot: EpisodeResult[] }> {
  const jobs: EpisodeJob[] = seeds.map((seed) => ({ policy, seed }));
  const simResults = await sim.evaluate(jobs, (r) => onResult?.('sim', r));
  const robotResults = await robot.evaluate(jobs, (r) => onResult?.('robot', r));
  return { sim: simResults, robot: robotResults };
}

/** Lost seeds of a gauntlet world against its nominal, by world label (what `likeliest` matches). */
export type SweepLosses = Map<string, Set<number>>;

/** The paired comparison of results on `seeds` (each list in seed order). */
export function transferReport(seeds: number[], sim: readonly EpisodeResult[], robot: readonly EpisodeResult[], sweeps?: SweepLosses): TransferReport {
  const ok = (r: EpisodeResult) => r.ok && r.success;
  const simOk = seeds.map((_, i) => ok(sim[i]));
  const robotOk = seeds.map((_, i) => ok(robot[i]));
  const lost = seeds.filter((_, i) => simOk[i] && !robotOk[i]);
  const report: TransferReport = {
    seeds,
    sim: side(simOk),
    robot: side(robotOk),
    gap: pairedDifference(simOk, robotOk),
    lost,
    gained: seeds.filter((_, i) => !simOk[i] && robotOk[i]),
    metrics: metricShifts(sim, robot),
  };
  if (sweeps) report.likeliest = likeliest(new Set(lost), sweeps);
  return report;
}

function side(outcomes: boolean[]): SideReport {
  const successes = outcomes.filter(Boolean).length;
  const n = outcomes.length;
  return { successes, n, success_rate: n ? successes / n : 0, interval: wilson(successes, n) };
}

/** Numeric metrics present on both sides, by the size of their move. */
function metricShifts(sim: readonly EpisodeResult[], robot: readonly EpisodeResult[]): MetricShift[] {
  const values = (results: readonly EpisodeResult[], name: string) =>
    results.flatMap((r) => (r.ok && typeof r.metrics[name] === 'number' && Number.isFinite(r.metrics[name]) ? [r.metrics[name] as number] : []));
  const names = new Set(sim.flatMap((r) => (r.ok ? Object.keys(r.metrics) : [])));
  const shifts: MetricShift[] = [];
  for (const name of names) {
    const a = values(sim, name);
    const b = values(robot, name);
    if (a.length < 2 || b.length < 2) continue;
    const sa = meanStd(a);
    const sb = meanStd(b);
    const pooled = Math.sqrt((sa.std ** 2 + sb.std ** 2) / 2);
    const diff = sb.mean - sa.mean;
    if (diff === 0) continue;
    shifts.push({ name, sim: sa.mean, robot: sb.mean, effect: pooled > 1e-12 ? diff / pooled : diff });
  }
  return shifts.sort((x, y) => Math.abs(y.effect) - Math.abs(x.effect)).slice(0, 5);
}

/** Gauntlet worlds ranked by the Jaccard overlap of their lost seeds with the robot's (those that lose none are left out). */
function likeliest(lost: Set<number>, sweeps: SweepLosses): AxisMatch[] {
  const matches: AxisMatch[] = [];
  for (const [world, theirs] of sweeps) {
    if (theirs.size === 0) continue;
    const both = [...theirs].filter((s) => lost.has(s)).length;
    const union = new Set([...theirs, ...lost]).size;
    matches.push({ world, overlap: union ? both / union : 0 });
  }
  return matches.sort((a, b) => b.overlap - a.overlap);
}
