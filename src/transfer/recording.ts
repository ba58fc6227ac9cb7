/**
 * Recordings: what calibration fits the sim to, read from whatever the arm's motion was recorded
 * in. Three kinds of file become one typed `Recording` (the joints, the measured positions over
 * time, and the trajectories commanded):
 * - an arbor trace (`.trace`, as the store keeps every episode), its /joint_states and the command
 *   topic every link records;
 * - an arbor MCAP export (`arbor export --format mcap`), one recording per episode in it;
 * - an MCAP `ros2 bag` (a file, or the bag's directory) with a sensor_msgs/JointState topic and a
 *   trajectory_msgs/JointTrajectory command topic, CDR- or JSON-encoded.
 * Anything else is refused with the file and what it lacks. Times are seconds from the first
 * measured joint state, whatever clock the file kept.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';
import { TOPIC } from '../trace/topics.ts';
import { loadTrace, type Trace } from '../trace/trace.ts';
import { fromStamp, JointStateMsg, JointTrajectoryMsg, type Stamp } from '../robot/ros-messages.ts';
import { readMcap, type DecodedMessage } from './recording-mcap.ts';

/** One trajectory the robot was commanded, as a JointTrajectoryController takes it. */
export interface CommandedTrajectory {
  /** When it was sent (s, the recording's time). */
  stamp: number;
  /** Seconds from `stamp` to each point, increasing. */
  times: number[];
  /** Each point's joint targets (rad), in the recording's joint order. */
  positions: Float64Array[];
}

/** The motion of an arm and the commands that caused it. */
export interface Recording {
  /** The file it was read from. */
  source: string;
  /** Which part of the file it is: `episode 12` of an export; empty for a whole file. */
  part: string;
  /** The commanded joints, the order of every position row. */
  joints: string[];
  /** Times of the measured joint states (s from the first), increasing. */
  times: Float64Array;
  /** Measured joint positions (rad), one row per time. */
  positions: Float64Array[];
  /** The commanded trajectories, in the order they were sent. */
  commands: CommandedTrajectory[];
}

/** The first bytes of an arbor trace file (any version) and of an MCAP file. */
const TRACE_MAGIC = 'ARBTRC0';
const MCAP_MAGIC = Buffer.from([0x89, 0x4d, 0x43, 0x41, 0x50, 0x30, 0x0d, 0x0a]);

/**
 * Reads every recording in `path`: an arbor trace, an arbor MCAP export, or an MCAP ros2 bag (file
 * or directory). Throws naming the file and what it lacks for anything else.
 */
export async function readRecordings(path: string): Promise<Recording[]> {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new Error(`${path}: no such file or directory; give an arbor trace, an arbor MCAP export or a ros2 bag.`);
  }
  if (stat.isDirectory()) {
    const files = readdirSync(path).filter((f) => f.endsWith('.mcap')).sort();
    if (files.length === 0) throw new Error(`${path}: is a directory without .mcap files; a ros2 bag recorded with '-s mcap' holds one (ros2 bag record -s mcap /joint_states ${TOPIC.command}).`);
    return recordingsOfMcap(files.map((f) => join(path, f)), path);
  }
  const head = firstBytes(path, 8);
  if (head.subarray(0, TRACE_MAGIC.length).toString('latin1') === TRACE_MAGIC) return [recordingOfTrace(loadTrace(path), path)];
  if (head.equals(MCAP_MAGIC)) return recordingsOfMcap([path], path);
  throw new Error(`${path}: is neither an arbor trace nor an MCAP file (it starts with ${JSON.stringify(head.toString('latin1'))}); give an episode's .trace, an 'arbor export --format mcap' file or an MCAP ros2 bag.`);
}

/** An episode's trace as a recording: its /joint_states, and the command topic every link records. */
export function recordingOfTrace(trace: Trace, source: string, part = ''): Recording {
  const where = part ? `${source} (${part})` : source;
  const states = trace.topics.get(TOPIC.jointStates);
  if (!states) throw new Error(`${where}: the trace has no ${TOPIC.jointStates}; a recording needs the measured joint positions.`);
  const command = trace.topics.get(TOPIC.command);
  if (!command) {
    throw new Error(`${where}: the trace has no ${TOPIC.command} (it was recorded before arbor kept the commands it sent); run the episode again to record it.`);
  }
  const joints = command.fields.slice(1).map((f) => f.replace(/^positions\./, ''));
  const columns = joints.map((j) => states.fields.indexOf(`position.${j}`));
  const missing = joints.filter((_, i) => columns[i] < 0);
  if (missing.length) throw new Error(`${where}: ${TOPIC.jointStates} has no position of commanded joint${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`);
  const origin = states.stamps[0] ?? 0;
  const width = states.fields.length;
  const positions = Array.from(states.stamps, (_, r) => Float64Array.from(columns, (c) => states.data[r * width + c]));
  const cw = command.fields.length;
  const commands = Array.from(command.stamps, (stamp, r) => ({
    stamp: stamp - origin,
    times: [command.data[r * cw]],
    positions: [Float64Array.from(command.data.subarray(r * cw + 1, (r + 1) * cw))],
  }));
  return { source, part, joints, times: states.stamps.map((t) => t - origin), positions, commands };
}

const JOINT_STATE = 'sensor_msgs/msg/JointState';
const TRAJECTORY = 'trajectory_msgs/msg/JointTrajectory';

/** The recordings of MCAP files: one per episode of an arbor export, else one for all of it. */
function recordingsOfMcap(files: string[], source: string): Recording[] {
  const contents = readMcap(files, [JOINT_STATE, TRAJECTORY], source);
  const listed = contents.topics.map((t) => `${t.topic} (${t.schema})`).join(', ') || 'none';
  const states = pickTopic(contents.messages.get(JOINT_STATE)!, TOPIC.jointStates);
  if (!states.length) throw new Error(`${source}: has no ${JOINT_STATE} topic, so no measured joint positions (its topics: ${listed}). Record ${TOPIC.jointStates}.`);
  const commands = pickTopic(contents.messages.get(TRAJECTORY)!, TOPIC.command);
  if (!commands.length) {
    throw new Error(`${source}: has no ${TRAJECTORY} topic, so no commanded trajectories (its topics: ${listed}). Record the command topic too: ros2 bag record -s mcap ${TOPIC.jointStates} ${TOPIC.command}.`);
  }
  if (contents.episodes.length === 0) return [recordingOfMessages(states, commands, source, '')];
  const within = (m: DecodedMessage, e: { start: number; end: number }) => Number(m.logTime) / 1e9 >= e.start - 1e-6 && Number(m.logTime) / 1e9 <= e.end + 1e-6;
  return contents.episodes.map((e) => recordingOfMessages(states.filter((m) => within(m, e)), commands.filter((m) => within(m, e)), source, `episode ${e.id}`));
}

/** The messages of one topic: `preferred` when it is there, else the first topic of the type. */
function pickTopic(messages: DecodedMessage[], preferred: string): DecodedMessage[] {
  const topic = messages.some((m) => m.topic === preferred) ? preferred : messages[0]?.topic;
  return messages.filter((m) => m.topic === topic);
}

/**
 * A recording of decoded JointState and JointTrajectory messages. Its joints are the commanded
 * joints the states measure (a gripper joint in the trajectory that the states lack is left out).
 */
function recordingOfMessages(stateMessages: DecodedMessage[], commandMessages: DecodedMessage[], source: string, part: string): Recording {
  const where = part ? `${source} (${part})` : source;
  const valid = <T>(schema: z.ZodType<T>, m: DecodedMessage, i: number): T => {
    const parsed = schema.safeParse(m.message);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    throw new Error(`${where}: message ${i} on ${m.topic} is malformed: ${issue?.path.join('.') || 'message'} ${issue?.message}.`);
  };
  const states = stateMessages.map((m, i) => {
    const msg = valid(JointStateMsg, m, i);
    return { t: timeOf(msg.header.stamp, m.logTime), msg };
  });
  const commands = commandMessages.map((m, i) => {
    const msg = valid(JointTrajectoryMsg, m, i);
    return { t: timeOf(msg.header?.stamp, m.logTime), msg };
  });
  if (!states.length || !commands.length) throw new Error(`${where}: has ${states.length} joint states and ${commands.length} commands; a recording needs both.`);
  const measured = new Set(states[0].msg.name);
  const joints = commands[0].msg.joint_names.filter((j) => measured.has(j));
  if (!joints.length) throw new Error(`${where}: the commanded joints (${commands[0].msg.joint_names.join(', ')}) are none of the measured ones (${[...measured].join(', ')}).`);
  const origin = states[0].t;
  const seconds = (t: bigint) => Number(t - origin) / 1e9;
  const positions = states.map(({ msg }, i) => Float64Array.from(joints, (j) => {
    const k = msg.name.indexOf(j);
    if (k < 0 || k >= msg.position.length) throw new Error(`${where}: joint state ${i} has no position of ${j}.`);
    return msg.position[k];
  }));
  const trajectories = commands.map(({ t, msg }, i) => {
    const columns = joints.map((j) => msg.joint_names.indexOf(j));
    const missing = joints.filter((_, c) => columns[c] < 0);
    if (missing.length) throw new Error(`${where}: command ${i} does not name joint${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`);
    return {
      stamp: seconds(t),
      times: msg.points.map((p) => fromStamp(p.time_from_start)),
      positions: msg.points.map((p) => Float64Array.from(columns, (c) => p.positions[c])),
    };
  });
  return { source, part, joints, times: Float64Array.from(states, (s) => seconds(s.t)), positions, commands: trajectories };
}

/** A message's time (ns): its header stamp, or when it was logged where the stamp is zero ("now"). */
function timeOf(stamp: Stamp | undefined, logTime: bigint): bigint {
  return stamp && (stamp.sec !== 0 || stamp.nanosec !== 0) ? BigInt(stamp.sec) * 1_000_000_000n + BigInt(stamp.nanosec) : logTime;
}

function firstBytes(path: string, count: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(count);
    return buffer.subarray(0, readSync(fd, buffer, 0, count, 0));
  } finally {
    closeSync(fd);
  }
}
