/**
 * The ray camera casts only the pixels a moving geom may cover and keeps the rest from earlier
 * frames; its images must be those of one `mj_multiRay` over every pixel (the camera as it was
 * before it kept anything), bit for bit: depth, labels and colour. Checked on the three worlds'
 * real scenes per seed with the arm swinging through every camera's view, and on each thing that
 * must make it cast everything again: the camera moving, a static geom moving, resized or made
 * invisible. Colour, shaded again only near pixels that changed, must equal colour shaded whole.
 * A pin made with the full-cast camera guards the whole chain.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimLink } from '../src/robot/sim-link.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { RayCamera, type RayImage } from '../src/sim/ray-camera.ts';
import { applyObjectSetup } from '../src/sim/randomize.ts';
import { World } from '../src/sim/world.ts';

/**
 * What the camera rendered before it kept anything: every pixel's ray in one `mj_multiRay`, the
 * rays and the depth conversion exactly as it made them.
 */
function fullCast(world: World, camera: string, width: number, height: number): RayImage {
  const { mj, model, data } = world;
  const id = world.id('camera', camera);
  const focal = height / 2 / Math.tan((((model.cam_fovy as Float64Array)[id] * Math.PI) / 180) / 2);
  const n = width * height;
  const rot = (data.cam_xmat as Float64Array).slice(9 * id, 9 * id + 9);
  const vec = new Float64Array(3 * n);
  const axisScale = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x0 = ((i % width) + 0.5 - width / 2) / focal;
    const y0 = -(Math.floor(i / width) + 0.5 - height / 2) / focal;
    const norm = Math.hypot(x0, y0, 1);
    const [x, y, z] = [x0 / norm, y0 / norm, -1 / norm];
    axisScale[i] = 1 / norm;
    vec[3 * i] = rot[0] * x + rot[1] * y + rot[2] * z;
    vec[3 * i + 1] = rot[3] * x + rot[4] * y + rot[5] * z;
    vec[3 * i + 2] = rot[6] * x + rot[7] * y + rot[8] * z;
  }
  const geomOut = new mj.IntBuffer(n);
  const distOut = new mj.DoubleBuffer(n);
  try {
    const pos = Array.from((data.cam_xpos as Float64Array).slice(3 * id, 3 * id + 3));
    mj.mj_multiRay(model, data, pos, vec as unknown as number[], new Uint8Array(6).fill(1), 1, -1, geomOut, distOut, n, 1e6);
    const geom = Int32Array.from(geomOut.GetView() as Int32Array);
    const dist = distOut.GetView() as Float64Array;
    const depth = new Float32Array(n);
    for (let i = 0; i < n; i++) depth[i] = geom[i] < 0 || dist[i] < 0 ? Infinity : dist[i] * axisScale[i];
    return { width, height, depth, geom };
  } finally {
    geomOut.delete();
    distOut.delete();
  }
}

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Renders with `camera` and checks depth, labels and colour against the full cast; returns the image. */
function expectFullCast(world: World, camera: RayCamera, name: string, what: string): RayImage {
  const image = camera.render();
  const want = fullCast(world, name, camera.width, camera.height);
  // Pixel by pixel first, so a failure names one.
  for (let i = 0; i < want.geom.length; i++) {
    if (image.geom[i] !== want.geom[i] || !Object.is(image.depth[i], want.depth[i])) {
      expect({ pixel: i, geom: image.geom[i], depth: image.depth[i] }, `${what}, ${name}`).toEqual({ pixel: i, geom: want.geom[i], depth: want.depth[i] });
    }
  }
  expect(bytes(image.depth).equals(bytes(want.depth)), `${what}, ${name}: depth bits`).toBe(true);
  // Colour from the full cast, shaded whole by a camera that has shaded nothing before.
  const fresh = new RayCamera(world, name, camera.width, camera.height);
  try {
    expect(bytes(camera.rgb(image)).equals(bytes(fresh.rgb(want))), `${what}, ${name}: colour`).toBe(true);
  } finally {
    fresh.dispose();
  }
  return image;
}

describe('ray camera frames are those of a full cast, bit for bit', () => {
  it.each([
    ['scenarios/pick-place.yaml', [3, 8]],
    ['scenarios/machining-contour.yaml', [1, 6]],
    ['scenarios/sort-instructed.yaml', [2, 5]],
  ] as const)('%s: seeds, the arm swinging through every camera, cubes and workpieces where the task puts them', async (path, seeds) => {
    const link = await SimLink.create(await loadScenario(path));
    const { world } = link;
    // The arm's geoms: those of the bodies under its base (copied: wasm views go stale).
    const rootOf = Array.from(world.model.body_rootid as Int32Array);
    const armGeom = Array.from(world.model.geom_bodyid as Int32Array, (b) => rootOf[b] === rootOf[world.id('body', 'base')]);
    // Every camera of the world, one at an odd size (tiles cut at the edges).
    const cameras = world.names('camera').map((name, i) => ({ name, camera: new RayCamera(world, name, i === 0 ? 101 : 160, i === 0 ? 77 : 120) }));
    let armSeen = 0;
    let keptPixels = 0;
    try {
      for (const seed of seeds) {
        const first = await link.reset(seed);
        const home = Array.from(first.position);
        for (let tick = 0; tick <= 150; tick++) {
          const phase = (2 * Math.PI * tick) / 150;
          // Shoulder swinging across the table, the elbow and wrist bending: the arm crosses each view.
          const position = home.map((q, j) => q + [1.1 * Math.sin(phase), 0.35 * Math.sin(2 * phase), -0.5 * Math.sin(phase), 0.6 * Math.cos(phase), 0.4 * Math.sin(phase), 1.5 * phase][j]);
          await link.act({ position, gripperWidth: 0.045 + 0.04 * Math.sin(3 * phase) });
          if (tick % 6 !== 0) continue;
          for (const { name, camera } of cameras) {
            const image = expectFullCast(world, camera, name, `${path} seed ${seed} tick ${tick}`);
            if (image.geom.some((g) => g >= 0 && armGeom[g])) armSeen++;
            keptPixels += image.geom.length - camera.raysCast;
          }
        }
      }
    } finally {
      for (const { camera } of cameras) camera.dispose();
      await link.close();
    }
    // The checks above must have covered frames with the arm in view, and frames the cache served.
    expect(armSeen).toBeGreaterThan(20);
    expect(keptPixels).toBeGreaterThan(0);
  }, 240_000);
});

describe('what makes the ray camera cast every pixel again', () => {
  let world: World;
  beforeAll(async () => {
    world = await World.load('sim/pick_place.xml');
  });
  afterAll(() => world.dispose());

  it('casts only where moving geoms may be while the camera and the static world stand still, and everything when either moves', () => {
    world.resetData();
    world.forward();
    const n = 160 * 120;
    const camera = new RayCamera(world, 'top', 160, 120);
    try {
      expectFullCast(world, camera, 'top', 'first frame');
      expect(camera.raysCast).toBe(n);
      expectFullCast(world, camera, 'top', 'the same state again');
      expect(camera.raysCast).toBeGreaterThan(0); // the arm and the box are in view
      expect(camera.raysCast).toBeLessThan(n / 4);

      // A static geom moved (the target zone, as a task does per seed): its pixels change.
      const zone = world.id('geom', 'target_zone');
      world.placeFlatGeom(zone, [0.3, -0.2], [0.08, 0.05]);
      world.forward();
      const moved = expectFullCast(world, camera, 'top', 'zone moved');
      expect(camera.raysCast).toBe(n);
      expect(moved.geom.filter((g) => g === zone).length).toBeGreaterThan(100);
      expectFullCast(world, camera, 'top', 'after the zone moved');
      expect(camera.raysCast).toBeLessThan(n / 4);

      // A static geom made invisible to rays (alpha 0): the table shows through where it was.
      (world.model.geom_rgba as Float32Array)[4 * zone + 3] = 0;
      const hidden = expectFullCast(world, camera, 'top', 'zone invisible');
      expect(camera.raysCast).toBe(n);
      expect(hidden.geom.includes(zone)).toBe(false);
      (world.model.geom_rgba as Float32Array)[4 * zone + 3] = 0.45;

      // A static geom resized in the model (no pose change): the table shrinks.
      const table = world.id('geom', 'table');
      const size = world.model.geom_size as Float64Array;
      const tableSize = Array.from(size.subarray(3 * table, 3 * table + 3));
      size.set([0.3, 0.25, 0.025], 3 * table);
      expectFullCast(world, camera, 'top', 'table resized');
      expect(camera.raysCast).toBe(n);
      size.set(tableSize, 3 * table);

      // The moving box resized and placed by the task's randomization: only where it may be.
      applyObjectSetup(world, world.id('body', 'box'), { x: 0.5, y: 0.1, yaw: 0.7, halfSize: 0.045, mass: 0.3, friction: 1 });
      world.forward();
      expectFullCast(world, camera, 'top', 'box resized');
      expectFullCast(world, camera, 'top', 'box resized, again');
      expect(camera.raysCast).toBeLessThan(n / 4);

      // The camera moved (as one on the arm would): every frame is cast whole.
      const camPos = world.model.cam_pos as Float64Array;
      const top = world.id('camera', 'top');
      for (const [dx, dz] of [[0.05, 0], [0.05, -0.4], [0.2, -0.9]]) {
        camPos[3 * top] = 0.45 + dx;
        camPos[3 * top + 2] = 1.5 + dz;
        world.forward();
        expectFullCast(world, camera, 'top', `camera at +${dx}, ${dz}`);
        expect(camera.raysCast).toBe(n);
      }
    } finally {
      camera.dispose();
    }
  });

  it('casts every pixel from inside a moving geom’s bounding sphere, and images stay right from there', () => {
    world.resetData();
    world.forward();
    // A camera looking down from just above the gripper: inside the palm's bounding sphere.
    const palm = world.id('geom', 'palm');
    const palmPos = Array.from((world.data.geom_xpos as Float64Array).subarray(3 * palm, 3 * palm + 3));
    const top = world.id('camera', 'top');
    const camPos = world.model.cam_pos as Float64Array;
    const before = Array.from(camPos.subarray(3 * top, 3 * top + 3));
    camPos.set([palmPos[0], palmPos[1], palmPos[2] + 0.05], 3 * top);
    world.forward();
    const camera = new RayCamera(world, 'top', 64, 48);
    try {
      expectFullCast(world, camera, 'top', 'inside the palm’s sphere');
      expectFullCast(world, camera, 'top', 'inside the palm’s sphere, again');
      expect(camera.raysCast).toBe(64 * 48);
    } finally {
      camera.dispose();
      camPos.set(before, 3 * top);
    }
  });
});

describe('ray camera images as the full-cast camera made them', () => {
  it('hashes of a sweep of the arm through both cameras of sim/pick_place.xml match the pin', async () => {
    const world = await World.load('sim/pick_place.xml');
    const arm = (await loadScenario('scenarios/pick-place.yaml')).robotConfig;
    const qposAdr = arm.joints.map((j) => (world.model.jnt_qposadr as Int32Array)[world.id('joint', j.name)]);
    const hash = createHash('sha256');
    try {
      for (const name of ['top', 'side']) {
        const camera = new RayCamera(world, name, 160, 120);
        for (let f = 0; f < 24; f++) {
          world.resetData();
          const qpos = world.data.qpos as Float64Array;
          arm.home.forEach((q, i) => (qpos[qposAdr[i]] = q + (i === 0 ? -0.9 + (1.8 * f) / 24 : i === 2 ? -0.3 * Math.sin(f / 4) : 0)));
          world.forward();
          const image = camera.render();
          hash.update(bytes(image.depth)).update(bytes(image.geom)).update(camera.rgb(image));
        }
        camera.dispose();
      }
    } finally {
      world.dispose();
    }
    // Made by the camera before it kept anything (one mj_multiRay over every pixel, commit f6def4d).
    expect(hash.digest('hex').slice(0, 16)).toBe('4e9b3985d6e81a55');
  });
});
