/**
 * Recordings for calibration, from real files: every episode's trace records the commands its
 * link sent (the in-process sim, and a link to `arbor sim-serve` over rosbridge), and
 * `readRecordings` turns an arbor trace, an arbor MCAP export (written by arbor's own writer) and
 * an MCAP ros2 bag (written with the same MCAP writer as rosbag2 writes it: the distro's message
 * definitions, CDR, or JSON) into one Recording; anything else is refused naming the file and what
 * it lacks.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@foxglove/rosmsg';
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { McapWriter } from '@mcap/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { parseBackend } from '../src/robot/links.ts';
import { EpisodeMcapWriter, MemorySink, type McapEpisodeInfo } from '../src/trace/mcap.ts';
import { ros2msgDefinition } from '../src/trace/ros2-messages.ts';
import { TOPIC } from '../src/trace/topics.ts';
import { saveTrace, Trace, type TopicSeries } from '../src/trace/trace.ts';
import { readRecordings, recordingOfTrace, type Recording } from '../src/transfer/recording.ts';
import { scenario, tunedPolicy } from './helpers.ts';
import { startSimServe } from './sim-serve-helpers.ts';
import { scenarioCopy } from './study-helpers.ts';
import { loadScenario } from '../src/scenario/load.ts';

const sc = await scenario();
const JOINTS = sc.robotConfig.joints.map((j) => j.name);
let dir: string;
/** Two in-process episodes of the tuned policy. */
const traces: Trace[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arbor-recording-'));
  const runner = await EpisodeRunner.create(sc);
  try {
    for (const seed of [1001, 3]) traces.push((await runner.run(tunedPolicy(), seed)).trace);
  } finally {
    await runner.close();
  }
}, 120_000);

/** Row `r` of a topic. */
const row = (t: TopicSeries, r: number) => Array.from(t.data.subarray(r * t.fields.length, (r + 1) * t.fields.length));

/**
 * The trace's command topic is one row per control tick: sent at each state but the last, one
 * period ahead; `atRest`: the episode ended at rest, on its last targets.
 */
function expectCommands(trace: Trace, atRest = true): void {
  const states = trace.topic(TOPIC.jointStates);
  const command = trace.topic(TOPIC.command);
  expect(command.type).toBe('trajectory_msgs/JointTrajectory');
  expect(command.fields).toEqual(['time_from_start', ...JOINTS.map((j) => `positions.${j}`)]);
  expect(command.stamps.length).toBe(states.stamps.length - 1);
  expect(Array.from(command.stamps)).toEqual(Array.from(states.stamps.subarray(0, -1)));
  const period = Number(trace.meta.controlPeriod);
  for (let r = 0; r < command.stamps.length; r++) expect(command.data[r * command.fields.length]).toBeCloseTo(period, 6);
  if (!atRest) return;
  // The arm tracks what it was sent: at the end, at rest, the measured joints sit on the last targets.
  const last = row(command, command.stamps.length - 1).slice(1);
  const measured = row(states, states.stamps.length - 1).slice(0, JOINTS.length);
  last.forEach((q, i) => expect(Math.abs(measured[i] - q)).toBeLessThan(0.02));
}

/** A recording equals the trace it came from: every state and command, on the trace's clock. */
function expectSameAsTrace(recording: Recording, trace: Trace, tolerance = 1e-6): void {
  const states = trace.topic(TOPIC.jointStates);
  const command = trace.topic(TOPIC.command);
  expect(recording.joints).toEqual(JOINTS);
  expect(recording.times.length).toBe(states.stamps.length);
  recording.times.forEach((t, r) => expect(Math.abs(t - states.stamps[r])).toBeLessThan(tolerance));
  recording.positions.forEach((p, r) => expect(Array.from(p)).toEqual(row(states, r).slice(0, JOINTS.length)));
  expect(recording.commands).toHaveLength(command.stamps.length);
  recording.commands.forEach((c, r) => {
    expect(Math.abs(c.stamp - command.stamps[r])).toBeLessThan(tolerance);
    expect(c.times).toHaveLength(1);
    expect(Math.abs(c.times[0] - command.data[r * command.fields.length])).toBeLessThan(tolerance);
    expect(Array.from(c.positions[0])).toEqual(row(command, r).slice(1));
  });
}

describe('every trace records the commands its link sent', () => {
  it('in the in-process sim: one one-point trajectory per control tick', () => {
    for (const trace of traces) expectCommands(trace);
  });

  it('on a link to arbor sim-serve over rosbridge, the same', async () => {
    // Two seconds of the episode are enough to see every tick's command; a loaded machine gets time.
    const { file: short } = scenarioCopy('scenarios/pick-place.yaml', (text) => text.replace('duration: 6.0', 'duration: 2.0').replace('wall_time_limit: 20', 'wall_time_limit: 120'));
    const served = await startSimServe(short, ['--rosbridge', '0']);
    try {
      const runner = await EpisodeRunner.create(await loadScenario(short), parseBackend(`rosbridge://127.0.0.1:${served.port}`));
      try {
        const run = await runner.run(tunedPolicy(), 1001);
        expect(run.trace.meta.backend).toBe('rosbridge');
        expectCommands(run.trace, false);
        const file = join(dir, 'link.trace');
        saveTrace(run.trace, file);
        expectSameAsTrace((await readRecordings(file))[0], run.trace);
      } finally {
        await runner.close();
      }
    } finally {
      await served.stop();
    }
  }, 180_000);
});

describe('readRecordings', () => {
  it('reads an arbor trace file', async () => {
    const file = join(dir, 'episode.trace');
    saveTrace(traces[0], file);
    const [recording, ...more] = await readRecordings(file);
    expect(more).toHaveLength(0);
    expect(recording).toMatchObject({ source: file, part: '' });
    expectSameAsTrace(recording, traces[0]);
  });

  it("reads an arbor MCAP export, one recording per episode, on each trace's own clock", async () => {
    const sink = new MemorySink();
    const writer = await EpisodeMcapWriter.start(sink);
    for (const [i, trace] of traces.entries()) await writer.addEpisode(trace, episodeInfo(i + 1, trace));
    await writer.finish();
    const file = join(dir, 'export.mcap');
    writeFileSync(file, sink.bytes());
    const recordings = await readRecordings(file);
    expect(recordings.map((r) => r.part)).toEqual(['episode 1', 'episode 2']);
    recordings.forEach((r, i) => expectSameAsTrace(r, traces[i]));
  });

  it('reads an MCAP ros2 bag directory: CDR by the distro definitions, the command joints in their own order, a gripper joint left out', async () => {
    const bag = join(dir, 'bag');
    mkdirSync(bag);
    const { file, sent, measured } = await writeBag(join(bag, 'bag_0.mcap'), 'cdr');
    writeFileSync(join(bag, 'metadata.yaml'), 'rosbag2_bagfile_information:\n  version: 9\n  storage_identifier: mcap\n');
    expect(existsSync(file)).toBe(true);
    const [recording] = await readRecordings(bag);
    expectBag(recording, sent, measured);
    expect(recording.source).toBe(bag);
  });

  it('reads JSON-encoded messages too', async () => {
    const { file, sent, measured } = await writeBag(join(dir, 'json.mcap'), 'json');
    expectBag((await readRecordings(file))[0], sent, measured);
  });

  it('refuses anything else, naming the file and what it lacks', async () => {
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'joint states, I promise');
    await expect(readRecordings(text)).rejects.toThrow(`${text}: is neither an arbor trace nor an MCAP file`);
    await expect(readRecordings(join(dir, 'missing.mcap'))).rejects.toThrow(/missing\.mcap: no such file or directory/);
    const empty = join(dir, 'empty-bag');
    mkdirSync(empty);
    await expect(readRecordings(empty)).rejects.toThrow(/empty-bag: is a directory without \.mcap files/);

    const statesOnly = join(dir, 'states-only.mcap');
    await writeBag(statesOnly, 'cdr', { commands: false });
    await expect(readRecordings(statesOnly)).rejects.toThrow(
      `${statesOnly}: has no trajectory_msgs/msg/JointTrajectory topic, so no commanded trajectories (its topics: /joint_states (sensor_msgs/msg/JointState)). Record the command topic too`,
    );

    // A trace from before the links recorded their commands.
    const old = join(dir, 'old.trace');
    saveTrace(new Trace(new Map([...traces[0].topics].filter(([name]) => name !== TOPIC.command)), traces[0].meta), old);
    await expect(readRecordings(old)).rejects.toThrow(`${old}: the trace has no ${TOPIC.command} (it was recorded before arbor kept the commands it sent)`);
    expect(() => recordingOfTrace(new Trace(new Map()), 'x.trace')).toThrow(`x.trace: the trace has no ${TOPIC.jointStates}`);
  });
});

function episodeInfo(id: number, trace: Trace): McapEpisodeInfo {
  return { id, study: 's', candidate: 1, split: 'train', seed: Number(trace.meta.seed), status: 'ok', success: true, score: 1, outcome: 'success', terms: {}, metrics: {}, crashReason: null };
}

// ----- a ros2 bag, written as rosbag2 writes one ---------------------------------------------------

/** The distro's `.msg` text of `pkg/Type`, when ROS 2 is installed here. */
function distroMsg(type: string): string | undefined {
  const [pkg, name] = type.replace('/msg/', '/').split('/');
  const file = `/opt/ros2-jazzy/share/${pkg}/msg/${name}.msg`;
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

/** The definition rosbag2 stores for a type: the distro's own, else arbor's copy of it. */
function definition(type: string): string {
  const own = distroMsg(type);
  return own === undefined ? ros2msgDefinition(type) : ros2msgDefinition(type, own, distroMsg);
}

/** What a bag was written with: the commands (in the arm's joint order) and the measured positions. */
interface BagTruth {
  sent: { stamp: number; times: number[]; positions: number[][] }[];
  measured: { t: number; positions: number[] }[];
}

/**
 * A bag of 50 joint states (a robot's clock, finger joints first, the arm shuffled) and 10
 * two-point commands (stamp zero, so their log time says when; a gripper joint the states lack).
 */
async function writeBag(file: string, encoding: 'cdr' | 'json', options = { commands: true }): Promise<BagTruth & { file: string }> {
  const sink = new MemorySink();
  const mcap = new McapWriter({ writable: sink });
  await mcap.start({ profile: 'ros2', library: 'librosbag2_storage_mcap' });
  const channel = async (topic: string, type: string) => {
    const text = definition(type);
    const schemaId = await mcap.registerSchema({ name: type, encoding: encoding === 'cdr' ? 'ros2msg' : 'jsonschema', data: new TextEncoder().encode(encoding === 'cdr' ? text : '{}') });
    const channelId = await mcap.registerChannel({ topic, schemaId, messageEncoding: encoding, metadata: new Map([['offered_qos_profiles', '']]) });
    const writer = new MessageWriter(parse(text, { ros2: true }));
    return { channelId, encode: (m: object) => (encoding === 'cdr' ? writer.writeMessage(m) : new TextEncoder().encode(JSON.stringify(m))) };
  };
  const states = await channel('/joint_states', 'sensor_msgs/msg/JointState');
  const commands = options.commands ? await channel('/joint_trajectory_controller/joint_trajectory', 'trajectory_msgs/msg/JointTrajectory') : undefined;
  const start = 1_733_500_000;
  const order = [3, 0, 5, 1, 4, 2];
  const truth: BagTruth = { sent: [], measured: [] };
  let sequence = 0;
  const write = async (channelId: number, seconds: number, data: Uint8Array) => {
    const logTime = BigInt(start) * 1_000_000_000n + BigInt(Math.round(seconds * 1e9));
    await mcap.addMessage({ channelId, sequence: sequence++, logTime, publishTime: logTime, data });
  };
  for (let k = 0; k < 50; k++) {
    const t = k * 0.01;
    const positions = JOINTS.map((_, i) => 0.1 * i + Math.sin(t + i));
    truth.measured.push({ t, positions });
    const stamp = { sec: start + Math.floor(t), nanosec: Math.round((t % 1) * 1e9) };
    const name = ['finger_left', 'finger_right', ...order.map((i) => JOINTS[i])];
    const position = [0.01, 0.01, ...order.map((i) => positions[i])];
    await write(states.channelId, t, states.encode({ header: { stamp, frame_id: '' }, name, position, velocity: [], effort: [] }));
    if (commands && k % 5 === 0) {
      const points = [0.05, 0.1].map((after, p) => ({ after, positions: JOINTS.map((_, i) => positions[i] + 0.01 * (p + 1)) }));
      truth.sent.push({ stamp: t, times: points.map((p) => p.after), positions: points.map((p) => p.positions) });
      const message = {
        header: { stamp: { sec: 0, nanosec: 0 }, frame_id: '' },
        joint_names: [...order.map((i) => JOINTS[i]), 'gripper'],
        points: points.map((p) => ({
          positions: [...order.map((i) => p.positions[i]), 0.04], velocities: [], accelerations: [], effort: [],
          time_from_start: { sec: 0, nanosec: Math.round(p.after * 1e9) },
        })),
      };
      await write(commands.channelId, t + 0.001, commands.encode(message));
    }
  }
  await mcap.end();
  writeFileSync(file, sink.bytes());
  return { file, ...truth };
}

/** The bag's recording: arm joints in the commands' robot order, times from the first state. */
function expectBag(recording: Recording, sent: BagTruth['sent'], measured: BagTruth['measured']): void {
  const order = [3, 0, 5, 1, 4, 2].map((i) => JOINTS[i]);
  expect(recording.joints).toEqual(order);
  expect(recording.part).toBe('');
  expect(recording.times).toHaveLength(measured.length);
  measured.forEach((m, k) => {
    expect(recording.times[k]).toBeCloseTo(m.t, 6);
    expect(Array.from(recording.positions[k])).toEqual(order.map((j) => m.positions[JOINTS.indexOf(j)]));
  });
  expect(recording.commands).toHaveLength(sent.length);
  sent.forEach((s, k) => {
    const c = recording.commands[k];
    expect(c.stamp).toBeCloseTo(s.stamp + 0.001, 6);
    expect(c.times).toEqual(s.times);
    expect(c.positions.map((p) => Array.from(p))).toEqual(s.positions.map((p) => order.map((j) => p[JOINTS.indexOf(j)])));
  });
}
