/**
 * CDR codecs for ROS 2 message types, built from the `.msg` files of the sourced distro. rclnodejs
 * turns every message into its generated class and back (its `publish` of a JointState takes about
 * 0.3 ms, a controller state 1 ms), which capped sim-serve near 400 steps/s; writing the CDR bytes
 * ourselves and handing rclnodejs the buffer (its raw path) costs a few microseconds. The bytes are
 * the same a C++ node would send, so any subscriber reads them.
 *
 * A type whose `.msg` files cannot be found (or parsed) has no codec: the caller falls back to
 * rclnodejs's own conversion.
 *
 * A publisher encodes into one buffer of its own, reused message after message: MessageWriter
 * would otherwise walk each message twice (once to size a new buffer, once to write it) and leave
 * the buffer to the GC. Reuse is safe: rclnodejs's raw publish (rcl_publish_serialized_message)
 * keeps no reference, and the middleware copies the bytes before the call returns
 * (rmw_cyclonedds_cpp's serdata_rmw_from_serialized_message builds its sample from them;
 * rmw_fastrtps_cpp's data writer serializes them into its payload); and CdrWriter zeroes every
 * padding byte, so nothing of a longer earlier message shows: the bytes are the ones a fresh
 * buffer gets (test/ros2-cdr.test.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parse } from '@foxglove/rosmsg';
import { MessageReader, MessageWriter } from '@foxglove/rosmsg2-serialization';
import { ros2msgDefinition } from '../trace/ros2-messages.ts';

/** Writes a message as the CDR bytes rclnodejs publishes raw, and reads them back. */
export interface CdrCodec {
  /** The parsed `.msg` definitions the codec writes and reads by. */
  definition: ConstructorParameters<typeof MessageWriter>[0];
  /**
   * An encoder of its own (one per publisher): each call writes into the buffer of the call before,
   * grown when a message outgrows it, so the bytes it returns are good until its next call.
   */
  encoder(): (message: object) => Buffer;
  decode(bytes: Uint8Array): unknown;
}

/** Room for a typical state message (a JointState of 7 joints is 248 bytes); a bigger one grows the buffer. */
const FIRST_BUFFER_BYTES = 1024;

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

declare module '@foxglove/rosmsg2-serialization' {
  interface MessageWriter {
    /**
     * The buffer to write into, as the writer really takes it: the package types `output` as a
     * Uint8Array, but hands it to CdrWriter as its ArrayBuffer (a Uint8Array there is copied, then
     * refused by CdrWriter's DataView).
     */
    writeMessage(message: unknown, output: ArrayBuffer): Uint8Array;
  }
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
        definition: parsed,
        encoder: () => {
          let buffer = new ArrayBuffer(FIRST_BUFFER_BYTES);
          return (message) => {
            // CdrWriter moves to a bigger buffer (twice the size) when a message does not fit: that one is kept for the next message.
            const bytes = writer.writeMessage(message, buffer);
            buffer = bytes.buffer as ArrayBuffer;
            return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          };
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
