/**
 * A camera by ray casting (`mj_multiRay`): mujoco-js has no OpenGL renderer, and one batched call
 * per image is ~40x faster than a ray per pixel from JS. One cast gives depth and segmentation
 * (the geom each pixel sees); RGB is drawn from them: each geom's flat material colour, shaded by
 * how squarely the surface faces the camera (normals from the depth image). No textures, no
 * shadows: enough for colour and label checks, and cheap.
 *
 * Most of an image is the static world (table, floor, zones), which a camera fixed in the world
 * sees the same way frame after frame. So the camera keeps each pixel's last answer and casts
 * again only the pixels whose ray can meet a moving geom's bounds (a sphere and a capsule) now,
 * or could when it was last cast; everything, when the camera or the static world has moved
 * (`RayScene`). Each ray cast is the very call the whole image would make (one `mj_multiRay`,
 * whose answer for a ray depends on that ray alone), so images are the same to the bit.
 */
import type { CameraModel } from '../trace/trace.ts';
import { BoundsCover } from './ray-cull.ts';
import { BOUND, RayScene } from './ray-scene.ts';
import type { World } from './world.ts';

/** One rendered image. */
export interface RayImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Planar depth along the optical axis (m), row-major from the top-left; Infinity where nothing is hit. */
  depth: Float32Array;
  /** Geom id hit by each pixel's ray, -1 where nothing is hit. */
  geom: Int32Array;
}

/** Light on a surface facing the camera squarely is AMBIENT + DIFFUSE; edge-on, AMBIENT. */
const AMBIENT = 0.35;
const DIFFUSE = 0.65;
/** Colour of pixels that see nothing (the sky), rgb8. */
const BACKGROUND = [40, 44, 52] as const;
/** What a half-transparent geom is blended with (the ray does not go on behind it). */
const BEHIND_TRANSPARENT = 0.5;

export class RayCamera {
  /** Per pixel: unit ray direction in the camera frame (x right, y up, looking down -z). */
  private readonly directions: Float64Array;
  private readonly axisScale: Float64Array;
  /** World directions of the rays being cast, packed, 3 per ray. */
  private readonly worldDirections: Float64Array;
  private readonly scene: RayScene;
  private readonly cover: BoundsCover;
  /** Scratch: the moving geoms' bounds (`RayScene.bounds`). */
  private readonly bounds: Float64Array;
  /** Per pixel: 1 where a moving geom may be seen this frame. */
  private readonly covered: Uint8Array;
  /** Per pixel: 1 where its last cast could see no moving geom (its answer stands while the static world does). */
  private readonly clean: Uint8Array;
  /** Pixels cast this frame. */
  private readonly castList: Int32Array;
  /** Each pixel's last answer: the geom its ray hit (-1: none) and the planar depth. */
  private readonly lastGeom: Int32Array;
  private readonly lastDepth: Float32Array;
  private lastCount = 0;
  /** The image rgb() shaded last (geom, depth bits) and its colours; geom -2 (no label) before the first. */
  private readonly shadedGeom: Int32Array;
  private readonly shadedDepthBits: Uint32Array;
  private readonly shadedRgb: Uint8Array;
  /** Scratch of rgb(): per pixel, 1 where its colour must be shaded again. */
  private readonly dirty: Uint8Array;
  private readonly cameraId: number;
  private readonly focal: number;
  private readonly allGroups = new Uint8Array(6).fill(1);
  /** Per geom: its flat colour (rgb, 0..1, premultiplied against the grey behind when transparent). */
  private readonly colours: Float32Array;
  /** Per column: x/z of its pixels' rays in the optical frame. */
  private readonly slopeX: Float64Array;
  /** Per row: y/z of its pixels' rays in the optical frame. */
  private readonly slopeY: Float64Array;

  constructor(
    private readonly world: World,
    camera: string,
    /** Image width in pixels. */
    readonly width: number,
    /** Image height in pixels. */
    readonly height: number,
  ) {
    if (!(width > 0 && height > 0 && width * height <= 1 << 20)) {
      throw new Error(`A ray camera image must have 1 to ${1 << 20} pixels; ${width}x${height} does not.`);
    }
    this.cameraId = world.id('camera', camera);
    const fovy = ((world.model.cam_fovy as Float64Array)[this.cameraId] * Math.PI) / 180;
    this.focal = height / 2 / Math.tan(fovy / 2);
    const n = width * height;
    this.directions = new Float64Array(3 * n);
    this.axisScale = new Float64Array(n);
    for (let v = 0; v < height; v++) {
      for (let u = 0; u < width; u++) {
        const i = v * width + u;
        // Camera frame: x right, y up, looking down -z (MuJoCo's convention).
        const x = (u + 0.5 - width / 2) / this.focal;
        const y = -(v + 0.5 - height / 2) / this.focal;
        const norm = Math.hypot(x, y, 1);
        this.directions.set([x / norm, y / norm, -1 / norm], 3 * i);
        this.axisScale[i] = 1 / norm; // planar depth = range × cos(angle to the axis)
      }
    }
    this.worldDirections = new Float64Array(3 * n);
    this.scene = new RayScene(world, this.cameraId);
    this.cover = new BoundsCover(this.directions, width, height);
    this.bounds = new Float64Array(BOUND * this.scene.moving.length);
    this.covered = new Uint8Array(n);
    this.clean = new Uint8Array(n);
    this.castList = new Int32Array(n);
    this.lastGeom = new Int32Array(n);
    this.lastDepth = new Float32Array(n);
    this.shadedGeom = new Int32Array(n).fill(-2);
    this.shadedDepthBits = new Uint32Array(n);
    this.shadedRgb = new Uint8Array(3 * n);
    this.dirty = new Uint8Array(n);
    this.colours = geomColours(world);
    this.slopeX = Float64Array.from({ length: width }, (_, u) => (u + 0.5 - width / 2) / this.focal);
    this.slopeY = Float64Array.from({ length: height }, (_, v) => (v + 0.5 - height / 2) / this.focal);
  }

  /** Renders depth and segmentation of the current state (call `world.forward()` first if the state changed outside a step). */
  render(): RayImage {
    const { data } = this.world;
    const pos = (data.cam_xpos as Float64Array).slice(3 * this.cameraId, 3 * this.cameraId + 3);
    const rot = (data.cam_xmat as Float64Array).slice(9 * this.cameraId, 9 * this.cameraId + 9);
    if (this.scene.changed()) this.clean.fill(0);
    const covered = this.covered;
    covered.fill(0);
    this.scene.bounds(this.bounds);
    this.cover.mark(covered, pos, rot, this.bounds, this.scene.moving.length);
    // Cast what a moving geom may cover now, and what one may have covered at its last cast.
    const cast = this.castList;
    let count = 0;
    for (let i = 0; i < covered.length; i++) if (covered[i] === 1 || this.clean[i] === 0) cast[count++] = i;
    if (count > 0) this.cast(pos, rot, count);
    this.lastCount = count;
    return { width: this.width, height: this.height, depth: this.lastDepth.slice(), geom: this.lastGeom.slice() };
  }

  /** How many rays the last render cast; every other pixel kept its answer from an earlier frame. */
  get raysCast(): number {
    return this.lastCount;
  }

  /** Casts the rays of the first `count` pixels of the cast list and keeps their answers. */
  private cast(pos: Float64Array, rot: Float64Array, count: number): void {
    const { mj, model, data } = this.world;
    const { castList, directions } = this;
    const world = this.worldDirections;
    for (let k = 0; k < count; k++) {
      const i = castList[k];
      const x = directions[3 * i];
      const y = directions[3 * i + 1];
      const z = directions[3 * i + 2];
      world[3 * k] = rot[0] * x + rot[1] * y + rot[2] * z;
      world[3 * k + 1] = rot[3] * x + rot[4] * y + rot[5] * z;
      world[3 * k + 2] = rot[6] * x + rot[7] * y + rot[8] * z;
    }
    // mujoco-js wants output buffers of exactly `count` rays, passed whole: a view of one would go
    // stale when converting the directions grows wasm memory, before the call writes to it.
    const geomOut = new mj.IntBuffer(count);
    const distOut = new mj.DoubleBuffer(count);
    try {
      const vec = world.subarray(0, 3 * count) as unknown as number[];
      mj.mj_multiRay(model, data, Array.from(pos), vec, this.allGroups, 1, -1, geomOut, distOut, count, 1e6);
      this.keep(geomOut.GetView() as Int32Array, distOut.GetView() as Float64Array, count);
    } finally {
      geomOut.delete();
      distOut.delete();
    }
  }

  /** Keeps the answers of the first `count` pixels of the cast list. */
  private keep(geom: Int32Array, dist: Float64Array, count: number): void {
    const { castList, covered, clean, axisScale, lastGeom, lastDepth } = this;
    for (let k = 0; k < count; k++) {
      const i = castList[k];
      const g = geom[k];
      const d = dist[k];
      lastGeom[i] = g;
      lastDepth[i] = g < 0 || d < 0 ? Infinity : d * axisScale[i];
      clean[i] = covered[i] ^ 1;
    }
  }

  /**
   * The colour image (rgb8) of a rendered image: each pixel its geom's material colour times
   * AMBIENT + DIFFUSE·|cos| of the angle between the surface normal and the view ray.
   * A pixel's colour depends on its own and its 4 neighbours' geom and depth alone, so only the
   * pixels near one that differs from the image shaded last are shaded again.
   */
  rgb(image: RayImage): Uint8Array {
    const { width, height, depth, geom } = image;
    if (width !== this.width || height !== this.height) {
      throw new Error(`This camera renders ${this.width}x${this.height} images; rgb() was given one of ${width}x${height}.`);
    }
    const dirty = this.dirtySinceShaded(image);
    const out = this.shadedRgb;
    const colours = this.colours;
    // Camera-frame point of a pixel (x right, y down, z ahead) is (sx·d, sy·d, d) for its planar depth d.
    const sx = this.slopeX;
    const sy = this.slopeY;
    for (let v = 0; v < height; v++) {
      for (let u = 0; u < width; u++) {
        const i = v * width + u;
        if (dirty[i] === 0) continue;
        const g = geom[i];
        if (g < 0) {
          out[3 * i] = BACKGROUND[0];
          out[3 * i + 1] = BACKGROUND[1];
          out[3 * i + 2] = BACKGROUND[2];
          continue;
        }
        // Neighbours on the same geom give the surface's tangents; one-sided at its edges.
        const l = u > 0 && geom[i - 1] === g ? i - 1 : i;
        const r = u < width - 1 && geom[i + 1] === g ? i + 1 : i;
        const t = v > 0 && geom[i - width] === g ? i - width : i;
        const b = v < height - 1 && geom[i + width] === g ? i + width : i;
        let shade = 1;
        if (l !== r && t !== b) {
          const dl = depth[l], dr = depth[r], dt = depth[t], db = depth[b];
          const ax = sx[r - v * width] * dr - sx[l - v * width] * dl, ay = sy[v] * (dr - dl), az = dr - dl;
          const bx = sx[u] * (db - dt), by = sy[(b / width) | 0] * db - sy[(t / width) | 0] * dt, bz = db - dt;
          const nx = ay * bz - az * by, ny = az * bx - ax * bz, nz = ax * by - ay * bx;
          // The view ray of this pixel, in the same frame.
          const rx = sx[u], ry = sy[v];
          const cos = Math.abs(nx * rx + ny * ry + nz) / (Math.sqrt((nx * nx + ny * ny + nz * nz) * (rx * rx + ry * ry + 1)) || 1);
          shade = AMBIENT + DIFFUSE * cos;
        }
        const c = 3 * g;
        out[3 * i] = Math.round(255 * Math.min(1, colours[c] * shade));
        out[3 * i + 1] = Math.round(255 * Math.min(1, colours[c + 1] * shade));
        out[3 * i + 2] = Math.round(255 * Math.min(1, colours[c + 2] * shade));
      }
    }
    return out.slice();
  }

  /**
   * Per pixel, 1 where it or one of its 4 neighbours differs (geom, or depth to the bit) from the
   * image shaded last; remembers `image` as shaded.
   */
  private dirtySinceShaded(image: RayImage): Uint8Array {
    const { width, height, geom } = image;
    const bits = new Uint32Array(image.depth.buffer, image.depth.byteOffset, image.depth.length);
    const { dirty, shadedGeom, shadedDepthBits } = this;
    dirty.fill(0);
    for (let v = 0; v < height; v++) {
      for (let u = 0, i = v * width; u < width; u++, i++) {
        if (geom[i] === shadedGeom[i] && bits[i] === shadedDepthBits[i]) continue;
        dirty[i] = 1;
        if (u > 0) dirty[i - 1] = 1;
        if (u < width - 1) dirty[i + 1] = 1;
        if (v > 0) dirty[i - width] = 1;
        if (v < height - 1) dirty[i + width] = 1;
      }
    }
    shadedGeom.set(geom);
    shadedDepthBits.set(bits);
    return dirty;
  }

  /**
   * The camera as a pinhole model in ROS optical convention (x right, y down, z ahead), from the
   * MJCF camera's field of view and its current pose: what vision needs to map pixels to the world.
   */
  model(): CameraModel {
    const { data } = this.world;
    const id = this.cameraId;
    const p = data.cam_xpos as Float64Array;
    const m = data.cam_xmat as Float64Array;
    // MuJoCo's camera looks down its -z with y up: the optical frame flips y and z.
    const rotation = [m[9 * id], -m[9 * id + 1], -m[9 * id + 2], m[9 * id + 3], -m[9 * id + 4], -m[9 * id + 5], m[9 * id + 6], -m[9 * id + 7], -m[9 * id + 8]];
    return {
      fx: this.focal,
      fy: this.focal,
      cx: (this.width - 1) / 2,
      cy: (this.height - 1) / 2,
      position: [p[3 * id], p[3 * id + 1], p[3 * id + 2]],
      rotation,
    };
  }

  dispose(): void {
    // Nothing in wasm memory outlives a render.
  }
}

/**
 * Each geom's flat colour: its material's rgba when it has a material and its own rgba is
 * MuJoCo's default, else its own (as MuJoCo's renderer picks them). A transparent one is blended
 * with mid grey: a ray stops at the first surface, so what lies behind it is unknown.
 */
function geomColours(world: World): Float32Array {
  const { model } = world;
  const rgba = model.geom_rgba as Float32Array;
  const matid = model.geom_matid as Int32Array;
  const matRgba = model.mat_rgba as Float32Array;
  const out = new Float32Array(3 * model.ngeom);
  for (let g = 0; g < model.ngeom; g++) {
    const own = rgba.subarray(4 * g, 4 * g + 4);
    const isDefault = own[0] === 0.5 && own[1] === 0.5 && own[2] === 0.5 && own[3] === 1;
    const c = matid[g] >= 0 && isDefault ? matRgba.subarray(4 * matid[g], 4 * matid[g] + 4) : own;
    for (let k = 0; k < 3; k++) out[3 * g + k] = c[3] * c[k] + (1 - c[3]) * BEHIND_TRANSPARENT;
  }
  return out;
}
