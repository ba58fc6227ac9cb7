/**
 * The state topics' parsers a network link runs every tick (src/robot/ros-messages.ts): the plain
 * check in front of each zod schema takes only what the schema takes and gives what it gives, and
 * a bad message gets the schema's own error. Every field of a real message is replaced in turn by
 * odd values; each result is compared with the schema's.
 */
import { describe, expect, it } from 'vitest';
import {
  JointStateMsg, PoseStampedMsg, WrenchStampedMsg, describeIssues, jointStateParser, poseStampedParser, wrenchStampedParser, type Parsed,
} from '../src/robot/ros-messages.ts';

const ODD: unknown[] = [
  undefined, null, NaN, Infinity, -Infinity, -0, 0, 1.5, -1, 2 ** 53, 2 ** 60, 999_999_999, 1_000_000_000, '', 'x', true,
  [], {}, [1, 'a'], [1.5, NaN], ['a', 'b'], new Float64Array([1, 2]), new Float32Array(1), new BigInt64Array(1), new DataView(new ArrayBuffer(8)),
];

/** Every path to a value inside `v` (objects and plain arrays), the root too. */
function paths(v: unknown, at: string[] = []): string[][] {
  const out = [at];
  if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)) for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

/** `v` with the value at `path` replaced (or deleted, for `undefined`), deep-copied on the way. */
function replaced(v: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = Array.isArray(v) ? [...v] : { ...(v as object) };
  const [k, ...rest] = path;
  if (value === undefined && rest.length === 0) delete (copy as Record<string, unknown>)[k];
  else (copy as Record<string, unknown>)[k] = replaced((v as Record<string, unknown>)[k], rest, value);
  return copy;
}

const header = { stamp: { sec: 12, nanosec: 340_000_000 }, frame_id: 'world' };
const cases: [string, { safeParse(v: unknown): Parsed<unknown> }, { safeParse(v: unknown): Parsed<unknown> }, object[]][] = [
  ['JointState', jointStateParser, JointStateMsg, [
    { header, name: ['a', 'b'], position: new Float64Array([0.5, -0]), velocity: new Float64Array(2), effort: new Float64Array(0) },
    { header, name: ['a'], position: [1], velocity: [], effort: [] },
  ]],
  ['PoseStamped', poseStampedParser, PoseStampedMsg, [{ header, pose: { position: { x: 1, y: -0, z: 0.25 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } }]],
  ['WrenchStamped', wrenchStampedParser, WrenchStampedMsg, [{ header, wrench: { force: { x: 1, y: 2, z: 3 }, torque: { x: -1, y: -2, z: -3 } } }]],
];

describe('the state topics\' per-tick parsers', () => {
  for (const [name, parser, schema, messages] of cases) {
    it(`${name}: takes what its zod schema takes, gives what it gives, refuses with its error`, () => {
      let taken = 0;
      let refused = 0;
      for (const message of messages) {
        const variants = [message, { ...message, extra: 1 }, ...paths(message).flatMap((p) => ODD.map((odd) => replaced(message, p, odd)))];
        for (const v of variants) {
          const ours = parser.safeParse(v);
          const theirs = schema.safeParse(v);
          expect(ours.success, String(JSON.stringify(v, (_k, x) => (ArrayBuffer.isView(x) ? `${x.constructor.name}(${(x as Uint8Array).length})` : x)))).toBe(theirs.success);
          if (ours.success && theirs.success) {
            expect(ours.data).toStrictEqual(theirs.data);
            taken++;
          } else if (!ours.success && !theirs.success) {
            expect(describeIssues('m', ours.error)).toBe(describeIssues('m', theirs.error));
            refused++;
          }
        }
      }
      expect(taken).toBeGreaterThan(messages.length);
      expect(refused).toBeGreaterThan(20);
    });
  }

  it('takes a well-formed state without the schema (its name list is the message\'s own, which zod would copy)', () => {
    const m = cases[0][3][0] as { name: string[] };
    const ours = jointStateParser.safeParse(m);
    expect(ours.success && ours.data.name).toBe(m.name);
    const theirs = JointStateMsg.safeParse(m);
    expect(theirs.success && theirs.data.name).not.toBe(m.name);
  });
});
