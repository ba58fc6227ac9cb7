/**
 * Traces: the per-topic time series of one episode. Topics are the lingua franca of arbor: the
 * sim and a physical robot both produce these, and the scorer and the viewer read only these.
 *
 * A topic is a ROS message flattened into named numeric fields (`position.shoulder_pan`, ...),
 * stored as one Float32Array of rows plus a Float64Array of stamps: compact, and cheap to write
 * at the control rate. A trace saves to one artifact file and loads back identically.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';

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

export class Trace {
  constructor(
    /** Topics by name. */
    readonly topics: ReadonlyMap<string, TopicSeries>,
    /** Episode facts. */
    readonly meta: TraceMeta = {},
  ) {}

  /** A topic; throws naming the topics there are when it is missing. */
  topic(name: string): TopicSeries {
    const topic = this.topics.get(name);
    if (!topic) throw new Error(`The trace has no topic '${name}'. It has: ${[...this.topics.keys()].join(', ')}.`);
    return topic;
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

/** Records several topics into one trace. */
export class TraceRecorder {
  private readonly writers = new Map<string, TopicWriter>();

  /** The writer of a topic, created on first use. */
  topic(name: string, type: string, fields: string[]): TopicWriter {
    let writer = this.writers.get(name);
    if (!writer) {
      writer = new TopicWriter(name, type, fields);
      this.writers.set(name, writer);
    }
    return writer;
  }

  /** A trace of everything recorded. */
  finish(meta: TraceMeta = {}): Trace {
    return new Trace(new Map([...this.writers].map(([name, w]) => [name, w.series()])), meta);
  }
}

// Artifact layout: 8-byte magic, u32 header length, JSON header, zero padding to 8 bytes, then
// per topic its stamps (f64) and data (f32), each padded to 8 bytes.
const MAGIC = 'ARBTRC01';

interface Header {
  meta: TraceMeta;
  topics: { name: string; type: string; fields: string[]; count: number }[];
}

/** Serializes a trace into one buffer. */
export function encodeTrace(trace: Trace): Uint8Array {
  const topics = [...trace.topics.values()];
  const header: Header = {
    meta: trace.meta,
    topics: topics.map((t) => ({ name: t.name, type: t.type, fields: t.fields, count: t.stamps.length })),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  let size = pad8(12 + headerBytes.length);
  for (const t of topics) size += pad8(t.stamps.byteLength) + pad8(t.data.byteLength);
  const out = new Uint8Array(size);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  let offset = pad8(12 + headerBytes.length);
  for (const t of topics) {
    out.set(new Uint8Array(t.stamps.buffer, t.stamps.byteOffset, t.stamps.byteLength), offset);
    offset += pad8(t.stamps.byteLength);
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), offset);
    offset += pad8(t.data.byteLength);
  }
  return out;
}

/** Parses a buffer made by `encodeTrace`; throws on anything else. */
export function decodeTrace(bytes: Uint8Array): Trace {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new Error('Not an arbor trace: the file does not start with the trace magic.');
  }
  // Copy into a fresh, aligned buffer so typed-array views over it are valid.
  const buf = new Uint8Array(bytes).buffer;
  const headerLength = new DataView(buf).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 12, headerLength))) as Header;
  let offset = pad8(12 + headerLength);
  const topics = new Map<string, TopicSeries>();
  for (const t of header.topics) {
    const stamps = new Float64Array(buf, offset, t.count);
    offset += pad8(stamps.byteLength);
    const data = new Float32Array(buf, offset, t.count * t.fields.length);
    offset += pad8(data.byteLength);
    if (offset > buf.byteLength) throw new Error(`The trace is truncated in topic '${t.name}'.`);
    topics.set(t.name, { name: t.name, type: t.type, fields: t.fields, stamps, data });
  }
  return new Trace(topics, header.meta);
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

function pad8(n: number): number {
  return (n + 7) & ~7;
}
