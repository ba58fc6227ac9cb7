/**
 * PNG encoding of rgb8 and mono8 images with node:zlib (deflate and CRC-32): the few lines a PNG
 * writer needs, so annotated vision images and camera frames can be saved and served without a
 * dependency. Filter 0 (none) on every row: these images are small and mostly flat colours,
 * which deflate compresses well as they are.
 */
import { crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);
/** PNG colour types: 0 grey, 2 truecolour. */
const COLOR_TYPE = { mono8: 0, rgb8: 2 } as const;

/** Encodes `width × height` pixels of `encoding` (row-major from the top-left) as a PNG file. */
export function encodePng(width: number, height: number, encoding: 'rgb8' | 'mono8', pixels: Uint8Array): Buffer {
  const channels = encoding === 'rgb8' ? 3 : 1;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`A PNG needs a positive whole width and height; got ${width}x${height}.`);
  }
  if (pixels.length !== width * height * channels) {
    throw new Error(`A ${width}x${height} ${encoding} image has ${width * height * channels} bytes; got ${pixels.length}.`);
  }
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = COLOR_TYPE[encoding];
  return Buffer.concat([SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Buffer): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  data.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
