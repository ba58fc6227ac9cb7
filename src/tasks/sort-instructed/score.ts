/**
 * The instructed-sorting scorer, from topics and the trace meta only: which cube ended where
 * (`/object_pose/<cube>`), against what the episode's instruction wants (drawn again from the
 * seed), and what the policy decided and spent (`meta.policy`, written by the episode runner on
 * every backend). A refusal is right when the instruction cannot be carried out and nothing moved.
 */
import { PolicyRecord } from '../../policy/policy.ts';
import type { Trace } from '../../trace/trace.ts';
import { objectPoseTopic } from '../../trace/topics.ts';
import type { Score } from '../task.ts';
import { drawEpisode, type EpisodeDraw } from './draw.ts';
import type { SortInstructedSpec } from './schema.ts';

/** How an episode ended. */
export type SortOutcome = 'success' | 'refused' | 'not_refused' | 'wrong_refusal' | 'misplaced' | 'planner_failure' | 'too_slow';

/** Where a cube ended, read from its pose topic. */
export interface CubeEnd {
  /** Cube name. */
  name: string;
  /** The zone its centre ended in, or null. */
  zone: string | null;
  /** Farther than `success.moved` from its start. */
  moved: boolean;
  /** Still at the end, and down on the table (or on another cube), not held up. */
  resting: boolean;
  /** Where it started and ended [x, y] (m). */
  from: [number, number];
  to: [number, number];
}

/** The cube must have rested this long (s) at the end. */
const REST_WINDOW = 0.2;
/** A cube whose centre is higher than this (m) at the end is still held or falling. */
const DOWN_HEIGHT = 0.1;

export function scoreSortInstructed(trace: Trace, spec: SortInstructedSpec): Score {
  const draw = drawOf(trace, spec);
  const expected = draw.instruction.expected;
  const ends = cubeEnds(trace, spec, draw);
  // An episode of a policy that records nothing (a params controller) decided nothing and spent nothing.
  const record = PolicyRecord.safeParse(trace.meta.policy ?? {});
  const { decision, metrics: policyMetrics } = record.success ? record.data : PolicyRecord.parse({});
  const plannerUsd = policyMetrics.planner_usd ?? 0;
  const plannerS = policyMetrics.planner_s ?? 0;

  // Each cube is right when it ended where the instruction wants: a named cube resting in its
  // zone; any other cube in no zone (and, for an instruction to refuse, not moved at all).
  const right = ends.map((end) => {
    const target = expected.moves[end.name];
    if (target) return end.zone === target && end.resting;
    return end.zone === null && !(expected.refuse && end.moved);
  });
  const placed = right.filter(Boolean).length;
  const anyMoved = ends.some((e) => e.moved);
  let outcome: SortOutcome;
  if (decision.failed !== undefined) outcome = 'planner_failure';
  else if (expected.refuse) outcome = decision.refused !== undefined && !anyMoved ? 'refused' : 'not_refused';
  else if (decision.refused !== undefined) outcome = 'wrong_refusal';
  else outcome = right.every(Boolean) ? 'success' : 'misplaced';
  const cap = spec.success.max_planner_s;
  if ((outcome === 'success' || outcome === 'refused') && cap !== undefined && plannerS > cap) outcome = 'too_slow';
  const success = outcome === 'success' || outcome === 'refused';

  const s = spec.score;
  const terms = {
    success: success ? 1 : 0,
    placement: placed / ends.length,
    cost: 1 - Math.min(plannerUsd / s.cost_scale, 1),
    latency: 1 - Math.min(plannerS / s.latency_scale, 1),
  };
  const w = s.weights;
  const total = w.success + w.placement + w.cost + w.latency;
  const score = total > 0 ? (w.success * terms.success + w.placement * terms.placement + w.cost * terms.cost + w.latency * terms.latency) / total : 0;
  return {
    success,
    score,
    outcome,
    terms,
    metrics: {
      goal: draw.instruction.goal,
      instruction: draw.instruction.text,
      cubes_right: placed,
      cubes_moved: ends.filter((e) => e.moved).length,
      refused: decision.refused !== undefined,
      ...(decision.failed !== undefined ? { planner_failure: decision.failed } : {}),
    },
  };
}

/** The episode's draw, from the seed in the trace meta. */
export function drawOf(trace: Trace, spec: SortInstructedSpec): EpisodeDraw {
  const seed = trace.meta.seed;
  if (typeof seed !== 'number' || !Number.isInteger(seed)) {
    throw new Error(`The trace has no seed in its meta (meta.seed = ${JSON.stringify(seed)}); an instructed-sorting episode is judged against the instruction its seed drew.`);
  }
  return drawEpisode(spec, seed);
}

/** Where each cube ended against the zones of the draw. */
export function cubeEnds(trace: Trace, spec: SortInstructedSpec, draw: EpisodeDraw): CubeEnd[] {
  const [hx, hy] = spec.zone_half_size;
  return Object.keys(spec.cubes).map((name) => {
    const topic = objectPoseTopic(name);
    const stamps = trace.topic(topic).stamps;
    const x = trace.column(topic, 'position.x');
    const y = trace.column(topic, 'position.y');
    const z = trace.column(topic, 'position.z');
    const n = stamps.length;
    if (n < 2) throw new Error(`The trace has ${n} messages on ${topic}; an episode needs at least 2 to be scored.`);
    const last = n - 1;
    const zone = draw.zones.find((zn) => Math.abs(x[last] - zn.x) <= hx && Math.abs(y[last] - zn.y) <= hy)?.name ?? null;
    let still = true;
    for (let k = last; k > 0 && stamps[last] - stamps[k - 1] <= REST_WINDOW; k--) {
      const dt = stamps[k] - stamps[k - 1];
      if (dt > 0 && Math.hypot(x[k] - x[k - 1], y[k] - y[k - 1], z[k] - z[k - 1]) / dt > spec.success.rest_speed) still = false;
    }
    return {
      name,
      zone,
      moved: Math.hypot(x[last] - x[0], y[last] - y[0]) > spec.success.moved,
      resting: still && z[last] < DOWN_HEIGHT,
      from: [x[0], y[0]],
      to: [x[last], y[last]],
    };
  });
}
