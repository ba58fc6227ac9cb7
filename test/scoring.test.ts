import { describe, expect, it } from 'vitest';
import { scorePickPlace as score } from '../src/tasks/pick-place/score.ts';
import { TraceRecorder } from '../src/trace/trace.ts';
import {
  CONTACT_FIELDS, GRIPPER_FIELDS, POSE_FIELDS, SAFETY_FIELDS, TOPIC, TYPE, jointStateFields, objectPoseTopic,
} from '../src/trace/topics.ts';
import { pickPlace, scenario } from './helpers.ts';

const sc = await scenario();
const spec = pickPlace(sc);
const scorePickPlace = (trace: Parameters<typeof score>[0], _: unknown) => score(trace, spec, sc.episode.duration);
const [zx, zy] = spec.zone.center;
const OPEN = 0.09;
const H = 0.025;

/** One control tick of a made-up episode. */
interface Tick { x: number; y: number; z: number; command: number; width?: number; tableForce?: number }

/** Builds a trace from ticks at 50 Hz, the way the sim link records it. */
function traceOf(ticks: Tick[]) {
  const rec = new TraceRecorder();
  const joints = sc.robotConfig.joints.map((j) => j.name);
  const js = rec.topic(TOPIC.jointStates, TYPE.jointStates, jointStateFields(joints));
  const pose = rec.topic(objectPoseTopic('box'), TYPE.pose, POSE_FIELDS);
  const grip = rec.topic(TOPIC.gripper, TYPE.gripper, GRIPPER_FIELDS);
  const contacts = rec.topic(TOPIC.contacts, TYPE.contacts, CONTACT_FIELDS);
  const safety = rec.topic(TOPIC.safety, TYPE.safety, SAFETY_FIELDS);
  ticks.forEach((k, i) => {
    const t = i * 0.02;
    js.push(t, new Array(18).fill(0).map((_, c) => (c >= 12 ? 1 : 0)));
    pose.push(t, [k.x, k.y, k.z, 0, 0, 0, 1]);
    grip.push(t, [k.width ?? k.command, k.command, 0, 0, 0]);
    contacts.push(t, [0, k.tableForce ?? 0, 0, 0]);
    safety.push(t, [0, 0, 0, 0, 0]);
  });
  return rec.finish();
}

/** A scripted episode: rest, grasp, lift to 0.15, carry to (tx, ty), lower, release, rest. */
function episode(options: { tx?: number; ty?: number; dropAt?: number; releaseHigh?: boolean; holdToEnd?: boolean; tableForce?: number } = {}) {
  const { tx = zx, ty = zy } = options;
  const ticks: Tick[] = [];
  const start = { x: 0.5, y: -0.25 };
  for (let i = 0; i < 50; i++) ticks.push({ ...start, z: H, command: OPEN });
  for (let i = 0; i < 25; i++) ticks.push({ ...start, z: H, command: 0, width: 2 * H, tableForce: options.tableForce });
  let dropped = false;
  for (let i = 0; i <= 50; i++) {
    const s = i / 50;
    const x = start.x + (tx - start.x) * s;
    const y = start.y + (ty - start.y) * s;
    if (options.dropAt !== undefined && s >= options.dropAt) dropped = true;
    ticks.push({ x, y, z: dropped ? H : H + 0.15 * Math.sin(Math.PI * s) + (options.releaseHigh ? 0.1 : 0), command: 0, width: dropped ? 0 : 2 * H });
  }
  const end = ticks[ticks.length - 1];
  const z = options.holdToEnd || options.releaseHigh ? end.z : H;
  for (let i = 0; i < 100; i++) ticks.push({ x: end.x, y: end.y, z, command: options.holdToEnd ? 0 : OPEN, width: options.holdToEnd ? 2 * H : OPEN });
  return traceOf(ticks);
}

describe('pick-and-place scoring from topics', () => {
  it('success: resting in the zone, released, never dropped', () => {
    const s = scorePickPlace(episode(), sc);
    expect(s.metrics.outcome).toBe('success');
    expect(s.success).toBe(true);
    expect(s.metrics.place_error).toBeLessThan(1e-6);
    expect(s.metrics.lift_height).toBeCloseTo(0.15, 2);
    expect(s.metrics.drops).toBe(0);
    expect(s.metrics.cycle_time).toBeCloseTo(126 * 0.02, 6);
    expect(s.score).toBeGreaterThan(0.8);
    expect(s.score).toBeLessThanOrEqual(1);
  });

  it('miss: put down and released outside the zone', () => {
    const s = scorePickPlace(episode({ tx: zx + 0.2, ty: zy }), sc);
    expect(s.metrics.outcome).toBe('miss');
    expect(s.success).toBe(false);
    expect(s.metrics.place_error).toBeCloseTo(0.2, 5);
    expect(s.terms.success).toBe(0);
    expect(s.score).toBeLessThan(0.4);
  });

  it('drop: the object falls out of the closed gripper on the way', () => {
    const s = scorePickPlace(episode({ dropAt: 0.5 }), sc);
    expect(s.metrics.outcome).toBe('drop');
    expect(s.metrics.drops).toBe(1);
    expect(s.success).toBe(false);
  });

  it('collision: the arm presses into the table', () => {
    const s = scorePickPlace(episode({ tableForce: 300 }), sc);
    expect(s.metrics.outcome).toBe('collision');
    expect(s.metrics.peak_table_force).toBe(300);
    expect(s.terms.contact_force).toBeCloseTo(1 - 300 / spec.score.force_scale, 6);
    expect(s.success).toBe(false);
  });

  it('timeout: the episode ends with the object still held in the air', () => {
    const s = scorePickPlace(episode({ holdToEnd: true, releaseHigh: true }), sc);
    expect(s.metrics.outcome).toBe('timeout');
    expect(s.success).toBe(false);
    expect(s.metrics.cycle_time).toBe(sc.episode.duration);
  });

  it('refuses a trace without the object topic, naming what it has', () => {
    const rec = new TraceRecorder();
    rec.topic(TOPIC.clock, TYPE.clock, ['clock']).push(0, [0]);
    expect(() => scorePickPlace(rec.finish(), sc)).toThrow(/no topic '\/object_pose\/box'.*\/clock/);
  });
});
