/**
 * Trace topics as ROS 2 messages: for each topic, the ROS 2 message type it is written as, that
 * type's full `ros2msg` definition, and a CDR encoder of one trace row. MCAP files (src/trace/mcap.ts)
 * carry these so Foxglove and `ros2 bag` can decode every message without arbor.
 *
 * A definition is the type's own fields, then each type it uses once (depth first), each after a
 * line of 80 `=` and `MSG: pkg/Type`: the concatenation rosbag2 stores and Foxglove parses.
 *
 * Topics of a standard type whose fields are exactly arbor's flattening of it (src/trace/topics.ts)
 * are written as that type; every other topic is written as a flat `arbor_msgs` message of its
 * fields (float32, as the trace holds them) after a `std_msgs/Header`, so nothing recorded is lost.
 */
import { CdrWriter } from '@foxglove/cdr';
import { CLOCK_FIELDS, POSE_FIELDS, WRENCH_FIELDS, jointStateFields, trajectoryFields } from './topics.ts';
import { IMAGE_ENCODINGS, frameBytes, type ImageSeries, type TopicSeries } from './trace.ts';

/** A ROS 2 time: whole seconds and nanoseconds. */
export interface RosTime {
  /** Whole seconds. */
  sec: number;
  /** Nanoseconds in [0, 1e9). */
  nanosec: number;
}

/** How one trace topic is written as ROS 2 messages. */
export interface TopicCodec {
  /** The ROS 2 message type (MCAP schema name), e.g. `sensor_msgs/msg/JointState`. */
  schemaName: string;
  /** Its full `ros2msg` definition. */
  definition: string;
  /** CDR bytes of row `row`, every time in it moved by `shift` whole seconds. */
  encode(row: number, shift: number): Uint8Array;
  /** For a pose topic: the frame its poses are also published as on /tf (see `tfCodec`). */
  poseFrame?: string;
}

/** The frame object and tool poses are given in, and the parent of their transforms on /tf. */
export const WORLD_FRAME = 'world';

/** Own fields of the message types arbor writes, by `package/Type`. */
const OWN_FIELDS: Readonly<Record<string, string>> = {
  'builtin_interfaces/Time': 'int32 sec\nuint32 nanosec',
  'std_msgs/Header': 'builtin_interfaces/Time stamp\nstring frame_id',
  'std_msgs/String': 'string data',
  'geometry_msgs/Vector3': 'float64 x\nfloat64 y\nfloat64 z',
  'geometry_msgs/Point': 'float64 x\nfloat64 y\nfloat64 z',
  'geometry_msgs/Quaternion': 'float64 x\nfloat64 y\nfloat64 z\nfloat64 w',
  'geometry_msgs/Pose': 'geometry_msgs/Point position\ngeometry_msgs/Quaternion orientation',
  'geometry_msgs/PoseStamped': 'std_msgs/Header header\ngeometry_msgs/Pose pose',
  'geometry_msgs/Wrench': 'geometry_msgs/Vector3 force\ngeometry_msgs/Vector3 torque',
  'geometry_msgs/WrenchStamped': 'std_msgs/Header header\ngeometry_msgs/Wrench wrench',
  'geometry_msgs/Transform': 'geometry_msgs/Vector3 translation\ngeometry_msgs/Quaternion rotation',
  'geometry_msgs/TransformStamped': 'std_msgs/Header header\nstring child_frame_id\ngeometry_msgs/Transform transform',
  'tf2_msgs/TFMessage': 'geometry_msgs/TransformStamped[] transforms',
  'sensor_msgs/JointState': 'std_msgs/Header header\nstring[] name\nfloat64[] position\nfloat64[] velocity\nfloat64[] effort',
  'rosgraph_msgs/Clock': 'builtin_interfaces/Time clock',
  'builtin_interfaces/Duration': 'int32 sec\nuint32 nanosec',
  'trajectory_msgs/JointTrajectoryPoint': 'float64[] positions\nfloat64[] velocities\nfloat64[] accelerations\nfloat64[] effort\nbuiltin_interfaces/Duration time_from_start',
  'trajectory_msgs/JointTrajectory': 'std_msgs/Header header\nstring[] joint_names\ntrajectory_msgs/JointTrajectoryPoint[] points',
  'sensor_msgs/Image': 'std_msgs/Header header\nuint32 height\nuint32 width\nstring encoding\nuint8 is_bigendian\nuint32 step\nuint8[] data',
};

/** Types a definition uses without a definition of their own. */
const PRIMITIVES = new Set([
  'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring',
]);

/**
 * The full `ros2msg` definition of a type: `own` (its fields; by default the known ones), then
 * every type it uses, each once, after its delimiter. `lookup` gives a used type's own fields by
 * `pkg/Type` (by default the types arbor writes; src/robot/ros2-cdr.ts reads a distro's `.msg`
 * files, which name a type of their own package bare and std_msgs/Header as `Header`).
 */
export function ros2msgDefinition(type: string, own: string = OWN_FIELDS[type] ?? '', lookup: (type: string) => string | undefined = (t) => OWN_FIELDS[t]): string {
  const seen = new Set<string>();
  const expand = (text: string, pkg: string): string => {
    let out = text;
    for (const line of text.split('\n')) {
      // The field's type, without array or bound suffixes; constants are of primitive types.
      const token = /^\s*([A-Za-z0-9_/]+)/.exec(line.replace(/#.*/, ''))?.[1];
      if (!token || PRIMITIVES.has(token)) continue;
      const fieldType = token.includes('/') ? token.replace('/msg/', '/') : token === 'Header' ? 'std_msgs/Header' : `${pkg}/${token}`;
      if (seen.has(fieldType)) continue;
      const dep = lookup(fieldType);
      if (dep === undefined) throw new Error(`ros2msgDefinition: '${type}' uses '${fieldType}', which has no definition here.`);
      seen.add(fieldType);
      out += `\n${'='.repeat(80)}\nMSG: ${fieldType}\n${expand(dep, packageAndName(fieldType)[0])}`;
    }
    return out;
  };
  return expand(own, packageAndName(type)[0]);
}

/** `pkg/Type` (or `pkg/msg/Type`) as the MCAP schema name `pkg/msg/Type`. */
function schemaNameOf(type: string): string {
  const [pkg, name] = packageAndName(type);
  return `${pkg}/msg/${name}`;
}

function packageAndName(type: string): [string, string] {
  const parts = type.split('/');
  return [parts[0], parts[parts.length - 1]];
}

/**
 * A time in seconds as a ROS 2 time, moved by `shift` whole seconds. Whole-second shifts keep the
 * nanoseconds exactly as they were.
 */
export function toRosTime(seconds: number, shift = 0): RosTime {
  if (!Number.isFinite(seconds)) throw new Error(`A time of ${seconds} s cannot be written as a ROS time; times must be finite.`);
  let sec = Math.floor(seconds);
  let nanosec = Math.round((seconds - sec) * 1e9);
  if (nanosec === 1e9) {
    sec += 1;
    nanosec = 0;
  }
  return { sec: sec + shift, nanosec };
}

/** How a trace topic is written: as its standard ROS 2 type when its fields match, else as a flat arbor type. */
export function topicCodec(topic: TopicSeries): TopicCodec {
  const type = topic.type.replace('/msg/', '/');
  const same = (fields: readonly string[]) => fields.length === topic.fields.length && fields.every((f, i) => f === topic.fields[i]);
  if (type === 'sensor_msgs/JointState') {
    const names = topic.fields.filter((f) => f.startsWith('position.')).map((f) => f.slice('position.'.length));
    if (same(jointStateFields(names))) return jointStateCodec(topic, names);
  }
  if (type === 'geometry_msgs/PoseStamped' && same(POSE_FIELDS)) {
    return { ...stampedCodec(topic, type, WORLD_FRAME), poseFrame: poseFrame(topic.name) };
  }
  // The trace does not say which frame the wrench sensor measures in, so its frame is left empty.
  if (type === 'geometry_msgs/WrenchStamped' && same(WRENCH_FIELDS)) return stampedCodec(topic, type, '');
  if (type === 'rosgraph_msgs/Clock' && same(CLOCK_FIELDS)) return clockCodec(topic);
  if (type === 'trajectory_msgs/JointTrajectory') {
    const names = topic.fields.filter((f) => f.startsWith('positions.')).map((f) => f.slice('positions.'.length));
    if (same(trajectoryFields(names))) return trajectoryCodec(topic, names);
  }
  return flatCodec(topic);
}

/**
 * The child frame of a pose topic's transforms: the object's name for `/object_pose/<name>`,
 * else the topic name without its leading slash (`/tool_pose` → `tool_pose`).
 */
function poseFrame(topicName: string): string {
  const object = /^\/object_pose\/(.+)$/.exec(topicName);
  return object ? object[1] : topicName.replace(/^\/+/, '');
}

/** A pose topic's rows as `tf2_msgs/TFMessage`s of one transform each: `world` → `child`. */
export function tfCodec(topic: TopicSeries, child: string): TopicCodec {
  return {
    schemaName: schemaNameOf('tf2_msgs/TFMessage'),
    definition: ros2msgDefinition('tf2_msgs/TFMessage'),
    encode(row, shift) {
      const w = new CdrWriter({ size: 128 + child.length });
      w.sequenceLength(1);
      header(w, toRosTime(topic.stamps[row], shift), WORLD_FRAME);
      w.string(child);
      float64s(w, topic.data, row * 7, 7);
      return w.data;
    },
  };
}

/** An image topic's frames as `sensor_msgs/msg/Image` (little-endian, rows of `width × bytes per pixel`). */
export function imageCodec(image: ImageSeries): TopicCodec {
  const size = frameBytes(image);
  return {
    schemaName: schemaNameOf('sensor_msgs/Image'),
    definition: ros2msgDefinition('sensor_msgs/Image'),
    encode(row, shift) {
      const w = new CdrWriter({ size: 64 + image.frameId.length + image.encoding.length + size });
      header(w, toRosTime(image.stamps[row], shift), image.frameId);
      w.uint32(image.height).uint32(image.width).string(image.encoding).uint8(0).uint32(image.width * IMAGE_ENCODINGS[image.encoding]);
      w.uint8Array(image.data.subarray(row * size, (row + 1) * size), true);
      return w.data;
    },
  };
}

/** A `std_msgs/String` message: how the score, its terms and metrics travel as one JSON document. */
export function stringMessage(text: string): { schemaName: string; definition: string; data: Uint8Array } {
  const w = new CdrWriter({ size: 16 + text.length * 3 });
  w.string(text);
  return { schemaName: 'std_msgs/msg/String', definition: ros2msgDefinition('std_msgs/String'), data: w.data };
}

// ----- codecs ------------------------------------------------------------------------------------

function jointStateCodec(topic: TopicSeries, names: string[]): TopicCodec {
  const n = names.length;
  const nameBytes = names.reduce((sum, name) => sum + 8 + name.length * 3, 0);
  return {
    schemaName: schemaNameOf('sensor_msgs/JointState'),
    definition: ros2msgDefinition('sensor_msgs/JointState'),
    encode(row, shift) {
      const w = new CdrWriter({ size: 64 + nameBytes + 3 * (8 + 8 * n) });
      header(w, toRosTime(topic.stamps[row], shift), '');
      w.sequenceLength(n);
      for (const name of names) w.string(name);
      for (let part = 0; part < 3; part++) {
        w.sequenceLength(n);
        float64s(w, topic.data, (row * 3 + part) * n, n);
      }
      return w.data;
    },
  };
}

/**
 * A command row as the one-point `trajectory_msgs/JointTrajectory` it was sent as: stamped when it
 * was sent (so it starts then), its point at `time_from_start` with a position per joint.
 */
function trajectoryCodec(topic: TopicSeries, names: string[]): TopicCodec {
  const n = names.length;
  const width = n + 1;
  const nameBytes = names.reduce((sum, name) => sum + 8 + name.length * 3, 0);
  return {
    schemaName: schemaNameOf('trajectory_msgs/JointTrajectory'),
    definition: ros2msgDefinition('trajectory_msgs/JointTrajectory'),
    encode(row, shift) {
      const w = new CdrWriter({ size: 96 + nameBytes + 8 * n });
      header(w, toRosTime(topic.stamps[row], shift), '');
      w.sequenceLength(n);
      for (const name of names) w.string(name);
      w.sequenceLength(1);
      w.sequenceLength(n);
      float64s(w, topic.data, row * width + 1, n);
      for (let empty = 0; empty < 3; empty++) w.sequenceLength(0); // velocities, accelerations, effort
      const after = toRosTime(topic.data[row * width]);
      w.int32(after.sec).uint32(after.nanosec);
      return w.data;
    },
  };
}

/**
 * A header and the row's values as float64s in field order: `geometry_msgs/PoseStamped` (position,
 * orientation) and `geometry_msgs/WrenchStamped` (force, torque) are exactly that.
 */
function stampedCodec(topic: TopicSeries, type: string, frameId: string): TopicCodec {
  const width = topic.fields.length;
  return {
    schemaName: schemaNameOf(type),
    definition: ros2msgDefinition(type),
    encode(row, shift) {
      const w = new CdrWriter({ size: 32 + frameId.length + 8 * width });
      header(w, toRosTime(topic.stamps[row], shift), frameId);
      float64s(w, topic.data, row * width, width);
      return w.data;
    },
  };
}

function clockCodec(topic: TopicSeries): TopicCodec {
  return {
    schemaName: schemaNameOf('rosgraph_msgs/Clock'),
    definition: ros2msgDefinition('rosgraph_msgs/Clock'),
    encode(row, shift) {
      // The message is the recorded clock value; the stamp is when it was recorded.
      const t = toRosTime(topic.data[row], shift);
      const w = new CdrWriter({ size: 16 });
      w.int32(t.sec).uint32(t.nanosec);
      return w.data;
    },
  };
}

/**
 * Any other topic: `arbor_msgs/msg/<Type>` (its own type when it is an arbor type, else a name
 * made from its package and type, so a standard name never carries a layout that is not standard),
 * with a header and one float32 per field, named as ROS 2 allows.
 */
function flatCodec(topic: TopicSeries): TopicCodec {
  const [pkg, name] = packageAndName(topic.type.replace('/msg/', '/'));
  const typeName = pkg === 'arbor_msgs' ? pascal(name) : `${pascal(pkg)}${pascal(name)}`;
  const type = `arbor_msgs/${typeName || 'Unnamed'}`;
  const fieldNames = rosFieldNames(topic.fields);
  const own = ['std_msgs/Header header', ...topic.fields.map((f, i) => `float32 ${fieldNames[i]}${fieldNames[i] !== f ? ` # ${f}` : ''}`)].join('\n');
  const width = topic.fields.length;
  return {
    schemaName: schemaNameOf(type),
    definition: ros2msgDefinition(type, own),
    encode(row, shift) {
      const w = new CdrWriter({ size: 32 + 4 * width });
      header(w, toRosTime(topic.stamps[row], shift), '');
      for (let i = row * width; i < (row + 1) * width; i++) w.float32(topic.data[i]);
      return w.data;
    },
  };
}

// ----- helpers ----------------------------------------------------------------------------------

function header(w: CdrWriter, t: RosTime, frameId: string): void {
  w.int32(t.sec).uint32(t.nanosec).string(frameId);
}

function float64s(w: CdrWriter, data: Float32Array, from: number, count: number): void {
  for (let i = from; i < from + count; i++) w.float64(data[i]);
}

function pascal(text: string): string {
  return text
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
}

/**
 * Field names as ROS 2 allows them (lower case letters, digits and single underscores, starting
 * with a letter): `touch.left` → `touch_left`. Names that would clash get a number.
 */
export function rosFieldNames(fields: readonly string[]): string[] {
  const used = new Set<string>(['header']);
  return fields.map((field) => {
    let base = field
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '');
    if (!/^[a-z]/.test(base)) base = `f_${base}`.replace(/_+$/, '');
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  });
}
