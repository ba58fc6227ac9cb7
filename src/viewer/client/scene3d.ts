/**
 * The three.js side of the viewer, without DOM: `buildScene(spec)` makes one group per MuJoCo
 * body with its geoms as children (placed in the body frame), and `syncFrame(view, poses,
 * contacts)` moves the groups from a frame's body poses and redraws the contact overlay. The
 * world stays Z-up (see coords.ts). No side effects at import; the frame path allocates nothing.
 */
import * as THREE from 'three';
import { CONTACT_STRIDE, POSE_STRIDE } from '../protocol.ts';
import type { GeomSpec, HfieldSpec, MaterialSpec, SceneSpec, TextureSpec } from '../scene-spec.ts';
import { setMjQuat, Y_TO_Z } from './coords.ts';

/** Most contacts the overlay draws in one frame. */
export const MAX_CONTACTS = 256;
/** Size of an infinite MuJoCo plane when drawn (half extent, m). */
const INFINITE_PLANE = 20;

/** A built scene and the handles the frame path needs. */
export interface SceneView {
  /** The three.js scene (add it to a renderer). */
  scene: THREE.Scene;
  /** What it was built from. */
  spec: SceneSpec;
  /** One group per body, indexed by body id. */
  bodies: THREE.Group[];
  /** The mesh of each drawn geom, by geom id. */
  geoms: Map<number, THREE.Mesh>;
  /** The model's cameras, attached to their bodies, in model order. */
  cameras: THREE.PerspectiveCamera[];
  /** The light that follows the viewing camera (MuJoCo's headlight). */
  headlight: THREE.DirectionalLight;
  /** Contact points and force arrows. */
  overlay: { points: THREE.InstancedMesh; arrows: THREE.InstancedMesh; heads: THREE.InstancedMesh };
  /** Contacts drawn in the last frame. */
  contactCount: number;
  /** Scratch objects of the frame path (so drawing a frame allocates nothing). */
  scratch: FrameScratch;
  /** Frees GPU resources. */
  dispose(): void;
}

/** Objects `syncFrame` reuses from frame to frame. */
export interface FrameScratch {
  /** A contact's point, then its arrow's tip. */
  pos: THREE.Vector3;
  /** A contact's normal. */
  dir: THREE.Vector3;
  /** The rotation from +Z to the normal. */
  quat: THREE.Quaternion;
  /** An arrow's scale. */
  scale: THREE.Vector3;
  /** An instance's matrix. */
  mat: THREE.Matrix4;
}

/** Options for `buildScene`. */
export interface BuildOptions {
  /** Background colour. */
  background?: number;
}

/** Builds the three.js scene of a model. */
export function buildScene(spec: SceneSpec, options: BuildOptions = {}): SceneView {
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(options.background ?? 0x1c2026);
  const disposables: { dispose(): void }[] = [];
  const own = <T extends { dispose(): void }>(x: T): T => {
    disposables.push(x);
    return x;
  };

  const bodies = spec.bodies.map((b) => {
    const g = new THREE.Group();
    g.name = b.name || `body ${b.id}`;
    g.userData.bodyId = b.id;
    g.matrixAutoUpdate = true;
    placeFromPoses(g, spec.poses, b.id * POSE_STRIDE);
    scene.add(g);
    return g;
  });

  const textures = spec.textures.map((t) => (t ? own(dataTexture(t)) : null));
  const meshGeometries = spec.meshes.map((m) => own(meshGeometry(m.vertices, m.faces)));
  const hfieldGeometries = spec.hfields.map((h) => own(hfieldGeometry(h)));
  const unit = {
    box: own(new THREE.BoxGeometry(2, 2, 2)),
    sphere: own(new THREE.SphereGeometry(1, 32, 16)),
    cylinder: own(new THREE.CylinderGeometry(1, 1, 2, 32).applyQuaternion(yToZ())),
  };
  const geoms = new Map<number, THREE.Mesh>();
  for (const g of spec.geoms) {
    const geometry = geometryOf(g, unit, { meshes: meshGeometries, hfields: hfieldGeometries }, own);
    if (!geometry) continue;
    const material = own(materialOf(g, g.material >= 0 ? spec.materials[g.material] : undefined, textures));
    const mesh = new THREE.Mesh(geometry, material);
    mesh.name = g.name || `geom ${g.id}`;
    mesh.userData.geomId = g.id;
    mesh.position.set(g.pos[0], g.pos[1], g.pos[2]);
    setMjQuat(mesh.quaternion, g.quat);
    applySize(mesh, g.type, g.size);
    bodies[g.body].add(mesh);
    geoms.set(g.id, mesh);
    if (spec.targets?.includes(g.id)) {
      // A target (zone, path) gets an outline so it reads at a glance.
      const edges = new THREE.LineSegments(own(new THREE.EdgesGeometry(unit.box)), own(new THREE.LineBasicMaterial({ color: 0x5cff7a })));
      mesh.add(edges);
    }
  }

  const cameras = spec.cameras.map((c) => {
    const cam = new THREE.PerspectiveCamera(c.fovy, 4 / 3, 0.01, 100);
    cam.name = c.name;
    cam.position.set(c.pos[0], c.pos[1], c.pos[2]);
    setMjQuat(cam.quaternion, c.quat);
    bodies[c.body].add(cam);
    return cam;
  });

  const rgb = (c: readonly number[]) => new THREE.Color().setRGB(c[0], c[1], c[2], THREE.SRGBColorSpace);
  // three's lights are physical (a Lambert surface reflects intensity/π); MuJoCo's colours are the
  // reflected light itself, so each MuJoCo colour becomes a three light of intensity π.
  scene.add(new THREE.AmbientLight(rgb(spec.headlight.ambient), Math.PI));
  const headlight = new THREE.DirectionalLight(rgb(spec.headlight.diffuse), Math.PI);
  scene.add(headlight, headlight.target);
  for (const l of spec.lights) {
    // Spot lights are drawn as directional ones along their direction: close enough for a table scene.
    const light = new THREE.DirectionalLight(rgb(l.diffuse), Math.PI);
    light.position.set(l.pos[0], l.pos[1], l.pos[2]);
    light.target.position.set(l.pos[0] + l.dir[0], l.pos[1] + l.dir[1], l.pos[2] + l.dir[2]);
    scene.add(light, light.target);
  }

  const overlayMaterial = (color: number) => own(new THREE.MeshBasicMaterial({ color, depthTest: false, transparent: true, opacity: 0.9 }));
  const points = new THREE.InstancedMesh(own(new THREE.SphereGeometry(0.006, 12, 8)), overlayMaterial(0xffe14d), MAX_CONTACTS);
  const shaft = own(new THREE.CylinderGeometry(0.0025, 0.0025, 1, 8).translate(0, 0.5, 0).applyQuaternion(yToZ()));
  const arrows = new THREE.InstancedMesh(shaft, overlayMaterial(0xff8a3d), MAX_CONTACTS);
  const head = own(new THREE.ConeGeometry(0.007, 0.018, 12).translate(0, 0.009, 0).applyQuaternion(yToZ()));
  const heads = new THREE.InstancedMesh(head, overlayMaterial(0xff8a3d), MAX_CONTACTS);
  for (const m of [points, arrows, heads]) {
    m.count = 0;
    m.renderOrder = 10;
    m.frustumCulled = false;
    m.name = 'contacts';
    scene.add(m);
  }

  return {
    scene,
    spec,
    bodies,
    geoms,
    cameras,
    headlight,
    overlay: { points, arrows, heads },
    contactCount: 0,
    scratch: { pos: new THREE.Vector3(), dir: new THREE.Vector3(), quat: new THREE.Quaternion(), scale: new THREE.Vector3(), mat: new THREE.Matrix4() },
    dispose() {
      for (const d of disposables) d.dispose();
      for (const m of [points, arrows, heads]) m.dispose();
    },
  };
}

/** MuJoCo's up, the axis the contact arrows are built along. */
const Z: Readonly<THREE.Vector3> = new THREE.Vector3(0, 0, 1);

/**
 * Moves the bodies to a frame's poses (`order[k]` is the body of pose k; by default the scene's
 * dynamic bodies) and draws its contacts (none when `contacts` is undefined).
 */
export function syncFrame(view: SceneView, poses: ArrayLike<number>, contacts?: ArrayLike<number>, order: readonly number[] = view.spec.dynamic): void {
  const n = Math.min(order.length, Math.floor(poses.length / POSE_STRIDE));
  for (let k = 0; k < n; k++) placeFromPoses(view.bodies[order[k]], poses, k * POSE_STRIDE);
  const { points, arrows, heads } = view.overlay;
  const { pos, dir, quat, scale, mat } = view.scratch;
  const count = contacts ? Math.min(MAX_CONTACTS, Math.floor(contacts.length / CONTACT_STRIDE)) : 0;
  let drawn = 0;
  for (let i = 0; i < count; i++) {
    const o = i * CONTACT_STRIDE;
    pos.set(contacts![o], contacts![o + 1], contacts![o + 2]);
    mat.makeTranslation(pos.x, pos.y, pos.z);
    points.setMatrixAt(i, mat);
    const force = contacts![o + 6];
    // Arrow length grows with the square root of the force, so 1 N and 100 N both read.
    const length = force > 0.01 ? Math.min(0.2, 0.015 * Math.sqrt(force)) : 0;
    dir.set(contacts![o + 3], contacts![o + 4], contacts![o + 5]);
    if (dir.lengthSq() < 1e-12) dir.copy(Z);
    dir.normalize();
    quat.setFromUnitVectors(Z, dir);
    if (length > 0) {
      scale.set(1, 1, length);
      mat.compose(pos, quat, scale);
      arrows.setMatrixAt(drawn, mat);
      pos.addScaledVector(dir, length);
      scale.set(1, 1, 1);
      mat.compose(pos, quat, scale);
      heads.setMatrixAt(drawn, mat);
      drawn++;
    }
  }
  points.count = count;
  arrows.count = drawn;
  heads.count = drawn;
  points.instanceMatrix.needsUpdate = true;
  arrows.instanceMatrix.needsUpdate = true;
  heads.instanceMatrix.needsUpdate = true;
  view.contactCount = count;
}

/** Shows or hides the contact overlay. */
export function showContacts(view: SceneView, visible: boolean): void {
  view.overlay.points.visible = visible;
  view.overlay.arrows.visible = visible;
  view.overlay.heads.visible = visible;
}

/** Hides the given bodies and shows every other one. */
export function setHiddenBodies(view: SceneView, hidden: readonly number[]): void {
  view.bodies.forEach((g, id) => (g.visible = !hidden.includes(id)));
}

/** Sets geom sizes for one episode (a randomized object); other geoms go back to the model's. */
export function setGeomSizes(view: SceneView, sizes: Readonly<Record<string, readonly number[]>>): void {
  for (const g of view.spec.geoms) {
    const mesh = view.geoms.get(g.id);
    if (!mesh) continue;
    const size = sizes[g.id] ?? g.size;
    if (g.type === 'capsule') {
      const old = mesh.geometry;
      if (old.userData.size?.[0] === size[0] && old.userData.size?.[1] === size[1]) continue;
      mesh.geometry = capsule(size[0], size[1]);
      old.dispose();
    } else {
      applySize(mesh, g.type, size);
    }
  }
}

/** Puts the geoms an episode moved where it put them, and every other geom where the scene has it. */
export function setGeomPositions(view: SceneView, positions: Readonly<Record<string, readonly number[]>>): void {
  for (const g of view.spec.geoms) {
    const p = positions[g.id] ?? g.pos;
    view.geoms.get(g.id)?.position.set(p[0], p[1], p[2]);
  }
}

function placeFromPoses(g: THREE.Object3D, poses: ArrayLike<number>, o: number): void {
  g.position.set(poses[o], poses[o + 1], poses[o + 2]);
  setMjQuat(g.quaternion, poses, o + 3);
}

function yToZ(): THREE.Quaternion {
  return new THREE.Quaternion(Y_TO_Z[0], Y_TO_Z[1], Y_TO_Z[2], Y_TO_Z[3]);
}

function capsule(radius: number, halfLength: number): THREE.BufferGeometry {
  const g = new THREE.CapsuleGeometry(radius, 2 * halfLength, 8, 24).applyQuaternion(yToZ());
  g.userData.size = [radius, halfLength];
  return g;
}

type Unit = { box: THREE.BufferGeometry; sphere: THREE.BufferGeometry; cylinder: THREE.BufferGeometry };

/** Geometries of the model's meshes and height fields, by index. */
type Shapes = { meshes: THREE.BufferGeometry[]; hfields: THREE.BufferGeometry[] };

function geometryOf(g: GeomSpec, unit: Unit, shapes: Shapes, own: <T extends { dispose(): void }>(x: T) => T): THREE.BufferGeometry | undefined {
  switch (g.type) {
    case 'plane':
      return own(new THREE.PlaneGeometry(2, 2));
    case 'box':
      return unit.box;
    case 'sphere':
    case 'ellipsoid':
      return unit.sphere;
    case 'cylinder':
      return unit.cylinder;
    case 'capsule':
      return capsule(g.size[0], g.size[1]);
    case 'mesh':
      return shapes.meshes[g.mesh];
    case 'hfield':
      return shapes.hfields[g.hfield];
    default:
      return undefined;
  }
}

/** Scales a unit primitive to a MuJoCo geom size. */
function applySize(mesh: THREE.Mesh, type: GeomSpec['type'], s: readonly number[]): void {
  switch (type) {
    case 'plane':
      mesh.scale.set(s[0] > 0 ? s[0] : INFINITE_PLANE, s[1] > 0 ? s[1] : INFINITE_PLANE, 1);
      break;
    case 'box':
    case 'ellipsoid':
      mesh.scale.set(s[0], s[1], s[2]);
      break;
    case 'sphere':
      mesh.scale.set(s[0], s[0], s[0]);
      break;
    case 'cylinder':
      mesh.scale.set(s[0], s[0], s[1]);
      break;
    default:
      mesh.scale.set(1, 1, 1);
  }
}

function materialOf(g: GeomSpec, mat: MaterialSpec | undefined, textures: (THREE.Texture | null)[]): THREE.Material {
  const [r, gr, b, a] = g.rgba;
  const material = new THREE.MeshPhongMaterial({
    color: new THREE.Color().setRGB(r, gr, b, THREE.SRGBColorSpace),
    transparent: a < 1,
    opacity: a,
    depthWrite: a >= 1,
    shininess: 10 + 90 * (mat?.shininess ?? 0.5),
    specular: new THREE.Color().setScalar(0.5 * (mat?.specular ?? 0.5)),
    side: g.type === 'plane' ? THREE.DoubleSide : THREE.FrontSide,
  });
  const texture = mat && mat.texture >= 0 ? textures[mat.texture] : null;
  if (texture && mat) {
    const t = texture.clone();
    t.needsUpdate = true;
    let [rx, ry] = mat.texrepeat;
    if (mat.texuniform && g.type === 'plane') {
      rx *= 2 * (g.size[0] || INFINITE_PLANE);
      ry *= 2 * (g.size[1] || INFINITE_PLANE);
    }
    t.repeat.set(rx, ry);
    material.map = t;
  }
  if (mat && mat.emission > 0) material.emissive = new THREE.Color().setRGB(r * mat.emission, gr * mat.emission, b * mat.emission, THREE.SRGBColorSpace);
  return material;
}

function dataTexture(t: TextureSpec): THREE.DataTexture {
  const src = fromBase64(t.data);
  const rgba = new Uint8Array(t.width * t.height * 4);
  for (let i = 0, j = 0; i < t.width * t.height; i++, j += t.channels) {
    rgba[4 * i] = src[j];
    rgba[4 * i + 1] = t.channels > 1 ? src[j + 1] : src[j];
    rgba[4 * i + 2] = t.channels > 2 ? src[j + 2] : src[j];
    rgba[4 * i + 3] = t.channels > 3 ? src[j + 3] : 255;
  }
  const tex = new THREE.DataTexture(rgba, t.width, t.height, THREE.RGBAFormat);
  tex.wrapS = THREE.RepeatWrapping;
  tex.wrapT = THREE.RepeatWrapping;
  tex.colorSpace = THREE.SRGBColorSpace;
  tex.magFilter = THREE.NearestFilter;
  tex.needsUpdate = true;
  return tex;
}

function meshGeometry(vertices: string, faces: string): THREE.BufferGeometry {
  const v = new Float32Array(fromBase64(vertices).buffer);
  const f = new Uint32Array(fromBase64(faces).buffer);
  const g = new THREE.BufferGeometry();
  g.setAttribute('position', new THREE.BufferAttribute(v, 3));
  g.setIndex(new THREE.BufferAttribute(f, 1));
  g.computeVertexNormals();
  return g;
}

/** The top surface of a height field: one vertex per elevation sample, two triangles per cell. */
function hfieldGeometry(h: HfieldSpec): THREE.BufferGeometry {
  const elevation = new Float32Array(fromBase64(h.data).buffer);
  const [rx, ry, top] = h.size;
  const position = new Float32Array(3 * h.nrow * h.ncol);
  for (let r = 0; r < h.nrow; r++) {
    for (let c = 0; c < h.ncol; c++) {
      const i = r * h.ncol + c;
      position.set([(2 * c) / (h.ncol - 1) * rx - rx, (2 * r) / (h.nrow - 1) * ry - ry, elevation[i] * top], 3 * i);
    }
  }
  const index: number[] = [];
  for (let r = 0; r + 1 < h.nrow; r++) {
    for (let c = 0; c + 1 < h.ncol; c++) {
      const i = r * h.ncol + c;
      index.push(i, i + 1, i + h.ncol + 1, i, i + h.ncol + 1, i + h.ncol);
    }
  }
  const g = new THREE.BufferGeometry();
  g.setAttribute('position', new THREE.BufferAttribute(position, 3));
  g.setIndex(index);
  g.computeVertexNormals();
  return g;
}

/** Bytes of a base64 string (browser and Node). */
export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
