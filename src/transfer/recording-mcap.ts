/**
 * MCAP files as the messages a recording is made of: read front to back (indexed or not, the way
 * rosbag2 and arbor both write them), each channel of a wanted schema decoded from its own
 * definition (ros2msg schema with CDR messages, or JSON messages), and the episodes an arbor
 * export marks in its `arbor.episode` metadata. Knows MCAP and ROS 2 encodings, nothing of arms.
 */
import { readFileSync } from 'node:fs';
import { parse } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { McapStreamReader, type TypedMcapRecord } from '@mcap/core';
import { z } from 'zod';
import { EPISODE_METADATA } from '../trace/mcap.ts';

/** One decoded message. */
export interface DecodedMessage {
  /** Its topic. */
  topic: string;
  /** Log time (ns): exact, where seconds since 1970 in a double are not. */
  logTime: bigint;
  /** The message, as decoded (not yet validated). */
  message: unknown;
}

/** An episode an arbor export marks: its id and where it lies on the file's timeline. */
export interface McapEpisode {
  /** Episode id in the store it came from. */
  id: string;
  /** First time (s) on the file's timeline. */
  start: number;
  /** Last time (s) on the file's timeline. */
  end: number;
}

/** What the files hold. */
export interface McapContents {
  /** Every topic, with its schema name and message encoding (for saying what a file lacks). */
  topics: { topic: string; schema: string; encoding: string }[];
  /** The messages of the wanted schemas, in file order. */
  messages: Map<string, DecodedMessage[]>;
  /** The episodes of an arbor export; empty for any other file. */
  episodes: McapEpisode[];
}

/** The episode metadata arbor's exporter writes (strings, as MCAP metadata is). */
const EpisodeMetadata = z.object({
  episode: z.string(),
  start_time: z.coerce.number(),
  end_time: z.coerce.number(),
});

/** A channel being read: how its messages decode, or why they cannot. */
type Decoder = { decode: (data: Uint8Array) => unknown } | { problem: string };

/**
 * Reads `files` (one file, or a bag's files in order) and decodes the messages of the channels
 * whose schema `wanted` names, by schema name. `source` names the input in errors.
 */
export function readMcap(files: readonly string[], wanted: readonly string[], source: string): McapContents {
  const contents: McapContents = { topics: [], messages: new Map(wanted.map((w) => [w, []])), episodes: [] };
  for (const file of files) {
    const reader = new McapStreamReader({ validateCrcs: true });
    reader.append(readFileSync(file));
    const schemas = new Map<number, { name: string; encoding: string; text: string }>();
    const channels = new Map<number, { topic: string; schema: string; decoder?: Decoder }>();
    for (let record = next(reader, file); record; record = next(reader, file)) {
      if (record.type === 'Schema') schemas.set(record.id, { name: record.name, encoding: record.encoding, text: new TextDecoder().decode(record.data) });
      else if (record.type === 'Channel') {
        const schema = schemas.get(record.schemaId);
        const name = normalType(schema?.name ?? '');
        // A channel appears again in the summary section; list each topic once.
        if (!contents.topics.some((t) => t.topic === record.topic && t.schema === (name || '(no schema)'))) {
          contents.topics.push({ topic: record.topic, schema: name || '(no schema)', encoding: record.messageEncoding });
        }
        channels.set(record.id, { topic: record.topic, schema: name, decoder: wanted.includes(name) ? decoderOf(record.messageEncoding, schema) : undefined });
      } else if (record.type === 'Message') {
        const channel = channels.get(record.channelId);
        if (!channel?.decoder) continue;
        if ('problem' in channel.decoder) throw new Error(`${source}: topic ${channel.topic} (${channel.schema}) cannot be read: ${channel.decoder.problem}.`);
        contents.messages.get(channel.schema)!.push({ topic: channel.topic, logTime: record.logTime, message: channel.decoder.decode(record.data) });
      } else if (record.type === 'Metadata' && record.name === EPISODE_METADATA) {
        const meta = EpisodeMetadata.safeParse(Object.fromEntries(record.metadata));
        if (!meta.success) throw new Error(`${source}: its ${EPISODE_METADATA} metadata is malformed (${meta.error.issues[0]?.path.join('.')}: ${meta.error.issues[0]?.message}).`);
        contents.episodes.push({ id: meta.data.episode, start: meta.data.start_time, end: meta.data.end_time });
      }
    }
  }
  return contents;
}

/** `pkg/msg/Type` and `pkg/Type` alike, as `pkg/msg/Type`. */
export function normalType(name: string): string {
  const parts = name.split('/');
  return parts.length === 2 ? `${parts[0]}/msg/${parts[1]}` : name;
}

/** The next record; a broken or compressed file is refused naming the file. */
function next(reader: McapStreamReader, file: string): TypedMcapRecord | undefined {
  try {
    return reader.nextRecord();
  } catch (error) {
    const message = (error as Error).message;
    const hint = /compression/i.test(message) ? ' arbor reads uncompressed MCAP: record with --storage-preset-profile none, or convert it with `mcap convert`.' : '';
    throw new Error(`${file}: is not an MCAP file arbor can read (${message}).${hint}`);
  }
}

/** How a channel's messages decode: CDR by its ros2msg schema, or JSON. */
function decoderOf(encoding: string, schema: { encoding: string; text: string } | undefined): Decoder {
  if (encoding === 'json') return { decode: (data) => JSON.parse(new TextDecoder().decode(data)) };
  if (encoding !== 'cdr') return { problem: `its messages are '${encoding}'; arbor reads ROS 2 CDR or JSON` };
  if (!schema || schema.encoding !== 'ros2msg') return { problem: `its CDR messages come without a ros2msg schema (${schema?.encoding ?? 'none'})` };
  try {
    const reader = new MessageReader(parse(schema.text, { ros2: true }));
    return { decode: (data) => reader.readMessage(data) };
  } catch (error) {
    return { problem: `its schema does not parse (${(error as Error).message})` };
  }
}
