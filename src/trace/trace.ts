/**
 * Traces: the per-topic time series of one episode. Topics are the lingua franca of arbor: the
 * sim and a physical robot both produce these, and the scorer and the viewer read only these.
 *
 * A topic is a ROS message flattened into named numeric fields (`position.shoulder_pan`, ...),
 * stored as one Float32Array of rows plus a Float64Array of stamps: compact, and cheap to write
 * at the control rate. Image topics (`sensor_msgs/Image`) are kept apart, as byte rows of one
 * frame each with their encoding, size and camera: a numeric topic stays numeric for every reader
 * (scorers, plots, codecs), and an image keeps its bytes as ROS sends them. A trace saves to one
 * artifact file and loads back identically.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { z } from 'zod';

/** One topic's time series. */
export interface TopicSeries {
  /** Topic name, e.g. `/joint_states`. */
  name: string;
  /** ROS message type whose shape the fields flatten, e.g. `sensor_msgs/JointState`. */
  type: string;
  /** Field names, one per column. */
  fields: string[];
  /** Message stamps in seconds of sim (or robot) time, one per row. */
  stamps: Float64Array;
  /** Row-major values: `stamps.length` rows of `fields.length` columns. */
  data: Float32Array;
}

/** Facts about the episode that are not time series. */
export interface TraceMeta {
  /** Scenario name. */
  scenario?: string;
  /** Episode seed. */
  seed?: number;
  /** Where the episode ran: `sim`, `rosbridge`, `ros2`. */
  backend?: string;
  /** Anything else a producer wants to keep (object setup, zone, ...). */
  [key: string]: unknown;
}

/** Pixel encodings of image topics, as `sensor_msgs/Image.encoding` names them. */
export const IMAGE_ENCODINGS = {
  /** 3 bytes a pixel: red, green, blue. */
  rgb8: 3,
  /** 1 byte a pixel: grey level or a mask (0 off, 255 on). */
  mono8: 1,
  /** 2 bytes a pixel (little-endian): a label id, 0 for nothing. */
  '16UC1': 2,
  /** 4 bytes a pixel (little-endian float32): depth in metres, +Inf where nothing is seen. */
  '32FC1': 4,
} as const;
export type ImageEncoding = keyof typeof IMAGE_ENCODINGS;

/**
 * A pinhole camera (the part of `sensor_msgs/CameraInfo` vision needs): intrinsics in pixels and
 * the camera's pose in the world. Camera frame as in ROS optical frames: x right, y down, z ahead.
 */
export const CameraModel = z.strictObject({
  /** Focal length along x (px). */
  fx: z.number().positive(),
  /** Focal length along y (px). */
  fy: z.number().positive(),
  /** Principal point x (px from the left edge). */
  cx: z.number(),
  /** Principal point y (px from the top edge). */
  cy: z.number(),
  /** Camera position in the world (m). */
  position: z.tuple([z.number(), z.number(), z.number()]),
  /** World-from-camera rotation, row-major 3x3 (columns: the camera's x, y, z axes in the world). */
  rotation: z.array(z.number()).length(9),
});
export type CameraModel = z.infer<typeof CameraModel>;

/** What an image topic is, besides its frames. */
export interface ImageInfo {
  /** Topic name, e.g. `/camera/top/rgb`. */
  name: string;
  /** Pixel encoding. */
  encoding: ImageEncoding;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** The camera frame the image is taken in (`header.frame_id`). */
  frameId: string;
  /** For label images: what each label value stands for, by name. */
  labels?: Record<string, number>;
  /** The camera that took it, when known (sim cameras always are). */
  camera?: CameraModel;
}

/** One image topic's frames: `stamps.length` frames of `width × height × bytes per pixel` bytes. */
export interface ImageSeries extends ImageInfo {
  /** Frame stamps (s), one per frame. */
  stamps: Float64Array;
  /** The frames' bytes, row-major from the top-left, one frame after the other. */
  data: Uint8Array;
}

/** Bytes of one frame of an image topic. */
export function frameBytes(info: Pick<ImageInfo, 'width' | 'height' | 'encoding'>): number {
  return info.width * info.height * IMAGE_ENCODINGS[info.encoding];
}

export class Trace {
  constructor(
    /** Topics by name. */
    readonly topics: ReadonlyMap<string, TopicSeries>,
    /** Episode facts. */
    readonly meta: TraceMeta = {},
    /** Image topics (`sensor_msgs/Image`) by name; none unless the scenario asks for cameras. */
    readonly images: ReadonlyMap<string, ImageSeries> = new Map(),
  ) {}

  /** An image topic; throws naming the image topics there are when it is missing. */
  image(name: string): ImageSeries {
    const image = this.images.get(name);
    if (!image) throw new Error(`The trace has no image topic '${name}'. It has: ${[...this.images.keys()].join(', ') || 'none (the scenario records no cameras)'}.`);
    return image;
  }

  /** A topic; throws naming the topics there are when it is missing. */
  topic(name: string): TopicSeries {
    const topic = this.topics.get(name);
    if (!topic) throw new Error(`The trace has no topic '${name}'. It has: ${[...this.topics.keys()].join(', ')}.`);
    return topic;
  }

  /** The episode up to `time` (s): every topic's and image topic's messages stamped at or before it. */
  until(time: number): Trace {
    const rows = (stamps: Float64Array) => {
      let n = 0;
      while (n < stamps.length && stamps[n] <= time) n++;
      return n;
    };
    const topics = new Map([...this.topics].map(([name, t]) => {
      const n = rows(t.stamps);
      return [name, { ...t, stamps: t.stamps.slice(0, n), data: t.data.slice(0, n * t.fields.length) }];
    }));
    const images = new Map([...this.images].map(([name, image]) => {
      const n = rows(image.stamps);
      return [name, { ...image, stamps: image.stamps.slice(0, n), data: image.data.slice(0, n * frameBytes(image)) }];
    }));
    return new Trace(topics, this.meta, images);
  }

  /** One field of a topic as a column. */
  column(topicName: string, field: string): Float32Array {
    const topic = this.topic(topicName);
    const col = topic.fields.indexOf(field);
    if (col < 0) throw new Error(`Topic '${topicName}' has no field '${field}'. Fields: ${topic.fields.join(', ')}.`);
    const width = topic.fields.length;
    const out = new Float32Array(topic.stamps.length);
    for (let i = 0; i < out.length; i++) out[i] = topic.data[i * width + col];
    return out;
  }
}

/** Collects rows for a topic, growing its buffers geometrically. */
export class TopicWriter {
  private stamps: Float64Array;
  private data: Float32Array;
  private count = 0;

  constructor(
    /** Topic name. */
    readonly name: string,
    /** ROS message type. */
    readonly type: string,
    /** Field names. */
    readonly fields: string[],
    capacity = 256,
  ) {
    this.stamps = new Float64Array(capacity);
    this.data = new Float32Array(capacity * fields.length);
  }

  /** Appends one message; `values` has one number per field. */
  push(stamp: number, values: ArrayLike<number>): void {
    const width = this.fields.length;
    if (values.length !== width) {
      throw new Error(`Topic '${this.name}' takes ${width} values per message, got ${values.length}.`);
    }
    if (this.count === this.stamps.length) this.grow();
    this.stamps[this.count] = stamp;
    this.data.set(values, this.count * width);
    this.count++;
  }

  /** The last message's values (a view: copy it to keep it), or undefined before the first. */
  last(): Float32Array | undefined {
    if (this.count === 0) return undefined;
    const width = this.fields.length;
    return this.data.subarray((this.count - 1) * width, this.count * width);
  }

  /** Number of messages so far. */
  get length(): number {
    return this.count;
  }

  /** The series so far (copies, so the writer can go on). */
  series(): TopicSeries {
    return {
      name: this.name,
      type: this.type,
      fields: [...this.fields],
      stamps: this.stamps.slice(0, this.count),
      data: this.data.slice(0, this.count * this.fields.length),
    };
  }

  private grow(): void {
    const stamps = new Float64Array(this.stamps.length * 2);
    stamps.set(this.stamps);
    const data = new Float32Array(this.data.length * 2);
    data.set(this.data);
    this.stamps = stamps;
    this.data = data;
  }
}

/** Collects the frames of an image topic. */
export class ImageWriter {
  private readonly stamps: number[] = [];
  private readonly frames: Uint8Array[] = [];

  constructor(
    /** What the topic is. */
    readonly info: ImageInfo,
  ) {}

  /** Appends one frame; `bytes` holds exactly one frame in the topic's encoding (copied). */
  push(stamp: number, bytes: Uint8Array): void {
    const size = frameBytes(this.info);
    if (bytes.length !== size) {
      throw new Error(`Image topic '${this.info.name}' takes ${size} bytes a frame (${this.info.width}x${this.info.height} ${this.info.encoding}), got ${bytes.length}.`);
    }
    this.stamps.push(stamp);
    this.frames.push(bytes.slice());
  }

  /** Number of frames so far. */
  get length(): number {
    return this.stamps.length;
  }

  /** Stamp of the last frame; -Infinity before the first. */
  get lastStamp(): number {
    return this.stamps.length ? this.stamps[this.stamps.length - 1] : -Infinity;
  }

  /** The series so far (copies). */
  series(): ImageSeries {
    const size = frameBytes(this.info);
    const data = new Uint8Array(size * this.frames.length);
    this.frames.forEach((frame, i) => data.set(frame, i * size));
    return { ...this.info, stamps: Float64Array.from(this.stamps), data };
  }
}

/** Records several topics into one trace. */
export class TraceRecorder {
  private readonly writers = new Map<string, TopicWriter>();
  private readonly imageWriters = new Map<string, ImageWriter>();

  /** The writer of a topic, created on first use. */
  topic(name: string, type: string, fields: string[]): TopicWriter {
    let writer = this.writers.get(name);
    if (!writer) {
      writer = new TopicWriter(name, type, fields);
      this.writers.set(name, writer);
    }
    return writer;
  }

  /** The writer of an image topic, created on first use. */
  image(info: ImageInfo): ImageWriter {
    let writer = this.imageWriters.get(info.name);
    if (!writer) {
      writer = new ImageWriter(info);
      this.imageWriters.set(info.name, writer);
    }
    return writer;
  }

  /** A trace of everything recorded. */
  finish(meta: TraceMeta = {}): Trace {
    const topics = new Map([...this.writers].map(([name, w]) => [name, w.series()]));
    return new Trace(topics, meta, new Map([...this.imageWriters].map(([name, w]) => [name, w.series()])));
  }
}

// Artifact layout: 8-byte magic, u32 header length, JSON header, zero padding to 8 bytes, then
// per topic its stamps (f64) and data (f32), each padded to 8 bytes. Version 2 adds image topics:
// after the numeric topics, per image topic its stamps (f64) and frame bytes, each padded to 8.
// A trace without images is written as version 1, byte for byte as before images existed.
const MAGIC_V1 = 'ARBTRC01';
const MAGIC_V2 = 'ARBTRC02';

/** The artifact header, checked when a file is read. */
const Header = z.object({
  meta: z.record(z.string(), z.unknown()),
  topics: z.array(z.object({ name: z.string(), type: z.string(), fields: z.array(z.string()), count: z.number().int().nonnegative() })),
  images: z
    .array(
      z.object({
        name: z.string(),
        encoding: z.enum(Object.keys(IMAGE_ENCODINGS) as [ImageEncoding, ...ImageEncoding[]]),
        width: z.number().int().positive(),
        height: z.number().int().positive(),
        frameId: z.string(),
        labels: z.record(z.string(), z.number().int()).optional(),
        camera: CameraModel.optional(),
        count: z.number().int().nonnegative(),
      }),
    )
    .optional(),
});
type Header = z.infer<typeof Header>;

/** Serializes a trace into one buffer. */
export function encodeTrace(trace: Trace): Uint8Array {
  const topics = [...trace.topics.values()];
  const images = [...trace.images.values()];
  const header: Header = {
    meta: trace.meta,
    topics: topics.map((t) => ({ name: t.name, type: t.type, fields: t.fields, count: t.stamps.length })),
  };
  if (images.length) header.images = images.map(({ stamps, data, ...info }) => ({ ...info, count: stamps.length }));
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const blocks: Uint8Array[] = [];
  for (const t of topics) blocks.push(bytesOf(t.stamps), bytesOf(t.data));
  for (const i of images) blocks.push(bytesOf(i.stamps), i.data);
  let size = pad8(12 + headerBytes.length);
  for (const b of blocks) size += pad8(b.byteLength);
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(images.length ? MAGIC_V2 : MAGIC_V1), 0);
  new DataView(out.buffer).setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  let offset = pad8(12 + headerBytes.length);
  for (const b of blocks) {
    out.set(b, offset);
    offset += pad8(b.byteLength);
  }
  return out;
}

/**
 * Parses a buffer made by `encodeTrace` (either version); throws on anything else. When `bytes`
 * are a whole ArrayBuffer (a transferred worker result, a file read), the trace's arrays view it
 * instead of a copy: the caller hands the bytes over and must not change them.
 */
export function decodeTrace(bytes: Uint8Array): Trace {
  const magic = bytes.length >= 12 ? new TextDecoder().decode(bytes.subarray(0, 8)) : '';
  if (magic !== MAGIC_V1 && magic !== MAGIC_V2) {
    throw new Error('Not an arbor trace: the file does not start with the trace magic.');
  }
  // Typed-array views need a buffer of their own that starts the trace (aligned offsets): bytes
  // inside a larger buffer (a slice of a network message) are copied into one.
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  const buf = whole ? (bytes.buffer as ArrayBuffer) : new Uint8Array(bytes).buffer;
  const headerLength = new DataView(buf).getUint32(8, true);
  if (12 + headerLength > buf.byteLength) throw new Error('The trace is truncated in its header.');
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 12, headerLength)));
  } catch (err) {
    throw new Error(`The trace header is not JSON: ${(err as Error).message}`);
  }
  const parsed = Header.safeParse(raw);
  if (!parsed.success) throw new Error(`The trace header is malformed at ${parsed.error.issues[0].path.join('.')}: ${parsed.error.issues[0].message}.`);
  const header = parsed.data;
  if (magic === MAGIC_V1 && header.images) throw new Error('The trace says version 1 but holds image topics; the file is damaged.');
  let offset = pad8(12 + headerLength);
  const take = (byteLength: number, what: string): number => {
    const at = offset;
    offset += pad8(byteLength);
    if (at + byteLength > buf.byteLength) throw new Error(`The trace is truncated in ${what}.`);
    return at;
  };
  const topics = new Map<string, TopicSeries>();
  for (const t of header.topics) {
    const stamps = new Float64Array(buf, take(8 * t.count, `topic '${t.name}'`), t.count);
    const data = new Float32Array(buf, take(4 * t.count * t.fields.length, `topic '${t.name}'`), t.count * t.fields.length);
    topics.set(t.name, { name: t.name, type: t.type, fields: t.fields, stamps, data });
  }
  const images = new Map<string, ImageSeries>();
  for (const { count, ...info } of header.images ?? []) {
    const stamps = new Float64Array(buf, take(8 * count, `image topic '${info.name}'`), count);
    const size = count * frameBytes(info);
    const data = new Uint8Array(buf, take(size, `image topic '${info.name}'`), size);
    images.set(info.name, { ...info, stamps, data });
  }
  return new Trace(topics, header.meta, images);
}

/** Writes a trace artifact atomically (temp file, then rename), so no half file is ever read. */
export function saveTrace(trace: Trace, path: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, encodeTrace(trace));
  renameSync(tmp, path);
}

export function loadTrace(path: string): Trace {
  return decodeTrace(readFileSync(path));
}

function bytesOf(array: Float64Array | Float32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}
