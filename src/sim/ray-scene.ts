/**
 * The world as a ray camera's cache sees it: the geoms that can move (those on bodies not welded
 * to the world), with a sphere and a capsule around each that every ray hitting it must pass
 * through, and a fingerprint of everything a ray into the rest (the static world) reads in
 * `mj_multiRay`. While the camera and the static world keep their fingerprint, a ray that passes
 * within no moving geom's bounds sees what it saw the last time it was cast, to the bit.
 *
 * What the fingerprint covers, from MuJoCo's engine_ray.c: the camera's pose (the rays), and per
 * static geom its pose, type, size, mesh id, bounding box and radius (culling) and what makes it
 * invisible to rays (alpha of its colour or material); per static body its pose and bounding
 * volume (a ray skips a body whose volume it misses). Mesh and height-field data are taken as
 * loaded: nothing in arbor edits them.
 */
import { liveView } from './live-view.ts';
import type { World } from './world.ts';

/** Values per static geom and per static body in the fingerprint. */
const PER_GEOM = 3 + 9 + 3 + 2 + 6 + 1 + 3;
const PER_BODY = 3 + 6;
const PER_CAMERA = 3 + 9;
/** Values per moving geom written by `bounds`. */
export const BOUND = 9;
/** Added to each bound's size: MuJoCo's hit points stray from the surface by rounding only. */
const RELATIVE_MARGIN = 1e-6;
const ABSOLUTE_MARGIN = 1e-9;

export class RayScene {
  /** Ids of the geoms on bodies that can move, in id order. */
  readonly moving: Int32Array;
  private readonly staticGeoms: Int32Array;
  private readonly staticBodies: Int32Array;
  /** Everything a ray into the static world reads, now and at the last call, with their bits. */
  private readonly fingerprint: Float64Array;
  private readonly fingerprintBits: Uint32Array;
  private readonly lastBits: Uint32Array;
  /** False until the first fingerprint is taken. */
  private seen = false;
  private readonly view: Views;

  constructor(
    private readonly world: World,
    private readonly cameraId: number,
  ) {
    const { model } = world;
    const weld = model.body_weldid as Int32Array;
    const geomBody = model.geom_bodyid as Int32Array;
    const geoms = Array.from({ length: model.ngeom }, (_, g) => g);
    this.moving = Int32Array.from(geoms.filter((g) => weld[geomBody[g]] !== 0));
    this.staticGeoms = Int32Array.from(geoms.filter((g) => weld[geomBody[g]] === 0));
    this.staticBodies = Int32Array.from({ length: model.nbody }, (_, b) => b).filter((b) => weld[b] === 0);
    const size = PER_CAMERA + PER_GEOM * this.staticGeoms.length + PER_BODY * this.staticBodies.length;
    this.fingerprint = new Float64Array(size);
    this.fingerprintBits = new Uint32Array(this.fingerprint.buffer);
    this.lastBits = new Uint32Array(2 * size);
    this.view = views(world);
  }

  /**
   * True when the camera's pose or the static world differs, by one bit, from the last call (and
   * on the first call): every ray must be cast again.
   */
  changed(): boolean {
    this.takeFingerprint(this.fingerprint);
    // Compared as bits: -0 and 0 differ, and so may what a ray gives.
    const now = this.fingerprintBits;
    const before = this.lastBits;
    let same = this.seen;
    for (let i = 0; same && i < now.length; i++) same = now[i] === before[i];
    before.set(now);
    this.seen = true;
    return !same;
  }

  /**
   * Writes each moving geom's bounds into `out`, BOUND values per geom in `moving` order: a
   * sphere (world centre x, y, z, radius) and a capsule about the same centre (world unit axis
   * x, y, z, half-length, radius). A ray that misses either cannot hit the geom.
   */
  bounds(out: Float64Array): void {
    const v = this.view;
    const [pos, mat, type, size] = [v.geomPos(), v.geomMat(), v.type(), v.size()];
    const T = this.world.mj.mjtGeom;
    for (let k = 0; k < this.moving.length; k++) {
      const g = this.moving[k];
      const s = [size[3 * g], size[3 * g + 1], size[3 * g + 2]];
      const t = type[g];
      // The capsule's axis: the geom's local z for round geoms, a box's longest side.
      const axis = t === T.mjGEOM_BOX.value ? s.indexOf(Math.max(...s)) : 2;
      const [sphere, half, radius] = this.extent(g, t, s, axis);
      const o = BOUND * k;
      out[o] = pos[3 * g];
      out[o + 1] = pos[3 * g + 1];
      out[o + 2] = pos[3 * g + 2];
      out[o + 3] = sphere * (1 + RELATIVE_MARGIN) + ABSOLUTE_MARGIN;
      out[o + 4] = mat[9 * g + axis];
      out[o + 5] = mat[9 * g + 3 + axis];
      out[o + 6] = mat[9 * g + 6 + axis];
      out[o + 7] = half * (1 + RELATIVE_MARGIN);
      out[o + 8] = radius * (1 + RELATIVE_MARGIN) + ABSOLUTE_MARGIN;
    }
  }

  /**
   * A moving geom's bounding sphere radius, and its capsule's half-length and radius along local
   * axis `axis`, from what MuJoCo's ray test for its type reads (its size, which a task may change
   * per episode); a mesh gets its bounding sphere and box as a sphere. A plane, height field or
   * SDF on a moving body is left unbounded: every ray is cast.
   */
  private extent(g: number, type: number, [a, b, c]: number[], axis: number): [number, number, number] {
    const T = this.world.mj.mjtGeom;
    if (type === T.mjGEOM_SPHERE.value) return [a, 0, a];
    if (type === T.mjGEOM_CAPSULE.value) return [a + b, b, a];
    if (type === T.mjGEOM_CYLINDER.value) return [Math.hypot(a, b), b, a]; // inside the capsule of its radius and length
    if (type === T.mjGEOM_BOX.value) {
      const [p, q] = [a, b, c].filter((_, i) => i !== axis);
      return [Math.hypot(a, b, c), [a, b, c][axis], Math.hypot(p, q)];
    }
    if (type === T.mjGEOM_ELLIPSOID.value) return [Math.max(a, b, c), 0, Math.max(a, b, c)];
    if (type === T.mjGEOM_MESH.value) {
      const box = this.view.aabb().subarray(6 * g, 6 * g + 6);
      const r = Math.max(this.view.rbound()[g], Math.hypot(box[0], box[1], box[2]) + Math.hypot(box[3], box[4], box[5]));
      return [r, 0, r];
    }
    return [Infinity, 0, Infinity];
  }

  private takeFingerprint(f: Float64Array): void {
    const v = this.view;
    const c = this.cameraId;
    f.set(v.camPos().subarray(3 * c, 3 * c + 3), 0);
    f.set(v.camMat().subarray(9 * c, 9 * c + 9), 3);
    let at = PER_CAMERA;
    const [xpos, xmat, size, type, dataid, aabb, rbound] = [v.geomPos(), v.geomMat(), v.size(), v.type(), v.dataid(), v.aabb(), v.rbound()];
    const [matid, rgba, matRgba] = [v.matid(), v.rgba(), v.matRgba()];
    for (const g of this.staticGeoms) {
      f.set(xpos.subarray(3 * g, 3 * g + 3), at);
      f.set(xmat.subarray(9 * g, 9 * g + 9), at + 3);
      f.set(size.subarray(3 * g, 3 * g + 3), at + 12);
      f[at + 15] = type[g];
      f[at + 16] = dataid[g];
      f.set(aabb.subarray(6 * g, 6 * g + 6), at + 17);
      f[at + 23] = rbound[g];
      f[at + 24] = matid[g];
      f[at + 25] = rgba[4 * g + 3];
      f[at + 26] = matid[g] >= 0 ? matRgba[4 * matid[g] + 3] : -1;
      at += PER_GEOM;
    }
    const [xipos, bvhadr, bvh] = [v.bodyPos(), v.bvhadr(), v.bvh()];
    for (const b of this.staticBodies) {
      f.set(xipos.subarray(3 * b, 3 * b + 3), at);
      if (bvhadr[b] >= 0) f.set(bvh.subarray(6 * bvhadr[b], 6 * bvhadr[b] + 6), at + 3);
      else f.fill(0, at + 3, at + 9);
      at += PER_BODY;
    }
  }
}

/** The mujoco-js arrays read per frame, as live views (a getter costs microseconds; a view stays valid). */
interface Views {
  camPos: () => Float64Array;
  camMat: () => Float64Array;
  geomPos: () => Float64Array;
  geomMat: () => Float64Array;
  bodyPos: () => Float64Array;
  size: () => Float64Array;
  type: () => Int32Array;
  dataid: () => Int32Array;
  aabb: () => Float64Array;
  rbound: () => Float64Array;
  matid: () => Int32Array;
  rgba: () => Float32Array;
  matRgba: () => Float32Array;
  bvhadr: () => Int32Array;
  bvh: () => Float64Array;
}

function views({ model, data }: World): Views {
  return {
    camPos: liveView(() => data.cam_xpos as Float64Array),
    camMat: liveView(() => data.cam_xmat as Float64Array),
    geomPos: liveView(() => data.geom_xpos as Float64Array),
    geomMat: liveView(() => data.geom_xmat as Float64Array),
    bodyPos: liveView(() => data.xipos as Float64Array),
    size: liveView(() => model.geom_size as Float64Array),
    type: liveView(() => model.geom_type as Int32Array),
    dataid: liveView(() => model.geom_dataid as Int32Array),
    aabb: liveView(() => model.geom_aabb as Float64Array),
    rbound: liveView(() => model.geom_rbound as Float64Array),
    matid: liveView(() => model.geom_matid as Int32Array),
    rgba: liveView(() => model.geom_rgba as Float32Array),
    matRgba: liveView(() => model.mat_rgba as Float32Array),
    bvhadr: liveView(() => model.body_bvhadr as Int32Array),
    bvh: liveView(() => model.bvh_aabb as Float64Array),
  };
}
