/**
 * Scoring of pick-and-place episodes from their topics alone (object pose, gripper, contacts,
 * joint states, safety), so one scorer serves the sim and a physical robot alike.
 * This is the fixed harness: researchers change policies, never this file.
 */
import type { Trace } from '../../trace/trace.ts';
import { TOPIC, objectPoseTopic } from '../../trace/topics.ts';
import type { Score } from '../task.ts';
import type { PickPlaceSpec } from './schema.ts';

/** How an episode ended. */
export type Outcome = 'success' | 'miss' | 'drop' | 'collision' | 'timeout';

/** Everything measured about one episode. */
// A type, not an interface: it must fit `Score['metrics']`'s index signature.
export type PickPlaceMetrics = {
  /** The task was done: object resting inside the zone, released, never dropped. */
  success: boolean;
  /** Why it ended as it did. */
  outcome: Outcome;
  /** Distance in the table plane from the object's final centre to the zone centre (m). */
  place_error: number;
  /** Highest lift of the object above its start (m). */
  lift_height: number;
  /** Times the object fell out of the closed gripper after being lifted. */
  drops: number;
  /** Peak normal force between the robot and the table or floor (N). */
  peak_table_force: number;
  /** Time at which the object was released in place; the episode length when it never was (s). */
  cycle_time: number;
  /** Control ticks in which the safety envelope clamped a joint at a position limit. */
  joint_limit_hits: number;
  /** Integral of the summed absolute joint efforts over the episode (N·m·s). */
  effort: number;
};

/** A scored pick-and-place episode: the task-neutral score with this task's terms and metrics. */
export interface PickPlaceScore extends Score {
  /** Each weighted term of the score, before weighting, in [0, 1]. */
  terms: Record<'success' | 'place_error' | 'cycle_time' | 'contact_force', number>;
  /** The measurements behind the score. */
  metrics: PickPlaceMetrics;
}

/** Lift (m) above the start that counts as "in the air". */
const LIFTED = 0.02;
/** Gripper opening (m) under which the closed fingers hold nothing. */
const EMPTY_WIDTH = 0.005;
/** Height (m) above the start under which the object counts as back on the table. */
const ON_TABLE = 0.008;
/** Robot–table force (N) that counts as a collision rather than a graze. */
const COLLISION_FORCE = 80;
/** The object must have rested this long (s) at the end to count as resting. */
const REST_WINDOW = 0.2;

/** Scores an episode of `duration` seconds from its topics. */
export function scorePickPlace(trace: Trace, spec: PickPlaceSpec, duration: number): PickPlaceScore {
  const metrics = measure(trace, spec, duration);
  const s = spec.score;
  const terms = {
    success: metrics.success ? 1 : 0,
    place_error: 1 - Math.min(metrics.place_error / s.place_error_scale, 1),
    cycle_time: metrics.success ? 1 - Math.min(metrics.cycle_time / duration, 1) : 0,
    contact_force: 1 - Math.min(metrics.peak_table_force / s.force_scale, 1),
  };
  const w = s.weights;
  const total = w.success + w.place_error + w.cycle_time + w.contact_force;
  const score =
    total > 0
      ? (w.success * terms.success +
          w.place_error * terms.place_error +
          w.cycle_time * terms.cycle_time +
          w.contact_force * terms.contact_force) /
        total
      : 0;
  return { success: metrics.success, score, outcome: metrics.outcome, terms, metrics };
}

function measure(trace: Trace, spec: PickPlaceSpec, duration: number): PickPlaceMetrics {
  const poseTopic = objectPoseTopic(spec.object);
  const stamps = trace.topic(poseTopic).stamps;
  const x = trace.column(poseTopic, 'position.x');
  const y = trace.column(poseTopic, 'position.y');
  const z = trace.column(poseTopic, 'position.z');
  const width = trace.column(TOPIC.gripper, 'position');
  const command = trace.column(TOPIC.gripper, 'command');
  const robotTable = trace.column(TOPIC.contacts, 'robot_static_force');
  const positionClamps = trace.column(TOPIC.safety, 'position_clamps');
  const n = stamps.length;
  if (n < 2) throw new Error(`The trace has ${n} messages on ${poseTopic}; an episode needs at least 2 to be scored.`);

  const z0 = z[0];
  const openCommand = Math.max(...command);
  const releaseWidth = spec.success.release_width;
  let liftHeight = 0;
  let drops = 0;
  let liftedInThisGrasp = false;
  let droppedInThisGrasp = false;
  let releasedAt: number | undefined;
  for (let i = 0; i < n; i++) {
    liftHeight = Math.max(liftHeight, z[i] - z0);
    const gripperClosed = command[i] < openCommand - 1e-6;
    if (!gripperClosed) {
      liftedInThisGrasp = false;
      droppedInThisGrasp = false;
    } else {
      if (z[i] - z0 > LIFTED) liftedInThisGrasp = true;
      // A held object keeps the fingers apart; closed fingers on nothing after a lift mean it fell.
      if (liftedInThisGrasp && !droppedInThisGrasp && width[i] < EMPTY_WIDTH) {
        drops++;
        droppedInThisGrasp = true;
      }
    }
    // The release: the gripper commanded open again after having closed.
    if (releasedAt === undefined && i > 0 && !gripperClosed && command[i - 1] < openCommand - 1e-6) {
      releasedAt = stamps[i];
    }
  }

  const last = n - 1;
  const { center, half_size } = spec.zone;
  const margin = spec.success.zone_margin;
  const dx = x[last] - center[0];
  const dy = y[last] - center[1];
  const inZone = Math.abs(dx) <= half_size[0] - margin && Math.abs(dy) <= half_size[1] - margin;
  const onTable = z[last] - z0 < ON_TABLE;
  const resting = restingAtEnd(stamps, x, y, z, spec.success.rest_speed);
  const released = width[last] >= releaseWidth || command[last] >= releaseWidth;
  const peakTableForce = Math.max(0, ...robotTable);
  const collided = peakTableForce > COLLISION_FORCE;
  const success = inZone && onTable && resting && released && drops === 0 && !collided;

  let outcome: Outcome;
  if (success) outcome = 'success';
  else if (collided) outcome = 'collision';
  else if (drops > 0) outcome = 'drop';
  else if (!onTable || !resting || !released) outcome = 'timeout';
  else outcome = 'miss';

  return {
    success,
    outcome,
    place_error: Math.hypot(dx, dy),
    lift_height: liftHeight,
    drops,
    peak_table_force: peakTableForce,
    cycle_time: success && releasedAt !== undefined ? releasedAt : duration,
    joint_limit_hits: positionClamps.reduce((a, b) => a + (b > 0 ? 1 : 0), 0),
    effort: effortIntegral(trace),
  };
}

function restingAtEnd(stamps: Float64Array, x: Float32Array, y: Float32Array, z: Float32Array, restSpeed: number): boolean {
  const last = stamps.length - 1;
  const end = stamps[last];
  let i = last;
  while (i > 0 && end - stamps[i - 1] <= REST_WINDOW) i--;
  if (i === last) i = Math.max(0, last - 1);
  for (let k = i + 1; k <= last; k++) {
    const dt = stamps[k] - stamps[k - 1];
    if (dt <= 0) continue;
    const speed = Math.hypot(x[k] - x[k - 1], y[k] - y[k - 1], z[k] - z[k - 1]) / dt;
    if (speed > restSpeed) return false;
  }
  return true;
}

function effortIntegral(trace: Trace): number {
  const topic = trace.topic(TOPIC.jointStates);
  const columns = topic.fields.flatMap((f, i) => (f.startsWith('effort.') ? [i] : []));
  const width = topic.fields.length;
  let total = 0;
  for (let r = 1; r < topic.stamps.length; r++) {
    let sum = 0;
    for (const c of columns) sum += Math.abs(topic.data[r * width + c]);
    total += sum * (topic.stamps[r] - topic.stamps[r - 1]);
  }
  return total;
}
