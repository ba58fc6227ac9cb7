/**
 * Perturbations on the real MuJoCo world: each axis writes what it says into the model (and the
 * next nominal episode gets the nominal model back), changes the episode the way it says (a
 * heavier cube sinks the lift, latency delays the tool, noise and offsets reach the policy but
 * not the recorded truth), draws are paired across tiers, and bad files are refused naming the
 * file, line and field.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { SimLink } from '../src/robot/sim-link.ts';
import { loadPerturbationFile, loadScenario, withCalibration } from '../src/scenario/load.ts';
import { nominalValue, type AxisValue } from '../src/scenario/perturbation.ts';
import { ValidationError } from '../src/scenario/validate.ts';
import type { Trace } from '../src/trace/trace.ts';
import { drawValues, formatInline, perturbSource } from '../src/scenario/perturbation-draw.ts';
import { scenario, tunedPolicy } from './helpers.ts';

const sc = await scenario();
const axes = sc.perturbations!.axes;
const dir = mkdtempSync(join(tmpdir(), 'arbor-perturb-'));
const at = (name: string, value: number): AxisValue => ({ name, axis: axes[name], value });

let link: SimLink;
let runner: EpisodeRunner;
beforeAll(async () => {
  link = await SimLink.create(sc);
  runner = await EpisodeRunner.create(sc);
});
afterAll(async () => {
  await link.close();
  await runner.close();
});

/** A copy of a model array. */
function field(name: string): Float64Array {
  return (link.world.model as unknown as Record<string, Float64Array>)[name].slice();
}

/** The position column of a joint in a trace. */
function jointColumn(trace: Trace, joint: string): Float32Array {
  return trace.column('/joint_states', `position.${joint}`);
}

describe('model axes', () => {
  it('scale exactly the MuJoCo quantities they name, and a nominal episode restores them', async () => {
    link.perturb([]);
    await link.reset(3);
    const nominal = Object.fromEntries(['actuator_gainprm', 'actuator_biasprm', 'actuator_forcerange', 'dof_damping', 'dof_armature', 'dof_frictionloss', 'body_mass', 'geom_friction'].map((f) => [f, field(f)]));
    const drawn = link.trace().meta.objectSetup as { mass: number; friction: number; halfSize: number };
    const id = (kind: 'actuator' | 'joint' | 'body' | 'geom', name: string) => link.world.id(kind, name);
    const dof = (name: string) => (link.world.model.jnt_dofadr as Int32Array)[id('joint', name)];

    link.perturb(['arm_kp', 'arm_damping', 'arm_armature', 'arm_frictionloss', 'wrist_effort', 'link_mass', 'gripper_force', 'finger_friction', 'cube_mass', 'cube_friction', 'table_friction'].map((n) => at(n, 1.5)));
    await link.reset(3);
    const elbow = id('actuator', 'elbow');
    expect(field('actuator_gainprm')[10 * elbow]).toBeCloseTo(1.5 * nominal.actuator_gainprm[10 * elbow], 9);
    expect(field('actuator_biasprm')[10 * elbow + 1]).toBeCloseTo(1.5 * nominal.actuator_biasprm[10 * elbow + 1], 9);
    expect(field('dof_damping')[dof('elbow')]).toBeCloseTo(1.5 * nominal.dof_damping[dof('elbow')], 9);
    expect(field('dof_armature')[dof('wrist_2')]).toBeCloseTo(1.5 * nominal.dof_armature[dof('wrist_2')], 9);
    expect(field('dof_frictionloss')[dof('shoulder_pan')]).toBeCloseTo(1.5 * nominal.dof_frictionloss[dof('shoulder_pan')], 9);
    // The effort limit of the wrists only, as the axis names them.
    expect(field('actuator_forcerange')[2 * id('actuator', 'wrist_1') + 1]).toBeCloseTo(1.5 * 28, 9);
    expect(field('actuator_forcerange')[2 * id('actuator', 'shoulder_lift') + 1]).toBe(150);
    expect(field('body_mass')[id('body', 'upper_arm')]).toBeCloseTo(1.5 * nominal.body_mass[id('body', 'upper_arm')], 9);
    expect(field('actuator_forcerange')[2 * id('actuator', 'left_finger') + 1]).toBeCloseTo(1.5 * 25, 9);
    expect(field('geom_friction')[3 * id('geom', 'left_finger')]).toBeCloseTo(1.5 * nominal.geom_friction[3 * id('geom', 'left_finger')], 9);
    expect(field('geom_friction')[3 * id('geom', 'table')]).toBeCloseTo(1.5 * 0.8, 9);
    // The cube's scale multiplies the task's own draw of this seed.
    expect(field('body_mass')[id('body', 'box')]).toBeCloseTo(1.5 * drawn.mass, 9);
    expect(field('geom_friction')[3 * (link.world.model.body_geomadr as Int32Array)[id('body', 'box')]]).toBeCloseTo(1.5 * drawn.friction, 9);
    // Recomputing the mass-dependent constants kept the cube where the task put it, on the table.
    expect(link.objectPoses().box.position[2]).toBeCloseTo(drawn.halfSize, 3);

    link.perturb([]);
    await link.reset(3);
    for (const [name, values] of Object.entries(nominal)) expect(field(name), name).toEqual(values);
  });

  it('a heavier cube sinks the lift margin', async () => {
    for (const seed of [5, 1001]) {
      const light = await runner.run(tunedPolicy(), seed);
      const heavy = await runner.run(tunedPolicy(), seed, undefined, [at('cube_mass', 4)]);
      expect(heavy.metrics.lift_height as number).toBeLessThan((light.metrics.lift_height as number) - 0.005);
    }
  });

  it('softer, more damped, heavier joints follow a step more slowly', async () => {
    /** The fraction of a small step (inside the effort limit) a shoulder makes in one control tick. */
    const progress = async (values: AxisValue[]) => {
      link.perturb(values);
      const obs = await link.reset(0);
      const target = Float64Array.from(obs.position);
      target[0] += 0.02;
      return ((await link.act({ position: target, gripperWidth: 0.09 })).position[0] - obs.position[0]) / 0.02;
    };
    const nominal = await progress([]);
    expect(await progress([at('arm_kp', 0.5)])).toBeLessThan(0.7 * nominal);
    expect(await progress([at('arm_damping', 2)])).toBeLessThan(0.85 * nominal);
    expect(await progress([at('arm_armature', 3)])).toBeLessThan(0.95 * nominal);
  });
});

describe('link axes', () => {
  it('command latency delays the tool by exactly its ticks, and the trace meta says so', async () => {
    const firstMove = (trace: Trace) => {
      const q = jointColumn(trace, 'shoulder_pan');
      const stamps = trace.topic('/joint_states').stamps;
      return stamps[q.findIndex((v) => Math.abs(v - q[0]) > 1e-3)];
    };
    const nominal = await runner.run(tunedPolicy(), 2);
    const late = await runner.run(tunedPolicy(), 2, undefined, [at('command_delay', 3)]);
    expect(firstMove(late.trace) - firstMove(nominal.trace)).toBeCloseTo(3 * 0.02, 6);
    expect(late.trace.meta.perturbation).toEqual([at('command_delay', 3)]);
    expect(nominal.trace.meta.perturbation).toBeUndefined();
  });

  it('observation latency shows the policy the state of ticks ago; the topics keep the truth', async () => {
    link.perturb([at('observation_delay', 2)]);
    const obs = await link.reset(0);
    const target = Float64Array.from(obs.position);
    target[1] += 0.2;
    const seen: number[] = [];
    for (let k = 0; k < 8; k++) seen.push((await link.act({ position: target, gripperWidth: 0.09 })).position[1]);
    const truth = jointColumn(link.trace(), 'shoulder_lift'); // row 0 is the reset, row k + 1 tick k
    for (let k = 2; k < 8; k++) expect(seen[k]).toBeCloseTo(truth[k - 1], 5);
    expect(seen[0]).toBeCloseTo(truth[0], 5);
  });

  it('noise and a perception offset reach what the policy sees, with the size they say', async () => {
    link.perturb([at('joint_noise', 0.01), at('wrench_noise', 2), at('perception_x', 0.01)]);
    await link.reset(4);
    const errors: number[] = [];
    const wrenchErrors: number[] = [];
    const offsets: number[] = [];
    const home = Float64Array.from(sc.robotConfig.home);
    for (let k = 0; k < 60; k++) {
      const obs = await link.act({ position: home, gripperWidth: 0.09 });
      const truth = link.trace();
      const row = (topic: string) => {
        const t = truth.topic(topic);
        return t.data.subarray((t.stamps.length - 1) * t.fields.length, t.stamps.length * t.fields.length);
      };
      obs.position.forEach((q, i) => errors.push(q - row('/joint_states')[i]));
      obs.wrench.forEach((w, i) => wrenchErrors.push(w - row('/wrench')[i]));
      offsets.push(obs.objects.box.position[0] - row('/object_pose/box')[0]);
    }
    const rms = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + x * x, 0) / xs.length);
    expect(rms(errors)).toBeGreaterThan(0.008);
    expect(rms(errors)).toBeLessThan(0.012);
    expect(rms(wrenchErrors)).toBeGreaterThan(1.6);
    expect(rms(wrenchErrors)).toBeLessThan(2.4);
    // The task's own perception error of this seed, plus the axis's 1 cm.
    const taskError = (link.trace().meta.perceptionError as number[])[0];
    for (const o of offsets) expect(o).toBeCloseTo(taskError + 0.01, 5);
  });
});

describe('draws and tiers', () => {
  const block = sc.perturbations!;

  it('are paired: a seed draws the same world at every tier, shrunk toward nominal', () => {
    for (const seed of [0, 7, 1003]) {
      const t4 = drawValues(block, 1, seed);
      const t1 = drawValues(block, 0.25, seed);
      expect(drawValues(block, 1, seed)).toEqual(t4); // deterministic by seed
      for (const v of t1) {
        if (v.axis.kind === 'command_delay' || v.axis.kind === 'observation_delay') continue; // rounded to ticks
        const wide = t4.find((w) => w.name === v.name)!;
        const nominal = nominalValue(v.axis);
        expect(v.value - nominal).toBeCloseTo(0.25 * (wide.value - nominal), 9);
      }
      expect(drawValues(block, 0, seed)).toEqual([]); // T0 is the nominal world itself
    }
    expect(drawValues(block, 1, 0)).not.toEqual(drawValues(block, 1, 1));
  });

  it('replay commands round-trip: inline values give back the world they print', () => {
    const values = drawValues(block, 1, 11).filter((v) => v.axis.kind !== 'perception_offset');
    const again = perturbSource(formatInline(values), sc)(0);
    again.forEach((v, i) => expect(v.value).toBeCloseTo(values[i].value, 5));
    expect(() => perturbSource('cube_mas=2', sc)).toThrow(/'cube_mas' is not an axis of .*pick-place.yaml; its axes are arm_kp/);
    expect(() => perturbSource('cube_mass=-1', sc)).toThrow(/scale and must be greater than 0/);
  });
});

describe('bad perturbations are refused naming file, line and field', () => {
  it('in a perturbation file: an unknown axis, a scale of 0, a negative mass, an unknown joint', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'axes:\n  heavy: { kind: object_mass, scale: [-1, 2] }\n  slow: { kind: kp, scale: 0 }\n  warp: { kind: teleport, scale: 2 }\n');
    const problems = refused(() => loadPerturbationFile(bad, sc.robotConfig));
    expect(problems).toContainEqual(expect.objectContaining({ file: bad, line: 2, path: 'axes.heavy.scale.0', message: expect.stringMatching(/greater than 0/) }));
    expect(problems).toContainEqual(expect.objectContaining({ line: 3, path: 'axes.slow.scale' }));
    expect(problems).toContainEqual(expect.objectContaining({ line: 4, path: 'axes.warp.kind', message: expect.stringMatching(/'teleport' is not a perturbation axis kind; use one of: kp, damping/) }));
    const joint = join(dir, 'joint.yaml');
    writeFileSync(joint, 'axes:\n  slow:\n    kind: damping\n    joints: [shoulder_pan, elbo]\n    scale: 2\n');
    expect(refused(() => loadPerturbationFile(joint, sc.robotConfig))).toEqual([
      expect.objectContaining({ file: joint, line: 4, path: 'axes.slow.joints.1', message: "'elbo' is not an arm joint of the robot", hint: expect.stringMatching(/shoulder_pan, shoulder_lift, elbow/) }),
    ]);
  });

  it('in a scenario, with its line', async () => {
    const file = join(process.cwd(), 'scenarios', `.perturb-test-${process.pid}.yaml`);
    const { readFileSync, rmSync } = await import('node:fs');
    writeFileSync(file, readFileSync('scenarios/pick-place.yaml', 'utf8').replace('arm_damping:       { kind: damping, scale: [0.5, 2.0] }', 'arm_damping:       { kind: damping, joints: [wrist9], scale: [0.5, 2.0] }'));
    try {
      const problems = await loadScenario(file).then(() => [], (e: unknown) => (e as ValidationError).problems);
      expect(problems).toEqual([expect.objectContaining({ path: 'perturbations.axes.arm_damping.joints.0', line: expect.any(Number), message: "'wrist9' is not an arm joint of the robot" })]);
    } finally {
      rmSync(file);
    }
  });

  it('by arbor check --perturb; a body the world lacks by the link, naming the axis', async () => {
    const joint = join(dir, 'joint.yaml');
    const { stderr } = await promisify(execFile)(process.execPath, ['bin/arbor.js', 'check', 'scenarios/pick-place.yaml', '--perturb', joint]).then(
      () => ({ stderr: '' }),
      (e: { stderr: string }) => e,
    );
    expect(stderr).toMatch(/joint\.yaml:4: axes\.slow\.joints\.1: 'elbo' is not an arm joint/);
    const ball: AxisValue = { name: 'ball', axis: { kind: 'object_mass', object: 'ball', scale: [2, 2] }, value: 2 };
    expect(() => link.perturb([ball])).toThrow(/Perturbation axis 'ball' \(object_mass\): The model has no body named 'ball'/);
  });
});

describe('calibration', () => {
  it('loads the world with its fixed values before any perturbation, and the trace says which file', async () => {
    const file = join(dir, 'calibration.yaml');
    writeFileSync(file, 'axes:\n  arm_kp: { kind: kp, scale: 0.8 }\n  latency: { kind: command_delay, ticks: 1 }\n');
    const calibrated = await SimLink.create(withCalibration(sc, file));
    try {
      const elbow = calibrated.world.id('actuator', 'elbow');
      calibrated.perturb([at('arm_kp', 0.5)]);
      await calibrated.reset(1);
      // The perturbation scales the calibrated gain: 5000 · 0.8 · 0.5.
      expect((calibrated.world.model.actuator_gainprm as Float64Array)[10 * elbow]).toBeCloseTo(2000, 9);
      calibrated.perturb([]);
      await calibrated.reset(1);
      expect((calibrated.world.model.actuator_gainprm as Float64Array)[10 * elbow]).toBeCloseTo(4000, 9);
      expect(calibrated.trace().meta.calibration).toBe(file);
    } finally {
      await calibrated.close();
    }
  });

  it('refuses a range, naming the axis', () => {
    const file = join(dir, 'ranged.yaml');
    writeFileSync(file, 'axes:\n  arm_kp: { kind: kp, scale: [0.8, 0.9] }\n');
    expect(refused(() => withCalibration(sc, file))).toEqual([expect.objectContaining({ file, path: 'axes.arm_kp', message: 'is a range [0.8, 0.9]; a calibration fixes each axis to one value' })]);
  });
});

function refused(load: () => unknown) {
  try {
    load();
  } catch (err) {
    if (err instanceof ValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected a ValidationError');
}
