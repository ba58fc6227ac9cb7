/**
 * CDR codecs for ROS 2 message types, built from the `.msg` files of the sourced distro. rclnodejs
 * turns every message into its generated class and back (its `publish` of a JointState takes about
 * 0.3 ms, a controller state 1 ms), which capped sim-serve near 400 steps/s; writing the CDR bytes
 * ourselves and handing rclnodejs the buffer (its raw path) costs a few microseconds. The bytes are
 * the same a C++ node would send, so any subscriber reads them.
 *
 * A type whose `.msg` files cannot be found (or parsed) has no codec: the caller falls back to
 * rclnodejs's own conversion.
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parse } from '@foxglove/rosmsg';
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';

/** Writes a message as the CDR bytes rclnodejs publishes raw, and reads them back. */
export interface CdrCodec {
  encode(message: object): Buffer;
  decode(bytes: Uint8Array): unknown;
}

const PRIMITIVES = new Set([
  'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring',
]);

/** The `.msg` text of `pkg/msg/Type` (or `pkg/Type`) under the distro's prefixes, or undefined. */
function msgText(type: string, prefixes: readonly string[]): string | undefined {
  const [pkg, ...rest] = type.split('/');
  const name = rest.at(-1);
  if (!pkg || !name) return undefined;
  for (const prefix of prefixes) {
    const file = join(prefix, 'share', pkg, 'msg', `${name}.msg`);
    if (existsSync(file)) return readFileSync(file, 'utf8');
  }
  return undefined;
}

/**
 * The concatenated definition of a type (its own fields, then each type it uses once, each after
 * a `MSG: pkg/Type` line), as `@foxglove/rosmsg` parses it; undefined when a file is missing.
 */
function fullDefinition(type: string, prefixes: readonly string[]): string | undefined {
  const seen = new Set<string>();
  const parts: string[] = [];
  const visit = (pkgType: string, pkg: string, top: boolean): boolean => {
    if (seen.has(pkgType)) return true;
    seen.add(pkgType);
    const text = msgText(pkgType, prefixes);
    if (text === undefined) return false;
    parts.push(top ? text : `${'='.repeat(80)}\nMSG: ${pkgType}\n${text}`);
    for (const line of text.split('\n')) {
      const field = line.replace(/#.*/, '').trim().split(/\s+/)[0];
      if (!field) continue;
      // Constants are of primitive types, so they are passed over with the primitive fields.
      const base = field.replace(/\[.*$/, '').replace(/<=\d+$/, '');
      if (PRIMITIVES.has(base)) continue;
      // `Header` alone is std_msgs's; a bare name is a type of the same package.
      const used = base.includes('/') ? base.replace('/msg/', '/') : base === 'Header' ? 'std_msgs/Header' : `${pkg}/${base}`;
      if (!visit(used, used.split('/')[0], false)) return false;
    }
    return true;
  };
  const [pkg, , name] = type.split('/');
  const short = name ? `${pkg}/${name}` : type;
  return visit(short, pkg, true) ? parts.join('\n') : undefined;
}

const codecs = new Map<string, CdrCodec | undefined>();

/** The codec of `type` (`pkg/msg/Type`), made once per process; undefined when it cannot be built. */
export function cdrCodec(type: string): CdrCodec | undefined {
  if (codecs.has(type)) return codecs.get(type);
  let codec: CdrCodec | undefined;
  try {
    const prefixes = (process.env.AMENT_PREFIX_PATH ?? '').split(delimiter).filter(Boolean);
    const definition = fullDefinition(type, prefixes);
    if (definition !== undefined) {
      const parsed = parse(definition, { ros2: true });
      const writer = new MessageWriter(parsed);
      const reader = new MessageReader(parsed);
      codec = {
        encode: (message) => {
          const bytes = writer.writeMessage(message);
          return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        },
        decode: (bytes) => reader.readMessage(bytes),
      };
    }
  } catch {
    codec = undefined;
  }
  codecs.set(type, codec);
  return codec;
}
