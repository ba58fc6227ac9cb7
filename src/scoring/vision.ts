/**
 * Vision on sensor_msgs/Image frames, whatever produced them (the sim's ray camera, a physical
 * camera, an image a task derived from its topics): masks by colour, label or any non-zero
 * pixel, their area, centroid and IoU, and the pinhole geometry that maps pixels to the world
 * and back. Pure functions on plain arrays: no sim, no scenario.
 */
import type { CameraCalibration, PixelTarget } from '../scenario/schema.ts';
import { frameBytes, type CameraModel, type ImageInfo, type ImageSeries } from '../trace/trace.ts';

/** One frame of an image topic. */
export interface ImageFrame extends Pick<ImageInfo, 'width' | 'height' | 'encoding' | 'labels' | 'camera' | 'frameId'> {
  /** The frame's bytes in its encoding. */
  bytes: Uint8Array;
  /** Its stamp (s). */
  stamp: number;
}

/** A binary mask: one byte a pixel, 1 in, 0 out. */
export type Mask = Uint8Array;

/** Area and centroid of a mask (pixel centres at whole coordinates, u right, v down). */
export interface Blob {
  /** Pixels in the mask. */
  area: number;
  /** Centroid column (px); NaN for an empty mask. */
  u: number;
  /** Centroid row (px); NaN for an empty mask. */
  v: number;
}

/** Frame `which` of an image topic (`first`, `last` or an index); throws when it has none. */
export function imageFrame(series: ImageSeries, which: 'first' | 'last' | number): ImageFrame {
  const count = series.stamps.length;
  const index = which === 'first' ? 0 : which === 'last' ? count - 1 : which;
  if (!(index >= 0 && index < count)) {
    throw new Error(`Image topic '${series.name}' has ${count} frames; there is no frame ${which}.`);
  }
  const size = frameBytes(series);
  const { width, height, encoding, labels, camera, frameId } = series;
  return { width, height, encoding, labels, camera, frameId, bytes: series.data.subarray(index * size, (index + 1) * size), stamp: series.stamps[index] };
}

/** The frame's pixels as numbers of its encoding (a view: rgb8 and mono8 bytes, 16UC1 labels, 32FC1 depths). */
export function pixelValues(frame: Pick<ImageFrame, 'bytes' | 'encoding'>): Uint8Array | Uint16Array | Float32Array {
  const { bytes, encoding } = frame;
  // Typed-array views need aligned offsets; a frame inside a larger buffer may not be: copy then.
  const aligned = (size: number) => (bytes.byteOffset % size === 0 ? bytes : bytes.slice());
  if (encoding === '16UC1') {
    const b = aligned(2);
    return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
  }
  if (encoding === '32FC1') {
    const b = aligned(4);
    return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  }
  return bytes;
}

/**
 * The mask of the pixels a target selects: near a colour (rgb8; a grey image is compared as grey),
 * of a label (16UC1: by name through the image's legend, or by value), or, with no target, every
 * pixel that is not zero (not +Inf for depth). Throws naming the mismatch when the target does not
 * fit the encoding.
 */
export function maskOf(frame: ImageFrame, target?: PixelTarget, topic = 'the image'): Mask {
  const values = pixelValues(frame);
  const n = frame.width * frame.height;
  const mask = new Uint8Array(n);
  if (!target) {
    for (let i = 0; i < n; i++) {
      const c = frame.encoding === 'rgb8' ? values[3 * i] + values[3 * i + 1] + values[3 * i + 2] : values[i];
      mask[i] = c !== 0 && c !== Infinity && !Number.isNaN(c) ? 1 : 0;
    }
    return mask;
  }
  if (target.color) {
    const [r, g, b] = target.color.rgb;
    const tol2 = target.color.tolerance ** 2;
    if (frame.encoding === 'rgb8') {
      for (let i = 0; i < n; i++) {
        const dr = values[3 * i] - r, dg = values[3 * i + 1] - g, db = values[3 * i + 2] - b;
        mask[i] = dr * dr + dg * dg + db * db <= tol2 ? 1 : 0;
      }
      return mask;
    }
    if (frame.encoding === 'mono8') {
      for (let i = 0; i < n; i++) {
        const dr = values[i] - r, dg = values[i] - g, db = values[i] - b;
        mask[i] = dr * dr + dg * dg + db * db <= tol2 ? 1 : 0;
      }
      return mask;
    }
    throw new Error(`A colour target needs an rgb8 or mono8 image; ${topic} is ${frame.encoding}.`);
  }
  if (frame.encoding !== '16UC1') throw new Error(`A label target needs a 16UC1 label image; ${topic} is ${frame.encoding}.`);
  const value = labelValue(frame, target.label!, topic);
  for (let i = 0; i < n; i++) mask[i] = values[i] === value ? 1 : 0;
  return mask;
}

function labelValue(frame: ImageFrame, label: string | number, topic: string): number {
  if (typeof label === 'number') return label;
  const value = frame.labels && Object.hasOwn(frame.labels, label) ? frame.labels[label] : undefined;
  if (value === undefined) {
    const known = Object.keys(frame.labels ?? {});
    throw new Error(`${topic} has no label '${label}'. Its labels: ${known.slice(0, 40).join(', ') || 'none (give the label as a number)'}${known.length > 40 ? ', ...' : ''}.`);
  }
  return value;
}

/** Area and centroid of a mask of width `width`. */
export function blobOf(mask: Mask, width: number): Blob {
  let area = 0;
  let su = 0;
  let sv = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    area++;
    su += i % width;
    sv += Math.floor(i / width);
  }
  return area ? { area, u: su / area, v: sv / area } : { area: 0, u: NaN, v: NaN };
}

/** Intersection over union of two masks of the same size; 1 when both are empty (they agree). */
export function maskIou(a: Mask, b: Mask): number {
  if (a.length !== b.length) throw new Error(`Masks of ${a.length} and ${b.length} pixels cannot be compared; the images must have the same size.`);
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) inter++;
    if (a[i] || b[i]) union++;
  }
  return union ? inter / union : 1;
}

/** Mean of a depth image (32FC1) over a mask's finite pixels; NaN when there are none. */
export function meanDepth(depth: ImageFrame, mask: Mask): number {
  const d = pixelValues(depth);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] && Number.isFinite(d[i])) {
      sum += d[i];
      count++;
    }
  }
  return count ? sum / count : NaN;
}

// ----- camera geometry ---------------------------------------------------------------------------

/** A calibration (MJCF camera attributes) as the pinhole model of a `width × height` image. */
export function calibrationModel(c: CameraCalibration, width: number, height: number): CameraModel {
  const [ax, ay, az, bx, by, bz] = c.xyaxes;
  const xn = Math.hypot(ax, ay, az);
  const x = [ax / xn, ay / xn, az / xn];
  // y made exactly perpendicular to x, as MuJoCo does; z = x × y points behind the camera.
  const dot = bx * x[0] + by * x[1] + bz * x[2];
  const yr = [bx - dot * x[0], by - dot * x[1], bz - dot * x[2]];
  const yn = Math.hypot(yr[0], yr[1], yr[2]);
  const y = yr.map((v) => v / yn);
  const z = [x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]];
  const f = height / 2 / Math.tan((c.fovy * Math.PI) / 360);
  // Optical frame: x right, y down (-y up), z ahead (-z back).
  const rotation = [x[0], -y[0], -z[0], x[1], -y[1], -z[1], x[2], -y[2], -z[2]];
  return { fx: f, fy: f, cx: (width - 1) / 2, cy: (height - 1) / 2, position: [...c.position], rotation };
}

/** The world point seen at pixel (u, v) at planar depth `depth` (m along the optical axis). */
export function pixelToWorld(cam: CameraModel, u: number, v: number, depth: number): [number, number, number] {
  const d = [((u - cam.cx) / cam.fx) * depth, ((v - cam.cy) / cam.fy) * depth, depth];
  const r = cam.rotation;
  return [
    cam.position[0] + r[0] * d[0] + r[1] * d[1] + r[2] * d[2],
    cam.position[1] + r[3] * d[0] + r[4] * d[1] + r[5] * d[2],
    cam.position[2] + r[6] * d[0] + r[7] * d[1] + r[8] * d[2],
  ];
}

/** Where the ray of pixel (u, v) meets the plane z = `planeZ`; undefined when it never does. */
export function pixelOnPlane(cam: CameraModel, u: number, v: number, planeZ: number): [number, number, number] | undefined {
  // The point at unit planar depth gives the ray's direction.
  const p1 = pixelToWorld(cam, u, v, 1);
  const dz = p1[2] - cam.position[2];
  if (Math.abs(dz) < 1e-12) return undefined;
  const depth = (planeZ - cam.position[2]) / dz;
  return depth > 0 ? pixelToWorld(cam, u, v, depth) : undefined;
}

/** The pixel (u, v) a world point projects to; undefined when it is behind the camera. */
export function worldToPixel(cam: CameraModel, p: readonly [number, number, number]): [number, number] | undefined {
  const r = cam.rotation;
  const w = [p[0] - cam.position[0], p[1] - cam.position[1], p[2] - cam.position[2]];
  // Camera coordinates: Rᵀ w.
  const x = r[0] * w[0] + r[3] * w[1] + r[6] * w[2];
  const y = r[1] * w[0] + r[4] * w[1] + r[7] * w[2];
  const z = r[2] * w[0] + r[5] * w[1] + r[8] * w[2];
  if (z <= 1e-9) return undefined;
  return [cam.fx * (x / z) + cam.cx, cam.fy * (y / z) + cam.cy];
}
