/**
 * The rosbridge client's CBOR reader (src/robot/rosbridge-cbor.ts): for what it reads, exactly
 * cbor2's value — same types (typed arrays of the same type and bits, byte strings as views),
 * same keys in the same order, -0, NaN and ±∞ as they are; everything else is left to cbor2.
 * Then a real network link reads a real sim-serve's messages through it as roslib's own
 * transport does. Behaviour only; speed is bench/ros.ts's.
 */
import { decode, encode } from 'cbor2';
import { Ros, Topic } from 'roslib';
import { describe, expect, it } from 'vitest';
import { connectRosbridge } from '../src/robot/rosbridge.ts';
import { NOT_READ, fromCbor } from '../src/robot/rosbridge-cbor.ts';
import { toCbor } from '../src/robot/rosbridge-wire.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { resolveNames, ROS_TYPE } from '../src/robot/ros-messages.ts';
import { startSimServe } from './sim-serve-helpers.ts';

/** Where two decoded values differ ('' when they are the same to the bit), strictly: types, key order, -0, NaN. */
function difference(a: unknown, b: unknown, path = 'value'): string {
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`;
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b) ? '' : `${path}: ${String(a)} vs ${String(b)}`;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: ${a.constructor.name} vs ${(b as object).constructor.name}`;
  if (ArrayBuffer.isView(a)) {
    const [x, y] = [a, b as ArrayBufferView].map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    return x.equals(y) ? '' : `${path}: bytes ${x.toString('hex')} vs ${y.toString('hex')}`;
  }
  const [ka, kb] = [Object.keys(a), Object.keys(b as object)];
  if (ka.join('\0') !== kb.join('\0')) return `${path}: keys ${ka.join(',')} vs ${kb.join(',')}`;
  for (const k of ka) {
    const d = difference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return '';
}

const AWKWARD = [-0, 5e-324, -Number.MAX_VALUE, 0.1 + 0.2, Number.NaN, -Infinity, Infinity, 3, 2 ** 53, -(2 ** 60), 1 / 3];

describe('the rosbridge client CBOR reader', () => {
  const messages: unknown[] = [
    { op: 'publish', topic: '/joint_states', msg: { header: { stamp: { sec: 3, nanosec: 999_999_999 }, frame_id: '' }, name: ['a', 'b'], position: Float64Array.from(AWKWARD), velocity: [], effort: new Float64Array(0) } },
    { op: 'publish', topic: '/camera/wrist/image_raw', msg: { height: 2, width: 2, encoding: '32FC1', is_bigendian: 0, step: 8, data: Uint8Array.from([0, 1, 254, 255, 7, 8, 9, 10]) } },
    { op: 'service_response', id: 'call:1', service: '/reset', result: true, values: { success: true, message: '{"seed":0}' } },
    {
      ints: [0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32, -1, -24, -25, -(2 ** 40), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
      floats: AWKWARD, text: ['', 'ascii', 'ünïcode ✓', 'x'.repeat(300)], flags: [true, false, null], missing: undefined, holes: [undefined],
      f32: Float32Array.from([1.5, -0, 3.4e38, Number.NaN]), i32: Int32Array.from([-1, 2 ** 31 - 1]), u32: Uint32Array.from([0, 2 ** 32 - 1]),
      i16: Int16Array.from([-32_768, 7]), u16: Uint16Array.from([1, 65_535]), i8: Int8Array.from([-128, 127]), clamped: Uint8ClampedArray.from([0, 255]),
      i64: BigInt64Array.from([-(2n ** 63n), 5n]), u64: BigUint64Array.from([2n ** 64n - 1n]), empty: { a: [], b: {}, c: new Float64Array(0) },
      nested: { deeper: { deepest: [[1.5], { a: 'b' }] } }, 'key with spaces': 1, '': 'empty key',
    },
  ];

  it('reads what arbor\'s server and cbor2 write to the value cbor2 reads, bit for bit', () => {
    for (const m of messages) {
      for (const bytes of [new Uint8Array(toCbor(m)), encode(m)]) {
        const ours = fromCbor(bytes);
        expect(ours).not.toBe(NOT_READ);
        expect(difference(ours, decode(bytes))).toBe('');
      }
    }
    // cbor2 writes floats as short as they stay exact: every half float it can write, read as it reads them.
    for (let bits = 0; bits < 0x10000; bits += 7) {
      const bytes = Uint8Array.from([0xf9, bits >> 8, bits & 0xff]);
      expect(Object.is(fromCbor(bytes), decode(bytes)) || (Number.isNaN(fromCbor(bytes)) && Number.isNaN(decode(bytes)))).toBe(true);
    }
    // NaNs with payloads (quiet, signalling, negative) in every float typed-array tag, either byte order: cbor2's bits.
    const nans = ['7ff8000000000001', '7ff0000000000001', 'fff8000000000abc', '7fc00001', '7f800001', 'ff800123'];
    for (const hex of nans) {
      const le = Buffer.from(hex, 'hex').reverse();
      const tags = hex.length === 16 ? [0xd8, 86, 0xd8, 82] : [0xd8, 85, 0xd8, 81];
      for (const [tag, bytes] of [[tags.slice(0, 2), le], [tags.slice(2), Buffer.from(hex, 'hex')]] as const) {
        const cbor = Uint8Array.from([...tag, 0x40 + bytes.length, ...bytes]);
        expect(difference(fromCbor(cbor), decode(cbor))).toBe('');
      }
    }
    // Big-endian typed arrays (rosbridge_server on a big-endian host) and float32 scalars.
    const be = Uint8Array.from([
      0x83, 0xd8, 0x52, 0x50, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0, // [float64 BE [1.5, -0],
      0xfa, 0x3f, 0xc0, 0, 0, // 1.5 as float32,
      0xd8, 0x41, 0x44, 0, 1, 0xff, 0xff, // uint16 BE [1, 65535]]
    ]);
    expect(difference(fromCbor(be), decode(be))).toBe('');
    const [f64, f32, u16] = fromCbor(be) as [Float64Array, number, Uint16Array];
    expect([Array.from(f64), f32, Array.from(u16)]).toEqual([[1.5, -0], 1.5, [1, 65_535]]);
  });

  it('leaves to cbor2 every form it does not read, and bad bytes too (cbor2 gives the value or the error)', () => {
    const left = [
      Uint8Array.from([0x9f, 0x01, 0xff]), // indefinite-length array
      Uint8Array.from([0xc1, 0x00]), // tag 1, a date
      Uint8Array.from([0xa1, 0x01, 0x02]), // map with an integer key
      Uint8Array.from([0x1b, 0xff, 0, 0, 0, 0, 0, 0, 0]), // integer past 2^53
      Uint8Array.from([0x01, 0x02]), // trailing bytes
      Uint8Array.from([0x82, 0x01]), // truncated
      Uint8Array.from([0x62, 0xc3, 0x28]), // invalid UTF-8
      Uint8Array.from([0xf0]), // simple value 16
      encode(JSON.parse('{"__proto__": 1}')), // an own __proto__ key
    ];
    for (const bytes of left) expect(fromCbor(bytes)).toBe(NOT_READ);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(fromCbor(encode(deep))).toBe(NOT_READ);
  });

  it('gives a network link\'s subscriber the messages a plain roslib client gets from a real sim-serve, value for value', async () => {
    const scenario = await loadScenario('scenarios/pick-place.yaml');
    const served = await startSimServe('scenarios/pick-place.yaml', ['--rosbridge', '0', '--camera-rate', '10']);
    const n = resolveNames(scenario.robotConfig.ros, '');
    const url = `ws://127.0.0.1:${served.port}`;
    const graph = await connectRosbridge(url);
    const plain = new Ros({});
    const opened = new Promise((resolve) => plain.once('connection', resolve));
    await plain.connect(url);
    await opened;
    try {
      const topics: [string, string][] = [[n.jointStates, ROS_TYPE.jointState], [n.controllerState, ROS_TYPE.controllerState], [n.cameras[0], ROS_TYPE.image], [n.wrench!, ROS_TYPE.wrench]];
      const ours: Record<string, unknown[]> = {};
      const theirs: Record<string, unknown[]> = {};
      for (const [topic, type] of topics) {
        ours[topic] = [];
        theirs[topic] = [];
        graph.subscribe(topic, type, (m) => ours[topic].push(m));
        new Topic({ ros: plain, name: topic, messageType: type, compression: 'cbor' }).subscribe((m) => theirs[topic].push(m));
      }
      await new Promise((r) => setTimeout(r, 300));
      const joints = scenario.robotConfig.joints.map((j) => j.name);
      const away = scenario.robotConfig.home.map((q, i) => q + 0.05 * (i + 1));
      const command = graph.advertise(n.trajectoryTopic, ROS_TYPE.trajectory);
      command({ joint_names: joints, points: [{ positions: away, velocities: [], accelerations: [], effort: [], time_from_start: { sec: 0, nanosec: 400_000_000 } }] });
      const deadline = Date.now() + 10_000;
      while (theirs[n.jointStates].length < 21 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 200));
      for (const [topic] of topics) {
        expect(theirs[topic].length, topic).toBeGreaterThan(0);
        expect(ours[topic].length, topic).toBe(theirs[topic].length);
        theirs[topic].forEach((m, i) => expect(difference(ours[topic][i], m, topic)).toBe(''));
      }
      // The state moved tick by tick: these are twenty-odd different messages, not one latched one.
      expect(new Set(ours[n.jointStates].map((m) => JSON.stringify(Array.from((m as { position: Float64Array }).position)))).size).toBeGreaterThan(10);
    } finally {
      plain.close();
      await graph.close();
      await served.stop();
    }
  }, 60_000);
});
