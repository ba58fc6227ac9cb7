/**
 * The rosbridge server's wire (issue 20): CBOR with RFC 8746 tagged typed arrays that roslib's
 * decoder reads back bit for bit, JSON as `JSON.stringify` with rosbridge's replacer writes it,
 * and one encoding per message whatever the number of subscribers. Behaviour only; speed is
 * bench/ros.ts's.
 */
import { decode, encode } from 'cbor2';
import { Ros, Topic } from 'roslib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RosbridgeServer } from '../src/robot/rosbridge-server.ts';
import { cborEncodeCount, toCbor as toCborBuffer, toJson } from '../src/robot/rosbridge-wire.ts';

/** The CBOR bytes as roslib hands them to its decoder: a plain Uint8Array over the frame. */
const toCbor = (m: unknown) => new Uint8Array(toCborBuffer(m));

const NAMES = ['shoulder_pan', 'shoulder_lift', 'elbow', 'wrist_1', 'wrist_2', 'wrist_3'];
/** Values a float64 path could lose: negative zero, subnormals, the extremes, non-finite numbers, integers held as floats. */
const AWKWARD = [-0, 5e-324, -Number.MAX_VALUE, 0.1 + 0.2, Number.NaN, -Infinity, 3, 2 ** 53, -(2 ** 60), 1 / 3];

/** What `JSON.stringify` with rosbridge's replacer writes (the writer this replaced). */
function reference(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number | bigint>, Number);
    if (typeof v === 'bigint') return Number(v);
    return v;
  });
}

const jointState = (t: number, position: ArrayLike<number>) => ({
  header: { stamp: { sec: Math.floor(t), nanosec: Math.round((t % 1) * 1e9) }, frame_id: '' },
  name: NAMES,
  position: Float64Array.from(position),
  velocity: Float64Array.from(position, (q) => q / 3),
  effort: new Float64Array(position.length),
});

describe('the rosbridge wire writers', () => {
  const messages: unknown[] = [
    { op: 'publish', topic: '/joint_states', msg: jointState(1.25, AWKWARD) },
    {
      ints: [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, -1, -24, -25, -(2 ** 40), Number.MAX_SAFE_INTEGER],
      text: ['', 'ascii', 'ünïcode ✓', 'x'.repeat(300)], flags: [true, false, null], missing: undefined, holes: [undefined],
      bytes: Uint8Array.from([0, 1, 254, 255]), f32: Float32Array.from([1.5, -0, 3.4e38]), i32: Int32Array.from([-1, 2 ** 31 - 1]),
      u16: Uint16Array.from([1, 65_535]), big: 7n, nested: { deeper: { deepest: [[1.5], { a: 'b' }] } },
    },
    { notPlain: new Map([[1, 2]]), when: new Date(0) },
  ];

  it('writes JSON as JSON.stringify with rosbridge\'s replacer does, byte for byte', () => {
    for (const m of messages) expect(toJson(m)).toBe(reference(m));
  });

  it('writes CBOR that decodes to what cbor2 gives, typed arrays as RFC 8746 tags of the same type and bits', () => {
    for (const m of messages) {
      const ours = decode(toCbor(m));
      const theirs = decode(encode(m));
      expect(reference(ours)).toBe(reference(theirs));
    }
    const bytes = Buffer.from(toCbor(messages[0]));
    // Tag 86 (float64, little-endian) heads each of the three arrays: 0xd8 0x56, then a 48-byte string for six joints.
    expect(bytes.indexOf(Buffer.from([0xd8, 86, 0x58, 8 * AWKWARD.length]))).toBeGreaterThan(0);
    const decoded = decode(bytes) as { msg: { position: Float64Array } };
    expect(decoded.msg.position).toBeInstanceOf(Float64Array);
    expect(Buffer.from(decoded.msg.position.buffer, decoded.msg.position.byteOffset, decoded.msg.position.byteLength))
      .toEqual(Buffer.from(Float64Array.from(AWKWARD).buffer));
    const other = decode(toCbor(messages[1])) as { f32: unknown; i32: unknown; bytes: unknown; ints: number[] };
    expect(other.f32).toBeInstanceOf(Float32Array);
    expect(other.i32).toBeInstanceOf(Int32Array);
    expect(other.bytes).toBeInstanceOf(Uint8Array);
    expect(Object.is((decode(toCbor(-0)) as number), -0)).toBe(true);
    expect(other.ints).toEqual((messages[1] as { ints: number[] }).ints);
  });
});

describe('a rosbridge server with several roslib subscribers on 127.0.0.1', () => {
  let server: RosbridgeServer;
  const clients: Ros[] = [];
  beforeAll(async () => {
    server = await RosbridgeServer.listen({ port: 0 });
  });
  afterAll(async () => {
    for (const ros of clients) ros.close();
    await server?.close();
  });

  async function connect(): Promise<Ros> {
    const ros = new Ros({});
    const opened = new Promise((resolve) => ros.once('connection', resolve));
    await ros.connect(`ws://127.0.0.1:${server.port}`);
    await opened;
    clients.push(ros);
    return ros;
  }

  it('gives CBOR subscribers the same /joint_states values as JSON ones, and encodes each message once for all of them', async () => {
    const publish = server.publisher('/joint_states', 'sensor_msgs/msg/JointState');
    const kinds = ['cbor', 'cbor', 'cbor', 'none', 'none'] as const;
    const received = kinds.map(() => [] as { name: string[]; position: ArrayLike<number>; velocity: ArrayLike<number>; header: { stamp: { nanosec: number } } }[]);
    for (const [i, compression] of kinds.entries()) {
      const topic = new Topic<(typeof received)[number][number]>({ ros: await connect(), name: '/joint_states', messageType: 'sensor_msgs/msg/JointState', compression });
      topic.subscribe((m) => received[i].push(m));
    }
    // Subscriptions travel over each client's own connection: wait until the server has them all.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      publish(jointState(0, NAMES.map(() => 0)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (received.every((r) => r.length > 0)) break;
    }
    for (const r of received) r.length = 0;

    const ticks = 50;
    const before = cborEncodeCount();
    for (let k = 1; k <= ticks; k++) publish(jointState(k * 0.02, AWKWARD.map((q) => (Number.isFinite(q) ? q * k : q))));
    expect(cborEncodeCount() - before).toBe(ticks); // three CBOR subscribers, one encoding a tick
    await expect.poll(() => received.map((r) => r.length), { timeout: 10_000 }).toEqual(kinds.map(() => ticks));

    const bits = (a: ArrayLike<number>) => Buffer.from(Float64Array.from(a).buffer);
    for (let k = 0; k < ticks; k++) {
      const sent = jointState((k + 1) * 0.02, AWKWARD.map((q) => (Number.isFinite(q) ? q * (k + 1) : q)));
      for (const [i, compression] of kinds.entries()) {
        const m = received[i][k];
        expect(m.header).toEqual(sent.header);
        expect(m.name).toEqual(NAMES);
        if (compression === 'cbor') {
          // A CBOR subscriber gets the very bits sent, as typed arrays.
          expect(m.position).toBeInstanceOf(Float64Array);
          expect(bits(m.position)).toEqual(bits(sent.position));
          expect(bits(m.velocity)).toEqual(bits(sent.velocity));
        } else {
          // A JSON one the same numbers as JSON can say them (no NaN, infinities or -0: null, null, 0).
          expect(JSON.stringify(m.position)).toBe(reference(sent.position));
          expect(JSON.stringify(m.velocity)).toBe(reference(sent.velocity));
        }
      }
    }
  });
});
