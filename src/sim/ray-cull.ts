/**
 * Which pixels of a pinhole camera can see into given spheres: those whose ray (from the camera
 * through the pixel's centre) passes within one. Each sphere is tried on tiles of pixels first,
 * the cone around a tile's rays against the cone the sphere subtends, then on each pixel of the
 * tiles it reaches. Exact up to rounding, and rounding only ever marks a pixel more.
 */

/** Tile edge in pixels. */
const TILE = 8;
/** Slack on each cone test, relative to the sphere's distance: covers rounding of the dot products. */
const SLACK = 1e-9;

export class SphereCover {
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
   * Sets `out[i] = 1` for every pixel whose ray can pass within one of `count` spheres (world x,
   * y, z, radius; 4 values each) seen by a camera at `pos` with orientation `rot` (row-major,
   * camera to world, MuJoCo's `cam_xmat`); leaves the other entries as they are.
   */
  mark(out: Uint8Array, pos: ArrayLike<number>, rot: ArrayLike<number>, spheres: Float64Array, count: number): void {
    for (let k = 0; k < count; k++) {
      const wx = spheres[4 * k] - pos[0];
      const wy = spheres[4 * k + 1] - pos[1];
      const wz = spheres[4 * k + 2] - pos[2];
      const r = spheres[4 * k + 3];
      // The centre in the camera frame.
      const cx = rot[0] * wx + rot[3] * wy + rot[6] * wz;
      const cy = rot[1] * wx + rot[4] * wy + rot[7] * wz;
      const cz = rot[2] * wx + rot[5] * wy + rot[8] * wz;
      const d2 = cx * cx + cy * cy + cz * cz;
      if (!(d2 > r * r)) {
        out.fill(1); // the camera is inside the sphere (or it is unbounded): every ray may hit
        return;
      }
      this.markSphere(out, cx, cy, cz, r, Math.sqrt(d2));
    }
  }

  /**
   * One sphere at camera-frame centre c, distance d > r: a ray u (unit) passes within it when
   * the angle between u and c is at most the sphere's half-angle α (sin α = r/d), i.e. when
   * u·c ≥ √(d² − r²); a tile whose rays lie within θ of its axis a can hold such a ray when
   * angle(a, c) ≤ θ + α, i.e. a·c ≥ cos θ·√(d² − r²) − sin θ·r.
   */
  private markSphere(out: Uint8Array, cx: number, cy: number, cz: number, r: number, d: number): void {
    const s = Math.sqrt((d - r) * (d + r));
    const slack = SLACK * d;
    const { axes, bounds, directions, width } = this;
    for (let t = 0; t < this.tiles; t++) {
      const a = 5 * t;
      const along = axes[a] * cx + axes[a + 1] * cy + axes[a + 2] * cz;
      if (along < axes[a + 3] * s - axes[a + 4] * r - slack) continue;
      const b = 4 * t;
      for (let v = bounds[b + 2]; v < bounds[b + 3]; v++) {
        for (let i = v * width + bounds[b], end = v * width + bounds[b + 1]; i < end; i++) {
          if (directions[3 * i] * cx + directions[3 * i + 1] * cy + directions[3 * i + 2] * cz >= s - slack) out[i] = 1;
        }
      }
    }
  }
}
