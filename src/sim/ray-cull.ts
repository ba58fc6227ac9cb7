/**
 * Which pixels of a pinhole camera can see into given bounds (each a sphere and a capsule about
 * the same centre, `RayScene.bounds`): those whose ray, from the camera through the pixel's
 * centre, passes within both of one. Each bound is tried on tiles of pixels first (the cone
 * around a tile's rays against the cone its sphere subtends), then on each pixel of the tiles it
 * reaches. Exact up to rounding, and rounding only ever marks a pixel more.
 */
import { BOUND } from './ray-scene.ts';

/** Tile edge in pixels. */
const TILE = 8;
/** Slack on each cone test, relative to the sphere's distance: covers rounding of the dot products. */
const SLACK = 1e-9;

export class BoundsCover {
  /** Per tile: first and one-past-last column and row. */
  private readonly bounds: Int32Array;
  /** Per tile: unit axis (camera frame), and cos and sin of the widest angle from it to a pixel's ray. */
  private readonly axes: Float64Array;
  private readonly tiles: number;

  constructor(
    /** Unit ray direction of each pixel in the camera frame, 3 per pixel, row-major. */
    private readonly directions: Float64Array,
    private readonly width: number,
    height: number,
  ) {
    const across = Math.ceil(width / TILE);
    this.tiles = across * Math.ceil(height / TILE);
    this.bounds = new Int32Array(4 * this.tiles);
    this.axes = new Float64Array(5 * this.tiles);
    for (let t = 0; t < this.tiles; t++) {
      const u0 = (t % across) * TILE;
      const v0 = Math.floor(t / across) * TILE;
      const u1 = Math.min(width, u0 + TILE);
      const v1 = Math.min(height, v0 + TILE);
      this.bounds.set([u0, u1, v0, v1], 4 * t);
      // The corner pixels' rays bound the tile's: the pixel centres lie in their rectangle.
      const corners = [v0 * width + u0, v0 * width + u1 - 1, (v1 - 1) * width + u0, (v1 - 1) * width + u1 - 1];
      const axis = [0, 0, 0];
      for (const i of corners) for (let k = 0; k < 3; k++) axis[k] += directions[3 * i + k];
      const norm = Math.hypot(axis[0], axis[1], axis[2]);
      for (let k = 0; k < 3; k++) axis[k] /= norm;
      const cos = Math.min(...corners.map((i) => axis[0] * directions[3 * i] + axis[1] * directions[3 * i + 1] + axis[2] * directions[3 * i + 2]));
      this.axes.set([axis[0], axis[1], axis[2], cos, Math.sqrt(Math.max(0, 1 - cos * cos))], 5 * t);
    }
  }

  /**
   * Sets `out[i] = 1` for every pixel whose ray can pass within one of `count` bounds (BOUND
   * values each, world frame) seen by a camera at `pos` with orientation `rot` (row-major,
   * camera to world, MuJoCo's `cam_xmat`); leaves the other entries as they are.
   */
  mark(out: Uint8Array, pos: ArrayLike<number>, rot: ArrayLike<number>, bounds: Float64Array, count: number): void {
    const toCamera = (x: number, y: number, z: number): Bound['centre'] => [rot[0] * x + rot[3] * y + rot[6] * z, rot[1] * x + rot[4] * y + rot[7] * z, rot[2] * x + rot[5] * y + rot[8] * z];
    for (let k = 0; k < count; k++) {
      const o = BOUND * k;
      const centre = toCamera(bounds[o] - pos[0], bounds[o + 1] - pos[1], bounds[o + 2] - pos[2]);
      const sphere = bounds[o + 3];
      const d2 = centre[0] ** 2 + centre[1] ** 2 + centre[2] ** 2;
      if (!(d2 > sphere * sphere)) {
        out.fill(1); // the camera is inside the sphere (or it is unbounded): every ray may hit
        return;
      }
      const axis = toCamera(bounds[o + 4], bounds[o + 5], bounds[o + 6]);
      this.markBound(out, { centre, distance: Math.sqrt(d2), sphere, axis, half: bounds[o + 7], radius: bounds[o + 8] });
    }
  }

  /**
   * One bound, its sphere of radius R at distance d > R (camera frame centre c). A unit ray u
   * passes within the sphere when the angle between u and c is at most its half-angle α
   * (sin α = R/d), i.e. when u·c ≥ √(d² − R²); a tile whose rays lie within θ of its axis a can
   * hold such a ray when angle(a, c) ≤ θ + α, i.e. a·c ≥ cos θ·√(d² − R²) − sin θ·R. The ray's
   * line passes within the capsule's radius of its segment when, seen along u, the segment comes
   * that close to the ray's point.
   */
  private markBound(out: Uint8Array, bound: Bound): void {
    const [cx, cy, cz] = bound.centre;
    const [ax, ay, az] = bound.axis;
    const { distance: d, sphere: r, half, radius } = bound;
    const s = Math.sqrt((d - r) * (d + r));
    const slack = SLACK * d;
    const d2 = d * d;
    const ca = cx * ax + cy * ay + cz * az;
    const within = radius * radius + SLACK * d2;
    const { axes, bounds, directions, width } = this;
    for (let t = 0; t < this.tiles; t++) {
      const a = 5 * t;
      const along = axes[a] * cx + axes[a + 1] * cy + axes[a + 2] * cz;
      if (along < axes[a + 3] * s - axes[a + 4] * r - slack) continue;
      const b = 4 * t;
      for (let v = bounds[b + 2]; v < bounds[b + 3]; v++) {
        for (let i = v * width + bounds[b], end = v * width + bounds[b + 1]; i < end; i++) {
          const ux = directions[3 * i], uy = directions[3 * i + 1], uz = directions[3 * i + 2];
          const cu = ux * cx + uy * cy + uz * cz;
          if (cu < s - slack) continue;
          // Across the ray: the centre is c⊥ = c − (c·u)u, the axis a⊥ = a − (a·u)u; the nearest
          // point of the segment to the ray's line is at c⊥ + σ·a⊥, σ clamped to ±half.
          const au = ux * ax + uy * ay + uz * az;
          const perpCA = ca - cu * au;
          const perpAA = 1 - au * au;
          const sigma = perpAA > 1e-12 ? Math.min(half, Math.max(-half, -perpCA / perpAA)) : 0;
          if (d2 - cu * cu + 2 * sigma * perpCA + sigma * sigma * perpAA <= within) out[i] = 1;
        }
      }
    }
  }
}

/** One moving geom's bounds in the camera frame. */
interface Bound {
  /** Centre of its sphere and its capsule. */
  centre: [number, number, number];
  /** Distance of the centre from the camera. */
  distance: number;
  /** Radius of the sphere. */
  sphere: number;
  /** Unit axis of the capsule. */
  axis: [number, number, number];
  /** Half-length of the capsule's segment. */
  half: number;
  /** Radius of the capsule. */
  radius: number;
}
