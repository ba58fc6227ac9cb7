/**
 * A depth + segmentation camera by ray casting (`mj_multiRay`): mujoco-js has no OpenGL
 * renderer, and one batched call per image is ~40x faster than a ray per pixel from JS.
 * Vision checks (is the object in the zone, seen from the top camera?) read these images.
 */
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

export class RayCamera {
  private readonly directions: Float64Array;
  private readonly axisScale: Float64Array;
  private readonly geomOut;
  private readonly distOut;
  private readonly cameraId: number;
  private readonly allGroups = new Uint8Array(6).fill(1);

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
    const focal = height / 2 / Math.tan(fovy / 2);
    const n = width * height;
    this.directions = new Float64Array(3 * n);
    this.axisScale = new Float64Array(n);
    for (let v = 0; v < height; v++) {
      for (let u = 0; u < width; u++) {
        const i = v * width + u;
        // Camera frame: x right, y up, looking down -z (MuJoCo's convention).
        const x = (u + 0.5 - width / 2) / focal;
        const y = -(v + 0.5 - height / 2) / focal;
        const norm = Math.hypot(x, y, 1);
        this.directions.set([x / norm, y / norm, -1 / norm], 3 * i);
        this.axisScale[i] = 1 / norm; // planar depth = range × cos(angle to the axis)
      }
    }
    this.geomOut = new world.mj.IntBuffer(n);
    this.distOut = new world.mj.DoubleBuffer(n);
  }

  /** Renders the current state (call `world.forward()` first if the state changed outside a step). */
  render(): RayImage {
    const { mj, model, data } = this.world;
    const n = this.width * this.height;
    const pos = (data.cam_xpos as Float64Array).slice(3 * this.cameraId, 3 * this.cameraId + 3);
    const rot = (data.cam_xmat as Float64Array).slice(9 * this.cameraId, 9 * this.cameraId + 9);
    const world = new Float64Array(3 * n);
    for (let i = 0; i < n; i++) {
      const x = this.directions[3 * i];
      const y = this.directions[3 * i + 1];
      const z = this.directions[3 * i + 2];
      world[3 * i] = rot[0] * x + rot[1] * y + rot[2] * z;
      world[3 * i + 1] = rot[3] * x + rot[4] * y + rot[5] * z;
      world[3 * i + 2] = rot[6] * x + rot[7] * y + rot[8] * z;
    }
    mj.mj_multiRay(model, data, Array.from(pos), world as unknown as number[], this.allGroups, 1, -1, this.geomOut, this.distOut, n, 1e6);
    const geom = Int32Array.from(this.geomOut.GetView() as Int32Array);
    const dist = this.distOut.GetView() as Float64Array;
    const depth = new Float32Array(n);
    for (let i = 0; i < n; i++) depth[i] = geom[i] < 0 || dist[i] < 0 ? Infinity : dist[i] * this.axisScale[i];
    return { width: this.width, height: this.height, depth, geom };
  }

  dispose(): void {
    this.geomOut.delete();
    this.distOut.delete();
  }
}
