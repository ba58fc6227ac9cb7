/**
 * Machining's derived images: the contact map (where the tool touched the part while pressing,
 * rasterised) and the target path image (where it should have), on the same grid in the plane
 * across the surface normal. A `mask_iou` vision check compares them, and the viewer shows both.
 * From `/tool_contact` and `/target_path` only, so a physical cell's episodes get them too.
 */
import type { ImageSeries, Trace } from '../../trace/trace.ts';
import type { PathGeometry } from './path.ts';
import type { MachiningSpec } from './schema.ts';
import { contactSamples } from './score.ts';
import { TARGET_PATH, readTargetPath } from './topics.ts';
import { cross, dot, unit, withoutAlong } from './vector.ts';

/** Where the tool touched while pressing (mono8). */
export const CONTACT_MAP = '/machining/contact_map';
/** Where it should have: the path, as wide as its tolerance (mono8). */
export const TARGET_IMAGE = '/machining/target_path';

/** Largest side of the images (px); a larger path gets coarser pixels. */
const MAX_SIDE = 512;

/** The grid both images share: a 2-D frame in the plane across the normal. */
interface Grid {
  /** The plane's first axis (world, unit): along the path's overall direction. */
  a: number[];
  /** Its second axis (world, unit): across the path, normal × a. */
  b: number[];
  /** Coordinates (m) of pixel (0, 0)'s centre along a and b. */
  origin: [number, number];
  /** Pixel size (m). */
  pixel: number;
  /** Image width (px). */
  width: number;
  /** Image height (px). */
  height: number;
}

/** The contact map and the target path image of an episode. */
export function machiningImages(trace: Trace, spec: MachiningSpec): ImageSeries[] {
  const path = readTargetPath(trace.topic(TARGET_PATH));
  const tolerance = spec.tolerance.path;
  const grid = gridFor(path, tolerance, spec.map_resolution);
  const target = new Uint8Array(grid.width * grid.height);
  for (let k = 1; k < path.points.length; k++) sweep(target, grid, path.points[k - 1], path.points[k], tolerance);
  const map = new Uint8Array(grid.width * grid.height);
  const samples = contactSamples(trace);
  let previous = -1;
  for (let i = 0; i < samples.stamps.length; i++) {
    if (samples.force[i] <= spec.force.contact) {
      previous = -1;
      continue;
    }
    const here = samples.points.subarray(3 * i, 3 * i + 3);
    sweep(map, grid, previous >= 0 ? samples.points.subarray(3 * previous, 3 * previous + 3) : here, here, tolerance);
    previous = i;
  }
  const stamp = samples.stamps.length ? samples.stamps[samples.stamps.length - 1] : 0;
  const image = (name: string, pixels: Uint8Array): ImageSeries => ({
    name,
    encoding: 'mono8',
    width: grid.width,
    height: grid.height,
    frameId: 'workpiece_surface',
    stamps: Float64Array.of(stamp),
    data: pixels,
  });
  return [image(CONTACT_MAP, map), image(TARGET_IMAGE, target)];
}

/** A grid around the path with room for the tolerance, `resolution` pixels per tolerance. */
function gridFor(path: PathGeometry, tolerance: number, resolution: number): Grid {
  const n = path.normal;
  const first = path.points[0];
  const last = path.points[path.points.length - 1];
  // The path's overall direction across the normal; a closed path falls back to any such axis.
  const overall = withoutAlong([last[0] - first[0], last[1] - first[1], last[2] - first[2]], n);
  const a = unit(Math.hypot(overall[0], overall[1], overall[2]) < 1e-9 ? withoutAlong(Math.abs(n[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0], n) : overall);
  const b = cross(n, a);
  const coords = path.points.map((p) => [dot(p, a), dot(p, b)]);
  const margin = 3 * tolerance;
  const lo = [Math.min(...coords.map((c) => c[0])) - margin, Math.min(...coords.map((c) => c[1])) - margin];
  const hi = [Math.max(...coords.map((c) => c[0])) + margin, Math.max(...coords.map((c) => c[1])) + margin];
  const pixel = Math.max(tolerance / resolution, Math.max(hi[0] - lo[0], hi[1] - lo[1]) / MAX_SIDE);
  return {
    a,
    b,
    origin: [lo[0] + pixel / 2, lo[1] + pixel / 2],
    pixel,
    width: Math.ceil((hi[0] - lo[0]) / pixel),
    height: Math.ceil((hi[1] - lo[1]) / pixel),
  };
}

/** Marks every pixel within `radius` of the segment p–q (both in the world, seen across the normal). */
function sweep(pixels: Uint8Array, grid: Grid, p: ArrayLike<number>, q: ArrayLike<number>, radius: number): void {
  const [pu, pv] = [dot(p, grid.a), dot(p, grid.b)];
  const [qu, qv] = [dot(q, grid.a), dot(q, grid.b)];
  const du = qu - pu;
  const dv = qv - pv;
  const len2 = du * du + dv * dv;
  const col = (u: number) => (u - grid.origin[0]) / grid.pixel;
  const row = (v: number) => (v - grid.origin[1]) / grid.pixel;
  const r = radius / grid.pixel;
  const x0 = Math.max(0, Math.floor(Math.min(col(pu), col(qu)) - r));
  const x1 = Math.min(grid.width - 1, Math.ceil(Math.max(col(pu), col(qu)) + r));
  const y0 = Math.max(0, Math.floor(Math.min(row(pv), row(qv)) - r));
  const y1 = Math.min(grid.height - 1, Math.ceil(Math.max(row(pv), row(qv)) + r));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      // This pixel's centre, and its distance to the segment.
      const u = grid.origin[0] + x * grid.pixel;
      const v = grid.origin[1] + y * grid.pixel;
      const t = len2 > 0 ? Math.min(1, Math.max(0, ((u - pu) * du + (v - pv) * dv) / len2)) : 0;
      if (Math.hypot(u - (pu + t * du), v - (pv + t * dv)) <= radius) pixels[y * grid.width + x] = 255;
    }
  }
}
