/**
 * The safety envelope, limit by limit (position, velocity, acceleration, workspace, links above the
 * table, gripper width and force, non-finite targets), each as clamp and as reject, and `SafeLink`
 * around the real sim link: interventions logged in the trace, e-stop, idempotent stop, reduced
 * tool speed, and a policy whose targets are all 1e308 kept off the table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmergencyStopError, SafeLink } from '../src/robot/safe-link.ts';
import { SafetyEnvelope } from '../src/robot/safety.ts';
import { SimLink } from '../src/robot/sim-link.ts';
import type { RobotConfig, SafetyConfig } from '../src/scenario/robot.ts';
import { TOPIC } from '../src/trace/topics.ts';
import { scenario } from './helpers.ts';

const sc = await scenario();
const arm6 = sc.robotConfig;
const dt = 0.02;
const home = Float64Array.from(arm6.home);
/** A tool point always inside the workspace and links always above the table, for tests of the joint limits alone. */
const inside = { toolPoint: () => [0.4, 0, 0.3], lowestPoint: () => ({ z: 0.07, link: 'shoulder/shoulder_link' }) };

/** arm6 with other safety settings (and, optionally, acceleration limits on every joint). */
function robotWith(safety: Partial<SafetyConfig>, acceleration?: number): RobotConfig {
  return {
    ...arm6,
    safety: { ...arm6.safety, ...safety },
    joints: arm6.joints.map((j) => ({ ...j, acceleration })),
  };
}

/** Home with joint `i` moved by `delta` rad. */
function moved(i: number, delta: number, from: ArrayLike<number> = home): Float64Array {
  const q = Float64Array.from(from);
  q[i] += delta;
  return q;
}

describe('the safety envelope', () => {
  it('clamps a target beyond a position limit into the limit', () => {
    const envelope = new SafetyEnvelope(robotWith({ position: 'clamp', velocity: 'clamp' }));
    const elbow = 2;
    const [lo, hi] = arm6.joints[elbow].position;
    // Start at the limit so the velocity limit does not hide the position clamp.
    const atLimit = Float64Array.from(home);
    atLimit[elbow] = hi;
    const verdict = envelope.filter(atLimit, atLimit, moved(elbow, 0.05, atLimit), dt, inside);
    expect(verdict.rejected).toBeUndefined();
    expect(verdict.positionClamps).toBe(1);
    expect(verdict.position[elbow]).toBe(hi);
    expect(lo).toBeLessThan(hi);
  });

  it('rejects a target beyond a position limit when robot.yaml says reject, and holds the last target', () => {
    const envelope = new SafetyEnvelope(robotWith({ position: 'reject' }));
    const target = Float64Array.from(home);
    target[2] = 3.5;
    const verdict = envelope.filter(home, home, target, dt, inside);
    expect(verdict.rejected).toMatch(/elbow target 3\.5000 rad is outside \[-2\.8, 2\.8\]/);
    expect([...verdict.position]).toEqual([...home]);
  });

  it('slows a joint to its velocity limit, in either direction', () => {
    const envelope = new SafetyEnvelope(robotWith({ velocity: 'clamp' }));
    const step = arm6.joints[0].velocity * dt;
    const up = envelope.filter(home, home, moved(0, 0.5), dt, inside);
    expect(up.velocityClamps).toBe(1);
    expect(up.position[0]).toBeCloseTo(home[0] + step, 12);
    const down = envelope.filter(home, home, moved(0, -0.5), dt, inside);
    expect(down.position[0]).toBeCloseTo(home[0] - step, 12);
    // A step inside the limit passes untouched.
    const small = envelope.filter(home, home, moved(0, step / 2), dt, inside);
    expect(small.velocityClamps).toBe(0);
    expect(small.position[0]).toBe(home[0] + step / 2);
  });

  it('rejects a step faster than the velocity limit when robot.yaml says reject', () => {
    const envelope = new SafetyEnvelope(robotWith({ velocity: 'reject' }));
    const verdict = envelope.filter(home, home, moved(3, 1), dt, inside);
    expect(verdict.rejected).toMatch(/wrist_1 would move faster than 6\.28 rad\/s/);
    expect([...verdict.position]).toEqual([...home]);
  });

  it('limits the change of speed to acceleration × dt', () => {
    const acceleration = 10;
    const envelope = new SafetyEnvelope(robotWith({ acceleration: 'clamp' }, acceleration));
    // At rest, asking for 1 rad/s at once: the speed may only reach a·dt = 0.2 rad/s.
    const target = moved(0, 1 * dt);
    const verdict = envelope.filter(home, home, target, dt, inside);
    expect(verdict.accelerationClamps).toBe(1);
    expect((verdict.position[0] - home[0]) / dt).toBeCloseTo(acceleration * dt, 10);
    // Already moving at 1 rad/s, keeping that speed is no acceleration.
    const before = moved(0, -1 * dt);
    const cruising = envelope.filter(home, before, target, dt, inside);
    expect(cruising.accelerationClamps).toBe(0);
    expect(cruising.position[0]).toBe(target[0]);
  });

  it('rejects an acceleration beyond the limit when robot.yaml says reject', () => {
    const envelope = new SafetyEnvelope(robotWith({ acceleration: 'reject' }, 10));
    const verdict = envelope.filter(home, home, moved(1, 0.05), dt, inside);
    expect(verdict.rejected).toMatch(/shoulder_lift would accelerate beyond 10 rad\/s²/);
  });

  it('has no acceleration limit where robot.yaml gives none', () => {
    const envelope = new SafetyEnvelope(robotWith({}));
    const verdict = envelope.filter(home, home, moved(1, 0.05), dt, inside);
    expect(verdict.accelerationClamps).toBe(0);
  });

  it('rejects a target whose tool point leaves the workspace box, or only logs it', () => {
    const outside = { ...inside, toolPoint: () => [2, 0, 0.3] };
    const reject = new SafetyEnvelope(robotWith({ workspace: 'reject' })).filter(home, home, moved(0, 0.01), dt, outside);
    expect(reject.outsideWorkspace).toBe(true);
    expect(reject.rejected).toMatch(/tool point would leave the workspace box/);
    expect([...reject.position]).toEqual([...home]);
    const log = new SafetyEnvelope(robotWith({ workspace: 'log' })).filter(home, home, moved(0, 0.01), dt, outside);
    expect(log.outsideWorkspace).toBe(true);
    expect(log.rejected).toBeUndefined();
    expect(log.position[0]).toBe(home[0] + 0.01);
  });

  it("rejects a target that puts a link below the table top, naming the link, or only logs it", () => {
    const below = { ...inside, lowestPoint: () => ({ z: -0.012, link: 'forearm/forearm_link' }) };
    const reject = new SafetyEnvelope(robotWith({ workspace: 'reject' })).filter(home, home, moved(1, 0.01), dt, below);
    expect(reject.belowTable).toEqual({ z: -0.012, link: 'forearm/forearm_link' });
    expect(reject.rejected).toBe('forearm/forearm_link would reach z = -0.0120 m, below the table top at 0 m');
    expect([...reject.position]).toEqual([...home]);
    const log = new SafetyEnvelope(robotWith({ workspace: 'log' })).filter(home, home, moved(1, 0.01), dt, below);
    expect(log.belowTable?.link).toBe('forearm/forearm_link');
    expect(log.rejected).toBeUndefined();
    const higher = new SafetyEnvelope({ ...arm6, workspace: { ...arm6.workspace, table: -0.02 } }).filter(home, home, moved(1, 0.01), dt, below);
    expect(higher.rejected).toBeUndefined();
  });

  it('checks every face of the workspace box', () => {
    const envelope = new SafetyEnvelope(arm6);
    const { min, max } = arm6.workspace;
    const centre = [0, 1, 2].map((i) => (min[i] + max[i]) / 2);
    expect(envelope.inWorkspace(centre)).toBe(true);
    for (let axis = 0; axis < 3; axis++) {
      for (const [edge, beyond] of [[min[axis], -1e-6], [max[axis], 1e-6]] as const) {
        const p = [...centre];
        p[axis] = edge;
        expect(envelope.inWorkspace(p)).toBe(true);
        p[axis] = edge + beyond;
        expect(envelope.inWorkspace(p)).toBe(false);
      }
    }
  });

  it('refuses non-finite targets and actions of the wrong length with the joint named', () => {
    const envelope = new SafetyEnvelope(arm6);
    expect(() => envelope.filter(home, home, moved(4, NaN), dt, inside)).toThrow(/target for joint wrist_2 is NaN/);
    expect(() => envelope.filter(home, home, [0, 0, 0], dt, inside)).toThrow(/must give 6 joint targets \(robot arm6\), got 3/);
  });

  it("clamps the gripper opening to its range and its force to the gripper's limit", () => {
    const envelope = new SafetyEnvelope(arm6);
    expect(envelope.gripperWidth(0.5)).toBe(0.09);
    expect(envelope.gripperWidth(-0.1)).toBe(0);
    expect(envelope.gripperWidth(0.04)).toBe(0.04);
    expect(() => envelope.gripperWidth(NaN)).toThrow(/gripper width is NaN/);
    expect(envelope.gripperEffort(undefined)).toBe(25);
    expect(envelope.gripperEffort(100)).toBe(25);
    expect(envelope.gripperEffort(10)).toBe(10);
    expect(() => envelope.gripperEffort(-1)).toThrow(/gripper effort is -1/);
    const noGripper = new SafetyEnvelope({ ...arm6, gripper: undefined });
    expect(noGripper.gripperWidth(0.05)).toBe(0);
    expect(noGripper.gripperEffort(10)).toBe(0);
  });
});

describe('SafeLink around the sim link', () => {
  let link: SafeLink;
  beforeAll(async () => {
    link = new SafeLink(await SimLink.create(sc));
  });
  afterAll(() => link.close());

  it('records every intervention on /safety and in the trace meta', async () => {
    await link.reset(3);
    await link.act({ position: moved(0, 1), gripperWidth: 0.09 }); // too fast: clamped
    await link.act({ position: link.observe().position, gripperWidth: 0.09 });
    const trace = link.trace();
    const clamps = trace.column(TOPIC.safety, 'velocity_clamps');
    expect(clamps[1]).toBe(1);
    expect(clamps[2]).toBe(0);
    const meta = trace.meta.safety as { velocity_clamps: number; interventions: { kind: string; detail: string }[] };
    expect(meta.velocity_clamps).toBe(1);
    expect(meta.interventions[0]).toMatchObject({ kind: 'clamp' });
    expect(meta.interventions[0].detail).toMatch(/1 velocity/);
  });

  it('an e-stop holds the robot and refuses commands until the next reset', async () => {
    await link.reset(4);
    await link.estop('operator pressed the stop key');
    expect(link.stopped).toBe(true);
    await expect(link.act({ position: home, gripperWidth: 0.09 })).rejects.toThrow(EmergencyStopError);
    const meta = link.trace().meta.safety as { estop: string | null };
    expect(meta.estop).toBe('operator pressed the stop key');
    await link.reset(4);
    expect(link.stopped).toBe(false);
    await expect(link.act({ position: home, gripperWidth: 0.09 })).resolves.toBeDefined();
  });

  it('stop() may be called by every way an episode ends; it halts once', async () => {
    await link.reset(5);
    const a = link.stop();
    const b = link.stop();
    expect(a).toBe(b);
    await a;
  });

  it('caps the tool-point speed for reduced-speed runs and lifts the cap again', async () => {
    const far = Float64Array.from(home);
    far[0] += 0.3;
    far[1] += 0.2;
    const toolStep = async (cap: number | undefined) => {
      link.limitToolSpeed(cap);
      await link.reset(6);
      const before = link.kinematics.pose(home).pos.slice();
      // Compare commanded tool points: the cap acts on what is sent.
      await link.act({ position: far, gripperWidth: 0.09 });
      const after = link.kinematics.pose(link.lastTarget).pos;
      return Math.hypot(after[0] - before[0], after[1] - before[1], after[2] - before[2]);
    };
    const cap = arm6.safety.reduced_speed;
    expect(await toolStep(cap)).toBeLessThanOrEqual(cap * link.controlPeriod + 1e-9);
    expect(await toolStep(undefined)).toBeGreaterThan(cap * link.controlPeriod * 2);
    expect(() => link.limitToolSpeed(0)).toThrow(/must be positive/);
  });

  it("finds the links' lowest point from the model: the shoulder at home, a moving link once the arm swings down", () => {
    const atHome = link.kinematics.lowestPoint(home);
    expect(atHome.link).toBe('shoulder/shoulder_link');
    expect(atHome.z).toBeCloseTo(0.1625 - 0.02 - 0.07, 9); // the shoulder cylinder's bottom face (model.xml)
    // Swinging the shoulder forward lowers the arm until a link below the shoulder reaches the table.
    let through: { z: number; link: string } | undefined;
    for (let lift = 0.1; lift <= 2 && !through; lift += 0.1) {
      const point = link.kinematics.lowestPoint(moved(1, lift));
      if (point.z < 0) through = point;
    }
    expect(through).toBeDefined();
    expect(through!.link).not.toMatch(/^(base|shoulder)\//);
  });

  it('keeps the links above the table when every target is 1e308 (a hostile code policy)', async () => {
    await link.reset(7);
    const hostile = new Float64Array(arm6.joints.length).fill(1e308);
    const table = arm6.workspace.table;
    let lowestSent = Infinity;
    let lowestMeasured = Infinity;
    for (let tick = 0; tick < 150; tick++) {
      const obs = await link.act({ position: hostile, gripperWidth: 0.09 });
      lowestSent = Math.min(lowestSent, link.kinematics.lowestPoint(link.lastTarget).z);
      lowestMeasured = Math.min(lowestMeasured, link.kinematics.lowestPoint(obs.position).z);
    }
    expect(lowestSent).toBeGreaterThanOrEqual(table);
    expect(lowestMeasured).toBeGreaterThan(table - 0.002); // what the controller lags behind by, no more
    const meta = link.trace().meta.safety as { rejected: number; interventions: { kind: string; detail: string }[] };
    expect(meta.rejected).toBeGreaterThan(0);
    expect(meta.interventions.some((i) => i.kind === 'reject' && /below the table top at 0 m/.test(i.detail))).toBe(true);
  });
});
