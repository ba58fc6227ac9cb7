/**
 * Scoring of machining episodes from their topics alone (`/tool_contact`, `/target_path`), so one
 * scorer serves the sim and a physical cell alike. This is the fixed harness: researchers change
 * policies, never this file.
 *
 * Distances are split by the surface normal: across the surface is path error, into it is gouge.
 */
import type { Trace } from '../../trace/trace.ts';
import type { Score } from '../task.ts';
import type { PathGeometry } from './path.ts';
import type { MachiningSpec } from './schema.ts';
import { TARGET_PATH, TOOL_CONTACT, readTargetPath } from './topics.ts';
import { dot, withoutAlong } from './vector.ts';

/** How an episode ended. */
export type Outcome = 'success' | 'no_contact' | 'crash' | 'gouge' | 'off_path' | 'force';

/** Everything measured about one episode. */
// A type, not an interface: it must fit `Score['metrics']`'s index signature.
export type MachiningMetrics = {
  /** The path was followed: covered, in the force band, no gouge, no crash. */
  success: boolean;
  /** Why it ended as it did. */
  outcome: Outcome;
  /** Fraction of the path points the tool touched within the path tolerance. */
  coverage: number;
  /** RMS distance (m) across the surface from each contact point to the path. */
  rms_path_error: number;
  /** Largest such distance (m). */
  max_path_error: number;
  /** Fraction of the machining time (first to last contact) the normal force was in its band. */
  in_band: number;
  /** Largest normal force (N). */
  peak_force: number;
  /** Deepest the tool's contact point went into the surface along its normal (m). */
  gouge_depth: number;
  /** Time of the last contact when the path was followed; the episode length when it was not (s). */
  cycle_time: number;
  /** Time from the first to the last contact (s). */
  contact_time: number;
};

/** A scored machining episode. */
export interface MachiningScore extends Score {
  /** Each weighted term, before weighting, in [0, 1]. */
  terms: Record<'success' | 'coverage' | 'path_error' | 'force_band' | 'cycle_time', number>;
  /** The measurements behind the score. */
  metrics: MachiningMetrics;
}

/** The tool's contact samples as read from `/tool_contact`. */
export interface ContactSamples {
  /** Stamps (s). */
  stamps: Float64Array;
  /** Contact points, 3 numbers each (m). */
  points: Float32Array;
  /** Normal forces (N). */
  force: Float32Array;
}

/** Reads `/tool_contact`. */
export function contactSamples(trace: Trace): ContactSamples {
  const topic = trace.topic(TOOL_CONTACT.name);
  const n = topic.stamps.length;
  const points = new Float32Array(3 * n);
  const force = new Float32Array(n);
  const width = topic.fields.length;
  for (let i = 0; i < n; i++) {
    points.set(topic.data.subarray(i * width, i * width + 3), 3 * i);
    force[i] = topic.data[i * width + 3];
  }
  return { stamps: topic.stamps, points, force };
}

/** Scores an episode of `duration` seconds from its topics. */
export function scoreMachining(trace: Trace, spec: MachiningSpec, duration: number): MachiningScore {
  const metrics = measureMachining(trace, spec, duration);
  const s = spec.score;
  const terms = {
    success: metrics.success ? 1 : 0,
    coverage: metrics.coverage,
    path_error: metrics.contact_time > 0 ? 1 - Math.min(metrics.rms_path_error / s.path_error_scale, 1) : 0,
    force_band: metrics.in_band,
    cycle_time: metrics.success ? 1 - Math.min(metrics.cycle_time / duration, 1) : 0,
  };
  const w = s.weights;
  const total = w.success + w.coverage + w.path_error + w.force_band + w.cycle_time;
  const weighted = w.success * terms.success + w.coverage * terms.coverage + w.path_error * terms.path_error + w.force_band * terms.force_band + w.cycle_time * terms.cycle_time;
  return { success: metrics.success, score: total > 0 ? weighted / total : 0, outcome: metrics.outcome, terms, metrics };
}

export function measureMachining(trace: Trace, spec: MachiningSpec, duration: number): MachiningMetrics {
  const path = readTargetPath(trace.topic(TARGET_PATH));
  const samples = contactSamples(trace);
  const n = samples.stamps.length;
  if (n < 2) throw new Error(`The trace has ${n} messages on ${TOOL_CONTACT.name}; an episode needs at least 2 to be scored.`);
  const [low, high] = spec.force.band;
  let first = -1;
  let last = -1;
  let peak = 0;
  for (let i = 0; i < n; i++) {
    peak = Math.max(peak, samples.force[i]);
    if (samples.force[i] > spec.force.contact) {
      if (first < 0) first = i;
      last = i;
    }
  }
  let inBand = 0;
  let sumSquares = 0;
  let maxError = 0;
  let gouge = 0;
  let touching = 0;
  const covered = new Uint8Array(path.points.length);
  for (let i = Math.max(first, 0); first >= 0 && i <= last; i++) {
    if (samples.force[i] >= low && samples.force[i] <= high) inBand++;
    if (samples.force[i] <= spec.force.contact) continue;
    const c = samples.points.subarray(3 * i, 3 * i + 3);
    const { across, into } = nearestOnPath(path, c);
    touching++;
    sumSquares += across * across;
    maxError = Math.max(maxError, across);
    gouge = Math.max(gouge, into);
    path.points.forEach((p, k) => {
      if (!covered[k] && acrossDistance(c, p, path.normal) <= spec.tolerance.path) covered[k] = 1;
    });
  }
  const coverage = covered.reduce((a, b) => a + b, 0) / path.points.length;
  const metrics: MachiningMetrics = {
    success: false,
    outcome: 'no_contact',
    coverage,
    rms_path_error: touching ? Math.sqrt(sumSquares / touching) : 0,
    max_path_error: maxError,
    in_band: first >= 0 ? inBand / (last - first + 1) : 0,
    peak_force: peak,
    gouge_depth: gouge,
    cycle_time: duration,
    contact_time: first >= 0 ? samples.stamps[last] - samples.stamps[first] : 0,
  };
  if (first < 0) return metrics;
  if (peak > spec.force.max) metrics.outcome = 'crash';
  else if (gouge > spec.tolerance.gouge) metrics.outcome = 'gouge';
  else if (coverage < spec.success.coverage) metrics.outcome = 'off_path';
  else if (metrics.in_band < spec.success.in_band) metrics.outcome = 'force';
  else {
    metrics.outcome = 'success';
    metrics.success = true;
    metrics.cycle_time = samples.stamps[last];
  }
  return metrics;
}

/** Distance between two points with the part along `normal` removed: across the surface. */
function acrossDistance(a: ArrayLike<number>, b: ArrayLike<number>, normal: readonly number[]): number {
  const d = withoutAlong([a[0] - b[0], a[1] - b[1], a[2] - b[2]], normal);
  return Math.hypot(d[0], d[1], d[2]);
}

/**
 * The path's nearest point to `c` (on its segments): how far `c` is from it across the surface,
 * and how deep below it along the normal (negative: above).
 */
export function nearestOnPath(path: PathGeometry, c: ArrayLike<number>): { across: number; into: number } {
  let best = Infinity;
  let bestInto = 0;
  const n = path.normal;
  for (let k = 1; k < path.points.length; k++) {
    const a = path.points[k - 1];
    const b = path.points[k];
    const ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    const len2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
    const t = len2 > 0 ? Math.min(1, Math.max(0, ((c[0] - a[0]) * ab[0] + (c[1] - a[1]) * ab[1] + (c[2] - a[2]) * ab[2]) / len2)) : 0;
    const q = [a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]];
    const across = acrossDistance(c, q, n);
    if (across < best) {
      best = across;
      bestInto = -dot([c[0] - q[0], c[1] - q[1], c[2] - q[2]], n);
    }
  }
  return { across: best, into: bestInto };
}
