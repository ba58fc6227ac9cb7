/**
 * Bringing one's own robot: a Menagerie-style arm whose links are meshes (binary STL, OBJ), with a
 * PNG texture and a binary height field, all under `<compiler meshdir/texturedir>`. It must load in
 * real MuJoCo with the geometry of those files, pass `arbor check`, and be served to the viewer
 * and drawn (meshes and height field); a missing asset is named with the file and line that
 * refer to it.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MjcfError } from '../src/sim/model-files.ts';
import { World } from '../src/sim/world.ts';
import { buildScene } from '../src/viewer/client/scene3d.ts';
import type { SceneSpec } from '../src/viewer/scene-spec.ts';
import { startViewer } from '../src/viewer/server.ts';
import { HFIELD, OBJ_HALF, PNG, STL_HALF, writeMeshRobot, type MeshRobot } from './fixtures/mesh-robot.ts';

const run = promisify(execFile);
let root: string;
let robot: MeshRobot;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'arbor-mesh-robot-'));
  robot = writeMeshRobot(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Half extents of a geom's axis-aligned box in its own frame (MuJoCo's geom_aabb: centre, then half sizes). */
function geomHalfExtents(world: World, geom: string): number[] {
  const id = world.id('geom', geom);
  return sorted((world.model.geom_aabb as Float64Array).slice(6 * id + 3, 6 * id + 6));
}

function sorted(values: ArrayLike<number>): number[] {
  return Array.from(values).sort((a, b) => a - b);
}

async function loadError(path: string): Promise<MjcfError> {
  const error = await World.load(path).then(
    (w) => {
      w.dispose();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MjcfError);
  return error as MjcfError;
}

describe('models with meshes, textures and height fields', () => {
  it('load into MuJoCo with the geometry and pixels of their files', async () => {
    const world = await World.load(robot.scene);
    try {
      const m = world.model;
      expect(m.nmesh).toBe(2);
      // MuJoCo merges the STL's repeated corners: a box is 8 vertices whichever the format.
      expect(Array.from(m.mesh_vertnum as Int32Array)).toEqual([8, 8]);
      // MuJoCo turns a mesh to its principal axes, which may reorder them: compare sorted.
      geomHalfExtents(world, 'base').forEach((h, k) => expect(h).toBeCloseTo(sorted(STL_HALF)[k], 5));
      geomHalfExtents(world, 'link1').forEach((h, k) => expect(h).toBeCloseTo(sorted(OBJ_HALF)[k], 5));

      expect(m.ntex).toBe(1);
      expect([(m.tex_width as Int32Array)[0], (m.tex_height as Int32Array)[0]]).toEqual([PNG.width, PNG.height]);
      const channels = (m.tex_nchannel as Int32Array)[0];
      expect(Array.from((m.tex_data as Uint8Array).slice(0, 3))).toEqual([...PNG.first]);
      expect(channels).toBeGreaterThanOrEqual(3);

      expect(m.nhfield).toBe(1);
      expect([(m.hfield_nrow as Int32Array)[0], (m.hfield_ncol as Int32Array)[0]]).toEqual([HFIELD.rows, HFIELD.cols]);
      // MuJoCo scales elevations to [0, 1]; ours already span it.
      expect(Array.from(m.hfield_data as Float32Array).map((h) => Math.round(h * 100) / 100)).toEqual(HFIELD.heights);

      // Only the two XML files were parsed as XML; the assets went to MuJoCo as bytes.
      expect(world.files.filter((f) => f.xml).map((f) => f.path)).toEqual([robot.scene, robot.arm]);
      expect(world.files.filter((f) => !f.xml)).toHaveLength(4);
      world.step(10);
      expect(world.diverged()).toBe(false);
    } finally {
      world.dispose();
    }
  });

  it('pass arbor check through a scenario and robot.yaml', async () => {
    // The files and names are what this checks; the scorer's preflight has its own tests.
    const { stdout } = await run(process.execPath, ['bin/arbor.js', 'check', robot.scenario, '--no-preflight']);
    expect(stdout).toMatch(/mesh-arm\.yaml: ok \(pick-place: task pick_place, robot mesh-arm/);
  });

  it('are served to the viewer with their mesh vertices (arbor view --model)', async () => {
    const viewer = await startViewer({ port: 0, model: robot.scene, watchRelays: false });
    try {
      const res = await fetch(`${viewer.url}api/scene?model=1`);
      expect(res.status).toBe(200);
      const scene = (await res.json()) as SceneSpec;
      expect(scene.meshes.map((m) => m.name)).toEqual(['base', 'link']);
      const vertices = new Float32Array(Uint8Array.from(Buffer.from(scene.meshes[0].vertices, 'base64')).buffer);
      expect(vertices.length).toBe(8 * 3);
      const spans = [0, 1, 2].map((k) => {
        const axis = vertices.filter((_, i) => i % 3 === k);
        return Math.max(...axis) - Math.min(...axis);
      });
      sorted(spans).forEach((span, k) => expect(span).toBeCloseTo(2 * sorted(STL_HALF)[k], 5));
      expect(scene.geoms.filter((g) => g.type === 'mesh').map((g) => g.name)).toEqual(['base', 'link1']);
      expect(scene.textures[0]).toMatchObject({ width: PNG.width, height: PNG.height });

      // The page draws the meshes and the height field from that JSON.
      const view = buildScene(scene);
      try {
        const drawn = (name: string) => view.geoms.get(scene.geoms.find((g) => g.name === name)!.id)!.geometry;
        expect(drawn('base').getAttribute('position').count).toBe(8);
        const floor = drawn('floor');
        expect(floor.getAttribute('position').count).toBe(HFIELD.rows * HFIELD.cols);
        expect(floor.getIndex()!.count).toBe(6 * (HFIELD.rows - 1) * (HFIELD.cols - 1));
        floor.computeBoundingBox();
        const box = floor.boundingBox!;
        expect([box.min.x, box.max.x, box.min.y, box.max.y]).toEqual([-1, 1, -1, 1]);
        expect(box.max.z).toBeCloseTo(0.05, 6); // the top elevation of size="1 1 0.05 0.1"
      } finally {
        view.dispose();
      }
    } finally {
      await viewer.close();
    }
  });

  it('a missing mesh is named with the file and line that refer to it, and where MuJoCo looks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-mesh-missing-'));
    const broken = writeMeshRobot(dir);
    rmSync(join(broken.dir, 'assets', 'link.obj'));
    const error = await loadError(broken.scene);
    expect(error.file).toBe(broken.arm);
    expect(error.line).toBe(5);
    expect(error.message).toContain(`mesh file 'link.obj' is not at ${join(broken.dir, 'assets', 'link.obj')}`);
    expect(error.message).toMatch(/meshdir 'assets'/);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a robot included from a world in another folder: MuJoCo's meshdir is the main file's, and the error says so", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-mesh-elsewhere-'));
    const elsewhere = writeMeshRobot(dir);
    mkdirSync(join(dir, 'sim'));
    const world = join(dir, 'sim', 'world.xml');
    writeFileSync(world, '<mujoco>\n  <include file="../mesh_arm/arm.xml"/>\n</mujoco>\n');
    const error = await loadError(world);
    expect(error.file).toBe(elsewhere.arm);
    expect(error.message).toContain(`is not at ${join(dir, 'sim', 'assets', 'base.stl')}`);
    expect(error.message).toMatch(/relative to the folder of the main model/);
    // Put the assets where MuJoCo looks and it loads.
    mkdirSync(join(dir, 'sim', 'assets'));
    for (const f of ['base.stl', 'link.obj', 'paint.png']) copyFileSync(join(elsewhere.dir, 'assets', f), join(dir, 'sim', 'assets', f));
    (await World.load(world)).dispose();
    rmSync(dir, { recursive: true, force: true });
  });
});
