/**
 * Drawing on rgb8 images, for the annotated pictures vision checks leave: any frame made viewable
 * in colour, masks tinted, marks and outlines drawn. Plain loops on byte arrays.
 */
import { encodePng } from '../trace/png.ts';
import type { ImageFrame } from './vision.ts';
import { pixelValues } from './vision.ts';

/** An rgb8 picture. */
export interface RgbImage {
  /** Width (px). */
  width: number;
  /** Height (px). */
  height: number;
  /** 3 bytes a pixel, row-major from the top-left. */
  rgb: Uint8Array;
}

/** An rgb colour, 0..255 a channel. */
export type Colour = readonly [number, number, number];

/**
 * Any frame as a colour picture: rgb8 as it is, mono8 as grey, depth as grey (near is bright,
 * nothing is black), labels each in a colour of their own.
 */
export function viewable(frame: ImageFrame): RgbImage {
  const { width, height } = frame;
  const n = width * height;
  const rgb = new Uint8Array(3 * n);
  const values = pixelValues(frame);
  if (frame.encoding === 'rgb8') rgb.set(values);
  else if (frame.encoding === 'mono8') for (let i = 0; i < n; i++) rgb.fill(values[i], 3 * i, 3 * i + 3);
  else if (frame.encoding === '32FC1') {
    let near = Infinity;
    let far = -Infinity;
    for (let i = 0; i < n; i++) {
      if (!Number.isFinite(values[i])) continue;
      near = Math.min(near, values[i]);
      far = Math.max(far, values[i]);
    }
    const span = far - near || 1;
    for (let i = 0; i < n; i++) rgb.fill(Number.isFinite(values[i]) ? Math.round(255 - (200 * (values[i] - near)) / span) : 0, 3 * i, 3 * i + 3);
  } else {
    for (let i = 0; i < n; i++) if (values[i] !== 0) rgb.set(labelColour(values[i]), 3 * i);
  }
  return { width, height, rgb };
}

/** A colour of its own for each label value (golden-ratio hues, so neighbours differ). */
export function labelColour(label: number): Colour {
  const hue = (label * 0.618034) % 1;
  const k = (n: number) => (n + hue * 6) % 6;
  const f = (n: number) => Math.round(255 * (0.85 - 0.6 * Math.max(0, Math.min(k(n), 4 - k(n), 1))));
  return [f(5), f(3), f(1)];
}

/** Blends `colour` into the mask's pixels with weight `alpha`. */
export function tint(image: RgbImage, mask: Uint8Array, colour: Colour, alpha = 0.5): void {
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    for (let c = 0; c < 3; c++) image.rgb[3 * i + c] = Math.round((1 - alpha) * image.rgb[3 * i + c] + alpha * colour[c]);
  }
}

/** Sets one pixel when it lies inside the image. */
function plot(image: RgbImage, u: number, v: number, colour: Colour): void {
  const x = Math.round(u);
  const y = Math.round(v);
  if (x < 0 || y < 0 || x >= image.width || y >= image.height) return;
  image.rgb.set(colour, 3 * (y * image.width + x));
}

/** A straight line from (u0, v0) to (u1, v1), clipped to the image. */
export function line(image: RgbImage, u0: number, v0: number, u1: number, v1: number, colour: Colour): void {
  const steps = Math.min(4096, Math.ceil(Math.max(Math.abs(u1 - u0), Math.abs(v1 - v0))) + 1);
  for (let s = 0; s <= steps; s++) plot(image, u0 + ((u1 - u0) * s) / steps, v0 + ((v1 - v0) * s) / steps, colour);
}

/** A closed outline through the points, in order. */
export function polygon(image: RgbImage, points: readonly (readonly [number, number])[], colour: Colour): void {
  points.forEach((p, i) => {
    const q = points[(i + 1) % points.length];
    line(image, p[0], p[1], q[0], q[1], colour);
  });
}

/** A plus-shaped mark of half size `size` at (u, v). */
export function cross(image: RgbImage, u: number, v: number, size: number, colour: Colour): void {
  line(image, u - size, v, u + size, v, colour);
  line(image, u, v - size, u, v + size, colour);
}

/** A picture as a PNG file. */
export function pngOf(picture: RgbImage): Buffer {
  return encodePng(picture.width, picture.height, 'rgb8', picture.rgb);
}
