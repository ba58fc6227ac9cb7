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
import { ros2msgDefinition } from '../trace/ros2-messages.ts';

/** Writes a message as the CDR bytes rclnodejs publishes raw, and reads them back. */
export interface CdrCodec {
  encode(message: object): Buffer;
  decode(bytes: Uint8Array): unknown;
}

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

const codecs = new Map<string, CdrCodec | undefined>();

/** The codec of `type` (`pkg/msg/Type`), made once per process; undefined when it cannot be built. */
export function cdrCodec(type: string): CdrCodec | undefined {
  if (codecs.has(type)) return codecs.get(type);
  let codec: CdrCodec | undefined;
  try {
    const prefixes = (process.env.AMENT_PREFIX_PATH ?? '').split(delimiter).filter(Boolean);
    const own = msgText(type, prefixes);
    if (own !== undefined) {
      // Throws when a type it uses has no .msg file: then there is no codec.
      const definition = ros2msgDefinition(type, own, (used) => msgText(used, prefixes));
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
