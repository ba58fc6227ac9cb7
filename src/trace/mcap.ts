/**
 * Episodes as one MCAP file (ROS 2 profile) that Foxglove and `ros2 bag` open: every trace topic
 * on a channel of the same name, CDR-encoded as its ROS 2 message (src/trace/ros2-messages.ts),
 * image topics as `sensor_msgs/msg/Image`;
 * object (and tool) poses also as transforms on /tf; and each episode's score, terms and metrics
 * as one JSON document on /arbor/score. Every channel is CDR, the score included (JSON inside a
 * `std_msgs/String`): rosbag2 refuses to read a file whose topics mix serialization formats.
 *
 * Several episodes share one timeline, one after the other, on the same topic names: each is
 * moved by whole seconds to start a second after the previous one ends. That is what ROS tools
 * expect of a recording: time only goes forward (rosbag2 reads in log-time order and resumes from
 * the last time it read; /clock users and tf buffers reset when time jumps back), and a Foxglove
 * layout or a node made for /joint_states works on every episode. Episodes are told apart by
 * their /arbor/score message, published at each episode's first stamp (so Foxglove's Raw Messages
 * panel names the episode playing), and by an `arbor.episode` metadata record with its id, seed,
 * shift and time range. The first episode is never moved: a one-episode file has the trace's own
 * stamps. Whole-second shifts keep every nanosecond as recorded.
 *
 * The writer streams: one episode is in memory at a time, however many a file holds.
 */
import { once } from 'node:events';
import { McapWriter, type IWritable } from '@mcap/core';
import { imageCodec, stringMessage, tfCodec, toRosTime, topicCodec, type RosTime, type TopicCodec } from './ros2-messages.ts';
import type { Trace } from './trace.ts';

/** The topic of each episode's score document. */
export const SCORE_TOPIC = '/arbor/score';
/** The topic pose transforms go on. */
export const TF_TOPIC = '/tf';
/** The name of each episode's metadata record. */
export const EPISODE_METADATA = 'arbor.episode';
/** Seconds from the end of one episode to the start of the next in a file of several. */
const EPISODE_GAP = 1;

/** What the file says about an episode besides its trace: who it is and how it scored. */
export interface McapEpisodeInfo {
  /** Episode id in the store. */
  id: number;
  /** Study id. */
  study: string;
  /** Candidate id. */
  candidate: number;
  /** `train`, `validation` or `baseline`. */
  split: string;
  /** Seed of the episode. */
  seed: number;
  /** `ok`, or `crash` when it ended in an error. */
  status: string;
  /** The task was done. */
  success: boolean;
  /** Score in [0, 1]; null when the episode has none. */
  score: number | null;
  /** How it ended, e.g. `success`, `drop`. */
  outcome: string;
  /** Each term of the score, before weighting. */
  terms: Readonly<Record<string, number>>;
  /** The measurements behind the score. */
  metrics: Readonly<Record<string, unknown>>;
  /** Why it crashed; null when it did not. */
  crashReason: string | null;
}

/** What a finished file holds. */
export interface McapWriteStats {
  /** Episodes written. */
  episodes: number;
  /** Messages written, on every channel. */
  messages: number;
  /** Size of the file in bytes. */
  bytes: number;
}

/** One channel's state. */
interface ChannelState {
  id: number;
  sequence: number;
}

/** A source of messages within an episode: one topic's rows through one codec onto one channel. */
interface Stream {
  /** The topic's name and stamps (a numeric or an image topic). */
  topic: { name: string; stamps: Float64Array };
  codec: TopicCodec;
  channel: ChannelState;
  row: number;
}

/** Writes episodes into one MCAP file. Call `start`, `addEpisode` for each, then `finish`; never two calls at once. */
export class EpisodeMcapWriter {
  private readonly schemas = new Map<string, number>();
  private readonly channels = new Map<string, ChannelState>();
  /** Earliest time (s) the next episode may start at; undefined before the first. */
  private nextStart: number | undefined;
  private episodes = 0;
  private messages = 0;

  private constructor(
    private readonly mcap: McapWriter,
    private readonly sink: IWritable,
  ) {}

  /** Starts a file on `sink`. */
  static async start(sink: IWritable): Promise<EpisodeMcapWriter> {
    const mcap = new McapWriter({ writable: sink });
    await mcap.start({ profile: 'ros2', library: 'arbor' });
    return new EpisodeMcapWriter(mcap, sink);
  }

  /** Appends an episode after the ones before it. */
  async addEpisode(trace: Trace, info: McapEpisodeInfo): Promise<void> {
    const streams: Stream[] = [];
    let first = Infinity;
    let last = -Infinity;
    for (const topic of trace.topics.values()) {
      const range = stampRange(topic, info.id);
      first = Math.min(first, range.first);
      last = Math.max(last, range.last);
      const codec = topicCodec(topic);
      streams.push({ topic, codec, channel: await this.channel(topic.name, codec), row: 0 });
      if (codec.poseFrame !== undefined) {
        const tf = tfCodec(topic, codec.poseFrame);
        streams.push({ topic, codec: tf, channel: await this.channel(TF_TOPIC, tf), row: 0 });
      }
    }
    for (const image of trace.images.values()) {
      const range = stampRange(image, info.id);
      first = Math.min(first, range.first);
      last = Math.max(last, range.last);
      const codec = imageCodec(image);
      streams.push({ topic: image, codec, channel: await this.channel(image.name, codec), row: 0 });
    }
    if (first > last) first = last = this.nextStart ?? 0; // no messages: the score alone marks it
    const shift = this.nextStart === undefined ? 0 : Math.max(0, Math.ceil(this.nextStart - first));

    const score = stringMessage(JSON.stringify({ ...info, timeShift: shift }));
    const start = nanoseconds(toRosTime(first, shift));
    await this.write(await this.channel(SCORE_TOPIC, score), start, score.data);

    // Merge the topics by stamp, so the file is in log-time order (ties keep topic order).
    for (;;) {
      let next: Stream | undefined;
      for (const s of streams) {
        if (s.row < s.topic.stamps.length && (!next || s.topic.stamps[s.row] < next.topic.stamps[next.row])) next = s;
      }
      if (!next) break;
      const logTime = nanoseconds(toRosTime(next.topic.stamps[next.row], shift));
      await this.write(next.channel, logTime, next.codec.encode(next.row, shift));
      next.row++;
    }

    await this.mcap.addMetadata({
      name: EPISODE_METADATA,
      metadata: new Map([
        ['episode', String(info.id)],
        ['study', info.study],
        ['candidate', String(info.candidate)],
        ['split', info.split],
        ['seed', String(info.seed)],
        ['status', info.status],
        ['outcome', info.outcome],
        ['score', String(info.score)],
        ['time_shift', String(shift)],
        ['start_time', String(first + shift)],
        ['end_time', String(last + shift)],
        ['trace_meta', JSON.stringify(trace.meta)],
      ]),
    });
    this.nextStart = last + shift + EPISODE_GAP;
    this.episodes++;
  }

  /** Writes the file's indexes and summary; the file is complete when this resolves. */
  async finish(): Promise<McapWriteStats> {
    await this.mcap.end();
    return { episodes: this.episodes, messages: this.messages, bytes: Number(this.sink.position()) };
  }

  private async write(channel: ChannelState, logTime: bigint, data: Uint8Array): Promise<void> {
    await this.mcap.addMessage({ channelId: channel.id, sequence: channel.sequence++, logTime, publishTime: logTime, data });
    this.messages++;
  }

  /** The channel of a topic written with a schema, registered on first use. */
  private async channel(topic: string, schema: Pick<TopicCodec, 'schemaName' | 'definition'>): Promise<ChannelState> {
    const schemaKey = `${schema.schemaName}\n${schema.definition}`;
    let schemaId = this.schemas.get(schemaKey);
    if (schemaId === undefined) {
      schemaId = await this.mcap.registerSchema({ name: schema.schemaName, encoding: 'ros2msg', data: new TextEncoder().encode(schema.definition) });
      this.schemas.set(schemaKey, schemaId);
    }
    const key = `${topic}\n${schemaId}`;
    let channel = this.channels.get(key);
    if (!channel) {
      channel = { id: await this.mcap.registerChannel({ topic, schemaId, messageEncoding: 'cdr', metadata: new Map() }), sequence: 0 };
      this.channels.set(key, channel);
    }
    return channel;
  }
}

/** Collects an MCAP file in memory (one episode for an HTTP reply, tests). */
export class MemorySink implements IWritable {
  private readonly parts: Buffer[] = [];
  private size = 0;

  position(): bigint {
    return BigInt(this.size);
  }

  async write(buffer: Uint8Array): Promise<void> {
    // The MCAP writer reuses its buffer once a write resolves: keep a copy.
    this.parts.push(Buffer.from(buffer));
    this.size += buffer.byteLength;
  }

  /** Everything written so far, as one buffer. */
  bytes(): Buffer {
    return Buffer.concat(this.parts, this.size);
  }
}

/** Writes an MCAP file into a Node stream (stdout, a file), waiting whenever the stream asks to. */
export class StreamSink implements IWritable {
  private size = 0;
  private failure: Error | undefined;

  constructor(private readonly stream: NodeJS.WritableStream) {
    stream.on('error', (err: Error) => (this.failure ??= err));
  }

  position(): bigint {
    return BigInt(this.size);
  }

  async write(buffer: Uint8Array): Promise<void> {
    if (this.failure) throw this.failure;
    this.size += buffer.byteLength;
    // The stream may hold the buffer after this resolves, and the MCAP writer then reuses it: copy.
    if (!this.stream.write(Buffer.from(buffer))) await once(this.stream, 'drain');
  }
}

function nanoseconds(t: RosTime): bigint {
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.nanosec);
}

/** The first and last stamp of a topic; throws naming the row when a stamp cannot be an MCAP time. */
function stampRange(topic: Stream['topic'], episode: number): { first: number; last: number } {
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < topic.stamps.length; i++) {
    const t = topic.stamps[i];
    if (!(t >= 0 && t < 2 ** 31)) {
      throw new Error(`Episode ${episode}: topic '${topic.name}' row ${i} has the stamp ${t} s; MCAP log times must lie in [0, 2^31) s, so the episode cannot be exported.`);
    }
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  return { first, last };
}
