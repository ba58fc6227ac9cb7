/**
 * Builds the scene JSON (`SceneSpec`) from a loaded MuJoCo world: geoms with their colours and
 * materials, meshes, textures, cameras, lights and the initial body poses. Every array is copied
 * out of the model (`slice`), never handed out or changed in place.
 */
import type { LoadedScenario } from '../scenario/load.ts';
import type { Mujoco } from '../sim/mujoco.ts';
import type { World } from '../sim/world.ts';
import type { BodySpec, CameraSpec, GeomKind, GeomSpec, HfieldSpec, LightSpec, MaterialSpec, MeshSpec, SceneSpec, TextureSpec } from './scene-spec.ts';

/** MuJoCo geom types → the kinds the viewer draws (others, e.g. SDF, are skipped). */
function geomKinds(g: Mujoco['mjtGeom']): Map<number, GeomKind> {
  return new Map<number, GeomKind>([
    [g.mjGEOM_PLANE.value, 'plane'],
    [g.mjGEOM_HFIELD.value, 'hfield'],
    [g.mjGEOM_SPHERE.value, 'sphere'],
    [g.mjGEOM_CAPSULE.value, 'capsule'],
    [g.mjGEOM_ELLIPSOID.value, 'ellipsoid'],
    [g.mjGEOM_CYLINDER.value, 'cylinder'],
    [g.mjGEOM_BOX.value, 'box'],
    [g.mjGEOM_MESH.value, 'mesh'],
  ]);
}
/** Geom groups MuJoCo's simulate shows by default. */
const VISIBLE_GROUPS = 3;

/** Options that come from a scenario rather than the model. */
export interface SceneOptions {
  /** Key the frames refer to. */
  key: string;
  /** The scenario, for its target zone and object. */
  scenario?: LoadedScenario;
  /** Name to show (default: the scenario's, else 'model'). */
  name?: string;
}

/** Reads the scene of `world` at its current state (call `world.forward()` first). */
export function sceneFromWorld(world: World, options: SceneOptions): SceneSpec {
  const m = world.model;
  const d = world.data;

  const bodyNames = world.names('body');
  const parent = i32(m.body_parentid);
  const weld = i32(m.body_weldid);
  const mocap = i32(m.body_mocapid);
  const bodies: BodySpec[] = bodyNames.map((name, id) => ({ id, name, parent: parent[id], dynamic: id !== 0 && (weld[id] !== 0 || mocap[id] >= 0) }));
  const geoms = readGeoms(world);
  const { materials, meshes, hfields, textures } = readAssets(world);

  const camNames = world.names('camera');
  const cameras: CameraSpec[] = camNames.map((name, k) => ({
    name,
    body: i32(m.cam_bodyid)[k],
    pos: vec(f64(m.cam_pos), k, 3),
    quat: vec(f64(m.cam_quat), k, 4),
    fovy: round(f64(m.cam_fovy)[k]),
  }));

  const directional = world.mj.mjtLightType.mjLIGHT_DIRECTIONAL.value;
  const lights: LightSpec[] = Array.from({ length: m.nlight }, (_, k) => ({
    pos: vec(f64(d.light_xpos), k, 3),
    dir: vec(f64(d.light_xdir), k, 3),
    directional: i32(m.light_type)[k] === directional,
    diffuse: vec(f32(m.light_diffuse), k, 3),
  }));

  const xpos = f64(d.xpos);
  const xquat = f64(d.xquat);
  const poses: number[] = [];
  for (let b = 0; b < m.nbody; b++) {
    for (let k = 0; k < 3; k++) poses.push(round(xpos[3 * b + k]));
    for (let k = 0; k < 4; k++) poses.push(round(xquat[4 * b + k]));
  }

  const scene: SceneSpec = {
    key: options.key,
    name: options.name ?? options.scenario?.name ?? 'model',
    bodies,
    geoms,
    materials,
    meshes,
    hfields,
    textures,
    cameras,
    lights,
    poses,
    dynamic: bodies.filter((b) => b.dynamic).map((b) => b.id),
    follow: [],
    center: vec(m.stat.center as Float64Array, 0, 3),
    extent: round(m.stat.extent),
    headlight: {
      ambient: vec(m.vis.headlight.ambient as Float32Array, 0, 3),
      diffuse: vec(m.vis.headlight.diffuse as Float32Array, 0, 3),
    },
    fovy: m.vis.global.fovy,
  };

  const scenario = options.scenario;
  if (scenario) {
    const task = scenario.taskDef;
    for (const name of task.objects(scenario.task)) scene.follow.push({ id: world.id('body', name), name });
    scene.targets = (task.targets?.(scenario.task) ?? []).map((name) => world.id('geom', name));
    const tcpBody = i32(m.site_bodyid)[world.id('site', scenario.robotConfig.tcp_site)];
    scene.follow.push({ id: tcpBody, name: `${bodyNames[tcpBody] || 'tool'} (tool)` });
  }
  return scene;
}

/** The geoms the viewer draws (visible groups, known types, not transparent), with their colours as MuJoCo shows them. */
function readGeoms(world: World): GeomSpec[] {
  const m = world.model;
  const kindOf = geomKinds(world.mj.mjtGeom);
  const geomNames = world.names('geom');
  const geomType = i32(m.geom_type);
  const geomGroup = i32(m.geom_group);
  const geomMat = i32(m.geom_matid);
  const geomData = i32(m.geom_dataid);
  const geomRgba = f32(m.geom_rgba);
  const matRgba = f32(m.mat_rgba);
  const geoms: GeomSpec[] = [];
  for (let g = 0; g < m.ngeom; g++) {
    const type = kindOf.get(geomType[g]);
    if (!type || geomGroup[g] >= VISIBLE_GROUPS) continue;
    let rgba = vec(geomRgba, g, 4);
    // MuJoCo uses the material's colour when the geom keeps the default rgba (0.5 0.5 0.5 1).
    if (geomMat[g] >= 0 && rgba.every((v, k) => Math.abs(v - (k === 3 ? 1 : 0.5)) < 1e-6)) rgba = vec(matRgba, geomMat[g], 4);
    if (rgba[3] <= 0) continue;
    geoms.push({
      id: g,
      name: geomNames[g],
      body: i32(m.geom_bodyid)[g],
      type,
      size: vec(f64(m.geom_size), g, 3),
      pos: vec(f64(m.geom_pos), g, 3),
      quat: vec(f64(m.geom_quat), g, 4),
      rgba,
      material: geomMat[g],
      mesh: type === 'mesh' ? geomData[g] : -1,
      hfield: type === 'hfield' ? geomData[g] : -1,
      group: geomGroup[g],
    });
  }
  return geoms;
}

/** The model's materials, meshes, height fields and 2D textures, copied out. */
function readAssets(world: World): Pick<SceneSpec, 'materials' | 'meshes' | 'hfields' | 'textures'> {
  const m = world.model;
  const matRgba = f32(m.mat_rgba);
  const roleRgb = world.mj.mjtTextureRole.mjTEXROLE_RGB.value;
  const nrole = world.mj.mjtTextureRole.mjNTEXROLE.value;
  const matTex = i32(m.mat_texid);
  const materials: MaterialSpec[] = Array.from({ length: m.nmat }, (_, k) => ({
    rgba: vec(matRgba, k, 4),
    texture: matTex[k * nrole + roleRgb],
    texrepeat: vec(f32(m.mat_texrepeat), k, 2) as [number, number],
    texuniform: Boolean((m.mat_texuniform as Uint8Array)[k]),
    specular: round(f32(m.mat_specular)[k]),
    shininess: round(f32(m.mat_shininess)[k]),
    emission: round(f32(m.mat_emission)[k]),
  }));

  const meshObj = world.mj.mjtObj.mjOBJ_MESH.value;
  const meshes: MeshSpec[] = Array.from({ length: m.nmesh }, (_, k) => {
    const vadr = i32(m.mesh_vertadr)[k];
    const vnum = i32(m.mesh_vertnum)[k];
    const fadr = i32(m.mesh_faceadr)[k];
    const fnum = i32(m.mesh_facenum)[k];
    return {
      name: world.mj.mj_id2name(m, meshObj, k) ?? '',
      vertices: base64(f32(m.mesh_vert).slice(3 * vadr, 3 * (vadr + vnum))),
      faces: base64(Uint32Array.from(i32(m.mesh_face).subarray(3 * fadr, 3 * (fadr + fnum)))),
    };
  });

  const hfields: HfieldSpec[] = Array.from({ length: m.nhfield }, (_, k) => {
    const nrow = i32(m.hfield_nrow)[k];
    const ncol = i32(m.hfield_ncol)[k];
    const adr = i32(m.hfield_adr)[k];
    return { nrow, ncol, size: vec(f64(m.hfield_size), k, 4) as [number, number, number, number], data: base64(f32(m.hfield_data).slice(adr, adr + nrow * ncol)) };
  });

  const tex2d = world.mj.mjtTexture.mjTEXTURE_2D.value;
  const textures: (TextureSpec | null)[] = Array.from({ length: m.ntex }, (_, k) => {
    if (i32(m.tex_type)[k] !== tex2d) return null;
    const width = i32(m.tex_width)[k];
    const height = i32(m.tex_height)[k];
    const channels = i32(m.tex_nchannel)[k];
    const adr = i32(m.tex_adr)[k];
    return { width, height, channels, data: base64((m.tex_data as Uint8Array).slice(adr, adr + width * height * channels)) };
  });
  return { materials, meshes, hfields, textures };
}

const i32 = (a: unknown) => a as Int32Array;
const f64 = (a: unknown) => a as Float64Array;
const f32 = (a: unknown) => a as Float32Array;
/** `n` values of `a` from index `i * n`, rounded: a vector of a model array. */
const vec = <N extends number>(a: ArrayLike<number>, i: number, n: N) =>
  Array.from({ length: n }, (_, k) => round(a[i * n + k])) as number[] as N extends 3 ? [number, number, number] : N extends 4 ? [number, number, number, number] : number[];

/** Base64 of a typed array's bytes. */
export function base64(a: Float32Array | Uint32Array | Uint8Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

/** Rounds to 6 decimals so the JSON stays short (µm and µrad are far below what is drawn). */
function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
