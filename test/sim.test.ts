import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { World } from '../src/sim/world.ts';
import { Kinematics } from '../src/sim/kinematics.ts';
import { RayCamera } from '../src/sim/ray-camera.ts';
import { applyObjectSetup } from '../src/sim/randomize.ts';
import { sampleObjectSetup } from '../src/tasks/pick-place/scene.ts';
import { solveIk, downwardRotation } from '../src/policy/ik.ts';
import { Rng } from '../src/scenario/rng.ts';
import { liveView } from '../src/sim/live-view.ts';
import { pickPlace, scenario } from './helpers.ts';

const sc = await scenario();
let world: World;
beforeAll(async () => {
  world = await World.load(sc.worldPath);
});
afterAll(() => world.dispose());

function boxQposAdr(): number {
  const body = world.id('body', 'box');
  return (world.model.jnt_qposadr as Int32Array)[(world.model.body_jntadr as Int32Array)[body]];
}

describe('physics', () => {
  it('a free body falls with g: z(t) = z0 - g t^2 / 2 before it lands', () => {
    world.resetData();
    const adr = boxQposAdr();
    (world.data.qpos as Float64Array).set([0.5, -0.25, 0.8, 1, 0, 0, 0], adr);
    const steps = Math.round(0.3 / world.timestep);
    world.step(steps);
    const dt = world.timestep;
    const t = steps * dt;
    // Semi-implicit Euler: v_n = -g n dt, z_n = z0 - g dt² n(n+1)/2, which is z0 - g t²/2 less
    // its first-order error g t dt / 2. The sim must match that exactly (no drag, no contact).
    const discrete = 0.8 - (9.81 * dt * dt * steps * (steps + 1)) / 2;
    const z = (world.data.qpos as Float64Array)[adr + 2];
    expect(Math.abs(z - discrete)).toBeLessThan(1e-9);
    expect(Math.abs(z - (0.8 - 0.5 * 9.81 * t * t))).toBeLessThan(9.81 * t * dt);
  });

  it('a box resting on the table carries its weight through the contacts and does not sink', () => {
    world.resetData();
    const body = world.id('body', 'box');
    applyObjectSetup(world, body, { x: 0.5, y: -0.25, yaw: 0.3, halfSize: 0.03, mass: 0.6, friction: 1 });
    world.step(Math.round(1 / world.timestep));
    const adr = boxQposAdr();
    const z = (world.data.qpos as Float64Array)[adr + 2];
    expect(Math.abs(z - 0.03)).toBeLessThan(0.001);
    const table = world.id('geom', 'table');
    const boxGeom = world.id('geom', 'box');
    const support = world
      .contacts()
      .filter((c) => (c.geom1 === table && c.geom2 === boxGeom) || (c.geom2 === table && c.geom1 === boxGeom))
      .reduce((sum, c) => sum + c.normalForce, 0);
    expect(support).toBeGreaterThan(0.6 * 9.81 * 0.97);
    expect(support).toBeLessThan(0.6 * 9.81 * 1.03);
  });
});

describe('inverse kinematics', () => {
  it('reaches reachable targets within 2 mm', () => {
    const joints = sc.robotConfig.joints;
    const kin = new Kinematics(world, joints.map((j) => j.name), world.id('site', 'tcp'));
    const limits = joints.map((j) => j.position);
    const rng = new Rng(7);
    let worst = 0;
    for (let trial = 0; trial < 40; trial++) {
      // A reachable target: the pose of a random configuration near home.
      const q = sc.robotConfig.home.map((h) => h + rng.uniform(-0.5, 0.5));
      const target = kin.pose(q);
      const result = solveIk(kin, sc.robotConfig.home, target, { limits, maxIterations: 300 });
      worst = Math.max(worst, result.positionError);
      expect(result.positionError).toBeLessThan(0.002);
      expect(result.orientationError).toBeLessThan(0.01);
    }
    expect(worst).toBeLessThan(0.002);
    kin.dispose();
  });

  it('points the tool straight down at the home pose', () => {
    const kin = new Kinematics(world, sc.robotConfig.joints.map((j) => j.name), world.id('site', 'tcp'));
    const { pos, mat } = kin.pose(sc.robotConfig.home);
    expect(pos[0]).toBeCloseTo(0.4, 3);
    expect(pos[1]).toBeCloseTo(0, 3);
    expect(pos[2]).toBeCloseTo(0.35, 3);
    const down = downwardRotation(0);
    for (let i = 0; i < 9; i++) expect(mat[i]).toBeCloseTo(down[i], 3);
    kin.dispose();
  });
});

describe('randomization', () => {
  it('keeps every drawn value inside its range, and a seed always draws the same', () => {
    const r = pickPlace(sc).randomization;
    const inside = (v: number, [lo, hi]: [number, number]) => v >= lo && v <= hi;
    const seen = { x: new Set<number>() };
    for (let seed = 0; seed < 500; seed++) {
      const s = sampleObjectSetup(r, seed);
      expect(inside(s.x, r.object_x) && inside(s.y, r.object_y) && inside(s.yaw, r.object_yaw)).toBe(true);
      expect(inside(s.halfSize, r.object_half_size) && inside(s.mass, r.object_mass)).toBe(true);
      expect(inside(s.friction, r.object_friction)).toBe(true);
      expect(sampleObjectSetup(r, seed)).toEqual(s);
      seen.x.add(s.x);
    }
    expect(seen.x.size).toBe(500);
  });

  it('writes the drawn size, mass and friction into the model', () => {
    const body = world.id('body', 'box');
    const setup = sampleObjectSetup(pickPlace(sc).randomization, 11);
    world.resetData();
    applyObjectSetup(world, body, setup);
    const geom = world.id('geom', 'box');
    expect((world.model.geom_size as Float64Array)[3 * geom]).toBeCloseTo(setup.halfSize, 12);
    expect((world.model.body_mass as Float64Array)[body]).toBeCloseTo(setup.mass, 12);
    expect((world.model.geom_friction as Float64Array)[3 * geom]).toBeCloseTo(setup.friction, 12);
  });
});

describe('ray camera', () => {
  it('sees the table from the top camera at the right depth and the box where it is', () => {
    world.resetData();
    const body = world.id('body', 'box');
    applyObjectSetup(world, body, { x: 0.45, y: 0, yaw: 0, halfSize: 0.03, mass: 0.3, friction: 1 });
    world.forward();
    const camera = new RayCamera(world, 'top', 64, 48);
    const image = camera.render();
    const centre = 24 * 64 + 32;
    // The top camera hangs 1.5 m above the table, looking down at (0.45, 0): the box is in the middle.
    expect(image.geom[centre]).toBe(world.id('geom', 'box'));
    expect(image.depth[centre]).toBeCloseTo(1.5 - 0.06, 3);
    const tablePixels = Array.from(image.geom).filter((g) => g === world.id('geom', 'table')).length;
    expect(tablePixels).toBeGreaterThan(64 * 48 * 0.3);
    camera.dispose();
  });
});

describe('live views', () => {
  it('keep a view of wasm memory across calls, and fetch it again once memory growth has detached it', () => {
    world.resetData();
    let fetched = 0;
    const qpos = liveView(() => {
      fetched++;
      return world.data.qpos as Float64Array;
    });
    const first = qpos();
    expect(qpos()).toBe(first);
    expect(fetched).toBe(1);
    // The kinematics keeps such views too: after the growth it must still compute the same pose.
    const kin = new Kinematics(world, sc.robotConfig.joints.map((j) => j.name), world.id('site', 'tcp'));
    const before = kin.jacobian(sc.robotConfig.home);
    const pose = { pos: before.pos.slice(), mat: before.mat.slice(), jac: before.jac.slice() };
    // Allocate until wasm memory grows, which detaches every view of the old buffer.
    const held: InstanceType<typeof world.mj.DoubleBuffer>[] = [];
    while (first.length > 0 && held.length < 64) held.push(new world.mj.DoubleBuffer(2 * 1024 * 1024));
    try {
      expect(first.length).toBe(0);
      const fresh = qpos();
      expect(fetched).toBe(2);
      expect(fresh.length).toBe(world.model.nq);
      fresh[0] = 0.125;
      expect((world.data.qpos as Float64Array)[0]).toBe(0.125);
      const after = kin.jacobian(sc.robotConfig.home);
      expect([after.pos, after.mat, after.jac].map((a) => Array.from(a))).toEqual([pose.pos, pose.mat, pose.jac].map((a) => Array.from(a)));
      expect(Array.from(kin.pose(sc.robotConfig.home).pos)).toEqual(Array.from(pose.pos));
    } finally {
      for (const buffer of held) buffer.delete();
      kin.dispose();
    }
  });
});
