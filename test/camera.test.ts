/**
 * The ray camera on the real pick-and-place world: depth that back-projects onto the geometry it
 * saw, colours and labels of what is there, the recorded camera model matching MJCF's attributes,
 * and cameras recorded into episodes at the scenario's rate (and never when it asks for none).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { RayCamera } from '../src/sim/ray-camera.ts';
import { applyObjectSetup } from '../src/sim/randomize.ts';
import { World } from '../src/sim/world.ts';
import { calibrationModel, pixelToWorld } from '../src/scoring/vision.ts';
import { encodeTrace } from '../src/trace/trace.ts';
import { scenario, tunedPolicy } from './helpers.ts';
import { scenarioCopy } from './study-helpers.ts';

let world: World;
beforeAll(async () => {
  world = await World.load('sim/pick_place.xml');
});
afterAll(() => world.dispose());

const HALF = 0.03;
const BOX = { x: 0.42, y: 0.05, yaw: 0.3, halfSize: HALF, mass: 0.3, friction: 1 };

describe('ray camera images', () => {
  it('gives depths that back-project onto the table top and the box top, from above and at a slant', () => {
    world.resetData();
    applyObjectSetup(world, world.id('body', 'box'), BOX);
    world.forward();
    const table = world.id('geom', 'table');
    const box = world.id('geom', 'box');
    for (const name of ['top', 'side']) {
      const camera = new RayCamera(world, name, 160, 120);
      const image = camera.render();
      const model = camera.model();
      let tablePixels = 0;
      let boxTopPixels = 0;
      for (let v = 0; v < 120; v++) {
        for (let u = 0; u < 160; u++) {
          const i = v * 160 + u;
          const p = pixelToWorld(model, u, v, image.depth[i]);
          if (image.geom[i] === table) {
            // The table top is the plane z = 0, within its 0.6 m half extents around (0.4, 0).
            if (Math.abs(p[2]) < 1e-3) tablePixels++;
            else expect(p[2], `table pixel ${u},${v} of ${name} sees a side`).toBeLessThan(0);
            expect(Math.abs(p[0] - 0.4)).toBeLessThan(0.6 + 1e-3);
          }
          if (image.geom[i] === box) {
            // Every box pixel lies on the box: inside its footprint (rotated by yaw), at most its height.
            const dx = p[0] - BOX.x;
            const dy = p[1] - BOX.y;
            const along = Math.cos(BOX.yaw) * dx + Math.sin(BOX.yaw) * dy;
            const across = -Math.sin(BOX.yaw) * dx + Math.cos(BOX.yaw) * dy;
            expect(Math.max(Math.abs(along), Math.abs(across))).toBeLessThan(HALF + 1e-3);
            expect(p[2]).toBeLessThan(2 * HALF + 1e-3);
            if (Math.abs(p[2] - 2 * HALF) < 1e-3) boxTopPixels++;
          }
        }
      }
      expect(tablePixels, name).toBeGreaterThan(1000);
      expect(boxTopPixels, name).toBeGreaterThan(5);
      camera.dispose();
    }
  });

  it("colours each geom with its material colour, labels it with its id, and models the MJCF camera's pose and field of view", () => {
    world.resetData();
    applyObjectSetup(world, world.id('body', 'box'), { ...BOX, x: 0.45, y: 0 });
    world.forward();
    const camera = new RayCamera(world, 'top', 160, 120);
    const image = camera.render();
    const rgb = camera.rgb(image);
    const centre = 60 * 160 + 80;
    expect(image.geom[centre]).toBe(world.id('geom', 'box'));
    // The box (rgba 0.85 0.25 0.2) seen squarely from above: its colour at full light.
    expect(Array.from(rgb.subarray(3 * centre, 3 * centre + 3))).toEqual([217, 64, 51]);
    const corner = 3 * (30 * 160 + 40);
    expect(image.geom[corner / 3]).toBe(world.id('geom', 'table'));
    // The table (rgba 0.55 0.45 0.35) seen off-axis: the same colour, a little darker.
    const shade = [0.55, 0.45, 0.35].map((c, k) => rgb[corner + k] / (255 * c));
    for (const s of shade) expect(s).toBeCloseTo(shade[0], 1);
    expect(shade[0]).toBeGreaterThan(0.35);
    expect(shade[0]).toBeLessThan(1);
    // <camera name="top" pos="0.45 0 1.5" xyaxes="0 -1 0 1 0 0" fovy="50"/>
    const fromMjcf = calibrationModel({ position: [0.45, 0, 1.5], xyaxes: [0, -1, 0, 1, 0, 0], fovy: 50 }, 160, 120);
    const model = camera.model();
    expect(model.fx).toBeCloseTo(fromMjcf.fx, 9);
    expect([model.cx, model.cy]).toEqual([fromMjcf.cx, fromMjcf.cy]);
    model.position.forEach((c, i) => expect(c).toBeCloseTo(fromMjcf.position[i], 9));
    model.rotation.forEach((c, i) => expect(c).toBeCloseTo(fromMjcf.rotation[i], 9));
    camera.dispose();
  });
});

describe('cameras in episodes', () => {
  it('records the first frame, one every 1/rate seconds, and the last; without cameras, no images', async () => {
    const { file } = scenarioCopy(
      'scenarios/pick-place.yaml',
      (text) => text.replace('duration: 6.0', 'duration: 1.3') + '\ncameras:\n  top: { width: 32, height: 24, rate: 2, images: [rgb, depth, segmentation] }\n  side: { width: 16, height: 12 }\n',
    );
    const sc = await loadScenario(file);
    const runner = await EpisodeRunner.create(sc);
    try {
      const run = await runner.run(tunedPolicy(), 4);
      expect([...run.trace.images.keys()].sort()).toEqual(['/camera/side/rgb', '/camera/top/depth', '/camera/top/rgb', '/camera/top/segmentation']);
      const top = run.trace.image('/camera/top/rgb');
      const end = run.trace.topic('/clock').stamps.at(-1)!;
      expect(Array.from(top.stamps).map((t) => Math.round(t * 1000))).toEqual([0, 500, 1000, Math.round(end * 1000)]);
      expect(Array.from(run.trace.image('/camera/side/rgb').stamps).map((t) => Math.round(t * 1000))).toEqual([0, Math.round(end * 1000)]);
      expect(run.trace.image('/camera/top/segmentation').labels?.box).toBe(world.id('geom', 'box') + 1);
      expect(run.trace.image('/camera/top/depth').camera?.position[2]).toBeCloseTo(1.5, 9);
      // The same episode again: the same images, byte for byte.
      const again = await runner.run(tunedPolicy(), 4);
      expect(Buffer.from(encodeTrace(again.trace)).equals(Buffer.from(encodeTrace(run.trace)))).toBe(true);
    } finally {
      await runner.close();
    }
    const plain = await EpisodeRunner.create(await scenario());
    try {
      const run = await plain.run(tunedPolicy(), 4);
      expect(run.trace.images.size).toBe(0);
      expect(new TextDecoder().decode(encodeTrace(run.trace).subarray(0, 8))).toBe('ARBTRC01');
    } finally {
      await plain.close();
    }
  });
});
