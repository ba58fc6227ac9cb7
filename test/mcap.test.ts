/**
 * Episodes as MCAP files, for real: a study of real MuJoCo episodes in a real store, exported by
 * the writer, by `arbor export` (a real process) and by the viewer (a real server on 127.0.0.1),
 * then read back with @mcap/core's readers and decoded with Foxglove's own ROS 2 parser and CDR
 * reader from the definitions in the file. Every message is compared with the trace it came from.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from '@foxglove/rosmsg';
import { MessageReader } from '@foxglove/rosmsg2-serialization';
import { McapIndexedReader, McapStreamReader } from '@mcap/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEpisodesMcap } from '../src/store/mcap-export.ts';
import { Store, type EpisodeRecord } from '../src/store/store.ts';
import { EPISODE_METADATA, EpisodeMcapWriter, MemorySink, SCORE_TOPIC, TF_TOPIC, type McapEpisodeInfo } from '../src/trace/mcap.ts';
import { POSE_FIELDS, TYPE, objectPoseTopic } from '../src/trace/topics.ts';
import { TraceRecorder, type Trace, type TopicSeries } from '../src/trace/trace.ts';
import { makeDemoStudy, type DemoStudy } from './fixtures/demo-study.ts';
import { pickPlace } from './helpers.ts';
import { startViewer } from '../src/viewer/server.ts';

const run = promisify(execFile);

let dir: string;
let demo: DemoStudy;
let store: Store;
/** An episode of another study in the same database. */
let foreignEpisode: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arbor-mcap-'));
  demo = await makeDemoStudy(dir, [1, 2]);
  const writable = Store.open(demo.dbPath);
  const other = writable.createStudy({ scenarioPath: demo.scenario.file, scenarioName: 'other', researcher: 'demo', config: {} });
  const candidate = writable.addCandidate(other.id, { parentId: null, generation: 0, kind: 'params', body: {}, rationale: 'another study', description: 'another study' });
  const source = writable.episode(demo.episodes[0][0])!;
  const { split, seed, status, success, score, outcome, metrics, terms, wallTime } = source;
  foreignEpisode = writable.recordEpisode({ studyId: other.id, candidateId: candidate.id, split, seed, status, success, score, outcome, metrics, terms, wallTime, trace: writable.loadEpisodeTrace(source) })!.id;
  writable.close();
  store = Store.open(demo.dbPath, { readonly: true });
});

afterAll(() => {
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

// ----- reading a file back -----------------------------------------------------------------------

/** One message as read back and decoded. */
interface ReadMessage {
  topic: string;
  schemaName: string;
  logTime: bigint;
  publishTime: bigint;
  sequence: number;
  msg: Record<string, unknown>;
}

/** A file read back: header, every message decoded (log-time order), the episode metadata. */
interface ReadFile {
  profile: string;
  messages: ReadMessage[];
  episodes: Map<string, string>[];
  messageCount: bigint | undefined;
  schemas: Map<string, string>;
}

async function readMcap(bytes: Uint8Array): Promise<ReadFile> {
  const reader = await McapIndexedReader.Initialize({
    readable: { size: async () => BigInt(bytes.length), read: async (offset, length) => bytes.subarray(Number(offset), Number(offset + length)) },
  });
  const decoders = new Map<number, MessageReader>();
  const schemas = new Map<string, string>();
  for (const schema of reader.schemasById.values()) {
    expect(schema.encoding).toBe('ros2msg');
    const text = new TextDecoder().decode(schema.data);
    schemas.set(schema.name, text);
    // What Foxglove does with a ros2msg schema: parse it as ROS 2, read CDR with it.
    decoders.set(schema.id, new MessageReader(parse(text, { ros2: true })));
  }
  const messages: ReadMessage[] = [];
  for await (const m of reader.readMessages()) {
    const channel = reader.channelsById.get(m.channelId)!;
    expect(channel.messageEncoding).toBe('cdr');
    const decoder = decoders.get(channel.schemaId)!;
    const msg = decoder.readMessage<Record<string, unknown>>(m.data);
    expect(decoder.lastReadHadTrailingBytes(), `${channel.topic}: the payload is longer than its definition`).toBe(false);
    messages.push({ topic: channel.topic, schemaName: reader.schemasById.get(channel.schemaId)!.name, logTime: m.logTime, publishTime: m.publishTime, sequence: m.sequence, msg });
  }
  const episodes: Map<string, string>[] = [];
  for await (const record of reader.readMetadata({ name: EPISODE_METADATA })) episodes.push(record.metadata);
  expectLogTimeOrder(bytes);
  return { profile: reader.header.profile, messages, episodes, messageCount: reader.statistics?.messageCount, schemas };
}

/** Reads the file front to back as a stream reader does: messages come in log-time order. */
function expectLogTimeOrder(bytes: Uint8Array): void {
  const stream = new McapStreamReader({ validateCrcs: true });
  stream.append(bytes);
  let last = -1n;
  let count = 0;
  for (let record = stream.nextRecord(); record; record = stream.nextRecord()) {
    if (record.type !== 'Message') continue;
    expect(record.logTime >= last, `message ${count} goes back in time`).toBe(true);
    last = record.logTime;
    count++;
  }
  expect(stream.done()).toBe(true);
  expect(count).toBeGreaterThan(0);
}

// ----- comparing with the traces -------------------------------------------------------------------

type Time = { sec: number; nanosec: number };
const nanos = (t: Time) => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nanosec);

/** A ROS time stands for `seconds` moved by `shift` whole seconds, to the nanosecond. */
function expectTime(t: Time, seconds: number, shift: number, what: string): void {
  expect(Number.isInteger(t.sec) && t.nanosec >= 0 && t.nanosec < 1e9, what).toBe(true);
  expect(Math.abs(t.sec - shift + t.nanosec * 1e-9 - seconds), what).toBeLessThan(1e-9);
}

const row = (topic: TopicSeries, i: number) => Array.from(topic.data.subarray(i * topic.fields.length, (i + 1) * topic.fields.length));
const xyz = (v: unknown) => ['x', 'y', 'z'].map((k) => (v as Record<string, number>)[k]);
const xyzw = (v: unknown) => ['x', 'y', 'z', 'w'].map((k) => (v as Record<string, number>)[k]);
const header = (m: ReadMessage) => m.msg.header as { stamp: Time; frame_id: string };

/** Every message of one episode (and nothing else in its time range) is its trace, row for row. */
function expectEpisode(file: ReadFile, episode: EpisodeRecord, trace: Trace): number {
  const meta = file.episodes.find((m) => m.get('episode') === String(episode.id));
  expect(meta, `metadata of episode ${episode.id}`).toBeDefined();
  const shift = Number(meta!.get('time_shift'));
  expect(Number.isInteger(shift)).toBe(true);
  const from = BigInt(Math.floor(Number(meta!.get('start_time')) * 1e9) - 1);
  const to = BigInt(Math.ceil(Number(meta!.get('end_time')) * 1e9) + 1);
  const mine = file.messages.filter((m) => m.logTime >= from && m.logTime <= to);
  for (const m of mine) expect(m.publishTime).toBe(m.logTime);

  // The score document, at the episode's first stamp.
  const scores = mine.filter((m) => m.topic === SCORE_TOPIC);
  expect(scores).toHaveLength(1);
  expect(scores[0].schemaName).toBe('std_msgs/msg/String');
  const score = JSON.parse(scores[0].msg.data as string);
  expect(score).toMatchObject({ id: episode.id, study: episode.studyId, candidate: episode.candidateId, split: episode.split, seed: episode.seed, status: episode.status, success: episode.success, score: episode.score, outcome: episode.outcome, timeShift: shift });
  expect(score.terms).toEqual(episode.terms);
  expect(score.metrics).toEqual(episode.metrics);
  const first = Math.min(...[...trace.topics.values()].map((t) => t.stamps[0]));
  expectTime({ sec: Number(scores[0].logTime / 1_000_000_000n), nanosec: Number(scores[0].logTime % 1_000_000_000n) }, first, shift, 'score log time');

  let count = 1;
  for (const topic of trace.topics.values()) {
    const got = mine.filter((m) => m.topic === topic.name);
    expect(got, topic.name).toHaveLength(topic.stamps.length);
    count += got.length;
    got.forEach((m, i) => {
      const what = `${topic.name} row ${i}`;
      const values = row(topic, i);
      if (topic.name !== '/clock') {
        expectTime(header(m).stamp, topic.stamps[i], shift, what);
        expect(m.logTime, what).toBe(nanos(header(m).stamp));
      }
      switch (topic.type) {
        case TYPE.jointStates: {
          const n = topic.fields.length / 3;
          expect(m.schemaName).toBe('sensor_msgs/msg/JointState');
          expect(m.msg.name, what).toEqual(topic.fields.slice(0, n).map((f) => f.replace('position.', '')));
          expect([...(m.msg.position as number[]), ...(m.msg.velocity as number[]), ...(m.msg.effort as number[])], what).toEqual(values);
          break;
        }
        case TYPE.pose: {
          expect(m.schemaName).toBe('geometry_msgs/msg/PoseStamped');
          expect(header(m).frame_id).toBe('world');
          const pose = m.msg.pose as { position: unknown; orientation: unknown };
          expect([...xyz(pose.position), ...xyzw(pose.orientation)], what).toEqual(values);
          break;
        }
        case TYPE.wrench: {
          expect(m.schemaName).toBe('geometry_msgs/msg/WrenchStamped');
          const wrench = m.msg.wrench as { force: unknown; torque: unknown };
          expect([...xyz(wrench.force), ...xyz(wrench.torque)], what).toEqual(values);
          break;
        }
        case TYPE.clock:
          expect(m.schemaName).toBe('rosgraph_msgs/msg/Clock');
          expectTime(m.msg.clock as Time, values[0], shift, what);
          expectTime({ sec: Number(m.logTime / 1_000_000_000n), nanosec: Number(m.logTime % 1_000_000_000n) }, topic.stamps[i], shift, what);
          break;
        case TYPE.trajectory: {
          // The command the link sent: one point, its time from the start, a position per joint.
          expect(m.schemaName).toBe('trajectory_msgs/msg/JointTrajectory');
          expect(m.msg.joint_names, what).toEqual(topic.fields.slice(1).map((f) => f.replace('positions.', '')));
          const [point, ...more] = m.msg.points as { positions: ArrayLike<number>; velocities: ArrayLike<number>; time_from_start: Time }[];
          expect(more).toHaveLength(0);
          expect(Array.from(point.positions), what).toEqual(values.slice(1));
          expect(point.velocities).toHaveLength(0);
          expectTime(point.time_from_start, values[0], 0, what);
          break;
        }
        default:
          // arbor's own topics: one float32 per field, dots as underscores.
          expect(m.schemaName).toBe(`arbor_msgs/msg/${topic.type.split('/')[1]}`);
          expect(topic.fields.map((f) => m.msg[f.replace('.', '_')]), what).toEqual(values);
      }
    });
    if (topic.type === TYPE.pose) {
      const object = topic.name.slice('/object_pose/'.length);
      const tf = mine.filter((m) => m.topic === TF_TOPIC && (m.msg.transforms as { child_frame_id: string }[])[0].child_frame_id === object);
      expect(tf, `${TF_TOPIC} ${object}`).toHaveLength(topic.stamps.length);
      count += tf.length;
      tf.forEach((m, i) => {
        expect(m.schemaName).toBe('tf2_msgs/msg/TFMessage');
        const [t] = m.msg.transforms as { header: { stamp: Time; frame_id: string }; transform: { translation: unknown; rotation: unknown } }[];
        expect(m.msg.transforms as unknown[]).toHaveLength(1);
        expect(t.header.frame_id).toBe('world');
        expect(nanos(t.header.stamp)).toBe(m.logTime);
        expectTime(t.header.stamp, topic.stamps[i], shift, `/tf row ${i}`);
        expect([...xyz(t.transform.translation), ...xyzw(t.transform.rotation)]).toEqual(row(topic, i));
      });
    }
  }
  expect(mine, `episode ${episode.id}: messages in its time range that are not its own`).toHaveLength(count);
  return count;
}

/** Every traced episode of `episodes` is in the file, in order, one after another in time. */
function expectEpisodes(file: ReadFile, episodes: EpisodeRecord[]): void {
  expect(file.profile).toBe('ros2');
  const traced = episodes.filter((e) => e.tracePath !== null);
  expect(file.episodes.map((m) => m.get('episode'))).toEqual(traced.map((e) => String(e.id)));
  expect(file.episodes[0].get('time_shift')).toBe('0');
  for (let k = 1; k < file.episodes.length; k++) {
    expect(Number(file.episodes[k].get('start_time'))).toBeGreaterThanOrEqual(Number(file.episodes[k - 1].get('end_time')) + 1);
  }
  let total = 0;
  for (const e of traced) total += expectEpisode(file, e, store.loadEpisodeTrace(e));
  expect(file.messages).toHaveLength(total);
  expect(file.messageCount).toBe(BigInt(total));
  // Sequence numbers count each channel's messages.
  const seen = new Map<string, number>();
  for (const m of file.messages) {
    const key = `${m.topic} ${m.schemaName}`;
    expect(m.sequence).toBe(seen.get(key) ?? 0);
    seen.set(key, m.sequence + 1);
  }
}

async function exportToMemory(episodes: EpisodeRecord[]): Promise<Buffer> {
  const sink = new MemorySink();
  await writeEpisodesMcap(store, episodes, sink);
  return sink.bytes();
}

// ----- the writer --------------------------------------------------------------------------------

describe('MCAP export of stored episodes', () => {
  it('writes one episode as ROS 2 messages Foxglove decodes, every message equal to the trace', async () => {
    const episode = store.episode(demo.episodes[1][0])!;
    const file = await readMcap(await exportToMemory([episode]));
    expectEpisodes(file, [episode]);
    const channels = new Map(file.messages.map((m) => [m.topic, m.schemaName]));
    expect(Object.fromEntries(channels)).toEqual({
      [SCORE_TOPIC]: 'std_msgs/msg/String',
      '/joint_states': 'sensor_msgs/msg/JointState',
      [objectPoseTopic(pickPlace(demo.scenario).object)]: 'geometry_msgs/msg/PoseStamped',
      [TF_TOPIC]: 'tf2_msgs/msg/TFMessage',
      '/wrench': 'geometry_msgs/msg/WrenchStamped',
      '/gripper': 'arbor_msgs/msg/GripperState',
      '/clock': 'rosgraph_msgs/msg/Clock',
      '/contacts': 'arbor_msgs/msg/ContactSummary',
      '/safety': 'arbor_msgs/msg/SafetyReport',
      '/joint_trajectory_controller/joint_trajectory': 'trajectory_msgs/msg/JointTrajectory',
    });
    // One episode is not moved: the stamps are the trace's own, from 0 s.
    expect(file.messages[0].logTime).toBe(0n);
  });

  it('stores each definition with its dependencies the way rosbag2 does', async () => {
    const file = await readMcap(await exportToMemory([store.episode(demo.episodes[0][0])!]));
    const bar = '='.repeat(80);
    expect(file.schemas.get('sensor_msgs/msg/JointState')).toBe(
      ['std_msgs/Header header', 'string[] name', 'float64[] position', 'float64[] velocity', 'float64[] effort', bar, 'MSG: std_msgs/Header', 'builtin_interfaces/Time stamp', 'string frame_id', bar, 'MSG: builtin_interfaces/Time', 'int32 sec', 'uint32 nanosec'].join('\n'),
    );
    const tf = file.schemas.get('tf2_msgs/msg/TFMessage')!;
    for (const dep of ['geometry_msgs/TransformStamped', 'std_msgs/Header', 'builtin_interfaces/Time', 'geometry_msgs/Transform', 'geometry_msgs/Vector3', 'geometry_msgs/Quaternion']) {
      expect(tf.split('\n').filter((line) => line === `MSG: ${dep}`), dep).toHaveLength(1);
    }
  });

  it("writes a study's episodes one after another on one timeline, each told apart", async () => {
    const episodes = store.episodes({ studyId: demo.studyId });
    expect(episodes.some((e) => e.tracePath === null)).toBe(true);
    const file = await readMcap(await exportToMemory(episodes.filter((e) => e.tracePath !== null)));
    expectEpisodes(file, episodes);
    expect(file.episodes.length).toBe(6);
  });

  it('writes topics it has no ROS type for as flat arbor messages, and tool poses on /tf', async () => {
    const recorder = new TraceRecorder();
    const odd = recorder.topic('/odd', 'foo_msgs/Thing', ['a.b', 'A b', '1x', 'header']);
    const partial = recorder.topic('/joint_targets', 'sensor_msgs/JointState', ['position.a', 'position.b']);
    const tool = recorder.topic('/tool_pose', 'geometry_msgs/PoseStamped', POSE_FIELDS);
    for (let i = 0; i < 3; i++) {
      odd.push(0.25 * i, [i, -i, Number.NaN, 1e30]);
      partial.push(0.25 * i, [0.5 * i, 0.1]);
      tool.push(0.25 * i, [0.4, 0, 0.3 + i, 0, 1, 0, 0]);
    }
    const trace = recorder.finish({ scenario: 'synthetic' });
    const sink = new MemorySink();
    const writer = await EpisodeMcapWriter.start(sink);
    await writer.addEpisode(trace, info(1));
    await writer.addEpisode(trace, info(2));
    const stats = await writer.finish();
    const file = await readMcap(sink.bytes());
    expect(stats).toEqual({ episodes: 2, messages: 2 * (1 + 4 * 3), bytes: sink.bytes().length });

    const oddMessages = file.messages.filter((m) => m.topic === '/odd');
    expect(oddMessages[0].schemaName).toBe('arbor_msgs/msg/FooMsgsThing');
    expect(oddMessages.map((m) => [m.msg.a_b, m.msg.a_b_2, m.msg.f_1x, m.msg.header_2])).toEqual([
      ...[0, 1, 2].map((i) => [i, -i, Number.NaN, Math.fround(1e30)]),
      ...[0, 1, 2].map((i) => [i, -i, Number.NaN, Math.fround(1e30)]),
    ]);
    const partialMessages = file.messages.filter((m) => m.topic === '/joint_targets');
    expect(partialMessages[0].schemaName).toBe('arbor_msgs/msg/SensorMsgsJointState');
    expect(partialMessages.map((m) => m.msg.position_a)).toEqual([0, 0.5, 1, 0, 0.5, 1]);
    const tf = file.messages.filter((m) => m.topic === TF_TOPIC).map((m) => (m.msg.transforms as { child_frame_id: string; transform: { translation: { z: number } } }[])[0]);
    expect(tf.map((t) => t.child_frame_id)).toEqual(Array(6).fill('tool_pose'));
    expect(tf.map((t) => t.transform.translation.z)).toEqual([0.3, 1.3, 2.3, 0.3, 1.3, 2.3].map(Math.fround));
    // The second episode starts a second after the first ends, moved by whole seconds.
    expect(file.episodes.map((m) => [m.get('time_shift'), m.get('start_time'), m.get('end_time')])).toEqual([['0', '0', '0.5'], ['2', '2', '2.5']]);
  });

  it('writes image topics as sensor_msgs/msg/Image that Foxglove decodes byte for byte', async () => {
    const recorder = new TraceRecorder();
    recorder.topic('/clock', TYPE.clock, ['clock']).push(0, [0]);
    const rgb = recorder.image({ name: '/camera/top/rgb', encoding: 'rgb8', width: 3, height: 2, frameId: 'top' });
    const depth = recorder.image({ name: '/camera/top/depth', encoding: '32FC1', width: 3, height: 2, frameId: 'top' });
    for (let i = 0; i < 2; i++) {
      rgb.push(0.5 * i, Uint8Array.from({ length: 18 }, (_, k) => (k * 7 + i) % 256));
      depth.push(0.5 * i, new Uint8Array(Float32Array.from([1.5, 1.25, Infinity, 0.5 + i, 2, 3]).buffer));
    }
    const trace = recorder.finish({ scenario: 'synthetic' });
    const sink = new MemorySink();
    const writer = await EpisodeMcapWriter.start(sink);
    await writer.addEpisode(trace, info(3));
    await writer.finish();
    const file = await readMcap(sink.bytes());
    for (const image of trace.images.values()) {
      const messages = file.messages.filter((m) => m.topic === image.name);
      expect(messages.map((m) => m.schemaName)).toEqual(['sensor_msgs/msg/Image', 'sensor_msgs/msg/Image']);
      messages.forEach((m, i) => {
        const bytesPerPixel = image.encoding === 'rgb8' ? 3 : 4;
        expect(header(m).frame_id).toBe('top');
        expectTime(header(m).stamp, image.stamps[i], 0, image.name);
        expect([m.msg.height, m.msg.width, m.msg.encoding, m.msg.is_bigendian, m.msg.step]).toEqual([2, 3, image.encoding, 0, 3 * bytesPerPixel]);
        const size = 6 * bytesPerPixel;
        expect(Array.from(m.msg.data as Uint8Array)).toEqual(Array.from(image.data.subarray(i * size, (i + 1) * size)));
      });
    }
  });

  it('refuses a stamp that cannot be an MCAP time, naming the topic and row', async () => {
    const recorder = new TraceRecorder();
    const topic = recorder.topic('/wrench', TYPE.wrench, ['force.x', 'force.y', 'force.z', 'torque.x', 'torque.y', 'torque.z']);
    topic.push(0, [0, 0, 0, 0, 0, 0]);
    topic.push(-0.5, [0, 0, 0, 0, 0, 0]);
    const writer = await EpisodeMcapWriter.start(new MemorySink());
    await expect(writer.addEpisode(recorder.finish(), info(7))).rejects.toThrow("Episode 7: topic '/wrench' row 1 has the stamp -0.5 s");
  });
});

function info(id: number): McapEpisodeInfo {
  return { id, study: 's', candidate: 1, split: 'train', seed: id, status: 'ok', success: true, score: 1, outcome: 'success', terms: { success: 1 }, metrics: {}, crashReason: null };
}

// ----- arbor export ------------------------------------------------------------------------------

function arbor(args: string[]) {
  return run(process.execPath, ['bin/arbor.js', ...args], { maxBuffer: 1 << 28, encoding: 'buffer' });
}

async function arborFails(args: string[]): Promise<string> {
  const error = await arbor(args).then(
    () => undefined,
    (err: { code: number; stderr: Buffer; stdout: Buffer }) => err,
  );
  expect(error, `arbor ${args.join(' ')} should fail`).toBeDefined();
  expect(error!.code).toBe(1);
  expect(error!.stdout.length).toBe(0);
  return error!.stderr.toString();
}

// Each check starts arbor (tsx compiles it at start): seconds apiece on a loaded machine.
describe('arbor export --format mcap', { timeout: 180_000 }, () => {
  it('writes a whole study to stdout, skipping the episodes without a trace', async () => {
    const { stdout, stderr } = await arbor(['export', demo.studyId, '--format', 'mcap', '--db', demo.dbPath]);
    expectEpisodes(await readMcap(stdout), store.episodes({ studyId: demo.studyId }));
    expect(stderr.toString()).toMatch(/skipping 2 episode\(s\) recorded without a trace/);
    expect(stderr.toString()).toMatch(/wrote 6 episode\(s\), \d+ messages, [\d.]+ MB to stdout/);
  });

  it("writes a candidate's episodes, or one episode, to --out", async () => {
    const out = join(dir, 'candidate.mcap');
    const { stdout } = await arbor(['export', demo.studyId, '--format', 'mcap', '--db', demo.dbPath, '--candidate', String(demo.candidates[1]), '--out', out]);
    expect(stdout.length).toBe(0);
    expectEpisodes(await readMcap(readFileSync(out)), store.episodes({ candidateId: demo.candidates[1] }));

    const one = join(dir, 'one.mcap');
    await arbor(['export', demo.studyId, '--format', 'mcap', '--db', demo.dbPath, '--episode', String(demo.episodes[2][1]), '--out', one]);
    expectEpisodes(await readMcap(readFileSync(one)), [store.episode(demo.episodes[2][1])!]);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  const base = () => ['export', demo.studyId, '--format', 'mcap', '--db', demo.dbPath];

  it('refuses a candidate or episode that is not in the study, naming the option and the fix', async () => {
    expect(await arborFails([...base(), '--candidate', '999'])).toMatch(new RegExp(`--candidate 999 is not a candidate of study '${demo.studyId}'. Its candidates are ${demo.candidates.join(', ')}`));
    expect(await arborFails([...base(), '--episode', '999'])).toMatch(/--episode 999: there is no episode 999 in/);
    expect(await arborFails([...base(), '--episode', String(foreignEpisode)])).toMatch(new RegExp(`--episode ${foreignEpisode} is an episode of study 'other-.*', not of '${demo.studyId}'. Export it with: arbor export other-`));
  });

  it('refuses choices with nothing to export', async () => {
    expect(await arborFails([...base(), '--episode', String(demo.episodes[3][0])])).toMatch(/was recorded without a trace \(demo: the controller diverged\)/);
    expect(await arborFails([...base(), '--candidate', String(demo.candidates[3])])).toMatch(/has no episode with a trace to export \(its 2 episodes crashed before recording one\)/);
    expect(await arborFails([...base(), '--episode', String(demo.episodes[0][0]), '--candidate', String(demo.candidates[1])])).toMatch(/is an episode of candidate \d+, not of --candidate/);
  });

  it('refuses an --out it cannot write, and the mcap options with the row formats', async () => {
    expect(await arborFails([...base(), '--out', join(dir, 'missing', 'x.mcap')])).toMatch(/--out .*missing\/x.mcap cannot be written: ENOENT/);
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    expect(await arborFails(['export', demo.studyId, '--format', 'tsv', '--db', demo.dbPath, '--candidate', '1'])).toMatch(/--candidate works with --format mcap only/);
  });

  it('refuses to write the binary file to a terminal', async () => {
    // `script` runs the command on a pseudo-terminal, as a person typing it would.
    const command = [process.execPath, 'bin/arbor.js', 'export', demo.studyId, '--format', 'mcap', '--db', demo.dbPath].join(' ');
    const { stdout } = await run('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' }).catch((err: { stdout: string }) => err);
    expect(stdout).toMatch(/stdout is a terminal\. Redirect it \(arbor export STUDY --format mcap > episodes\.mcap\) or pass --out episodes\.mcap/);
    expect(stdout).not.toMatch(/MCAP0/);
  });
});

// ----- the viewer --------------------------------------------------------------------------------

describe('the viewer offers each episode as MCAP', () => {
  it('serves GET /api/episodes/ID/mcap as a download, and 404 where there is none', async () => {
    const viewer = await startViewer({ port: 0, dbPath: demo.dbPath, watchRelays: false });
    try {
      const episode = store.episode(demo.episodes[1][1])!;
      const res = await fetch(`${viewer.url}api/episodes/${episode.id}/mcap`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${demo.studyId}-episode-${episode.id}-c${episode.candidateId}-s${episode.seed}.mcap"`);
      expectEpisodes(await readMcap(new Uint8Array(await res.arrayBuffer())), [episode]);

      const crashed = await fetch(`${viewer.url}api/episodes/${demo.episodes[3][0]}/mcap`);
      expect(crashed.status).toBe(404);
      expect(((await crashed.json()) as { problem: { message: string } }).problem.message).toMatch(/was recorded without a trace, so it has no MCAP file/);
      expect((await fetch(`${viewer.url}api/episodes/99999/mcap`)).status).toBe(404);
      expect((await fetch(`${viewer.url}api/episodes/${episode.id}/mcap`, { method: 'POST' })).status).toBe(405);
    } finally {
      await viewer.close();
    }
  });

  it('keeps the token rule on the download', async () => {
    const viewer = await startViewer({ port: 0, dbPath: demo.dbPath, watchRelays: false, token: 'mcap-token-1234' });
    try {
      const path = `http://127.0.0.1:${viewer.port}/api/episodes/${demo.episodes[0][0]}/mcap`;
      expect((await fetch(path)).status).toBe(401);
      const res = await fetch(`${path}?token=mcap-token-1234`);
      expect(res.status).toBe(200);
      expect(new TextDecoder().decode(new Uint8Array(await res.arrayBuffer()).subarray(1, 5))).toBe('MCAP');
    } finally {
      await viewer.close();
    }
  });
});
