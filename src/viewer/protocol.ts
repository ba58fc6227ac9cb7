/**
 * The viewer's wire formats, shared by the server (Node) and the page (bundled by esbuild): no
 * Node or DOM imports here. Everything is little-endian and 4-byte aligned so the page can read
 * typed-array views straight off the received ArrayBuffer.
 *
 * A body pose is 7 floats in MuJoCo's order: position x, y, z, then quaternion w, x, y, z (world
 * frame, Z up). A contact is 7 floats: point x, y, z, unit normal x, y, z (MuJoCo's, from geom1
 * to geom2), normal force (N).
 */

/** Floats per body pose: px py pz qw qx qy qz. */
export const POSE_STRIDE = 7;
/** Floats per contact: px py pz nx ny nz force. */
export const CONTACT_STRIDE = 7;

/** Kind byte of a live frame message. */
export const LIVE_FRAME_KIND = 1;
const LIVE_VERSION = 1;
/** Bytes before the float payload of a live frame. */
export const LIVE_HEADER_BYTES = 24;

/** One live frame, as the page receives it. */
export interface LiveFrameMessage {
  /** Stream index (announced in `live.status`). */
  stream: number;
  /** Per-client sequence number, for acks. */
  seq: number;
  /** Candidate id. */
  candidate: number;
  /** Episode seed. */
  seed: number;
  /** Simulated time (s). */
  time: number;
  /** Poses of the scene's dynamic bodies, `POSE_STRIDE` floats each. */
  poses: Float32Array;
  /** Contacts, `CONTACT_STRIDE` floats each. */
  contacts: Float32Array;
}

/** Encodes a live frame into one binary WebSocket message. */
export function encodeLiveFrame(f: LiveFrameMessage): Uint8Array {
  const nbody = f.poses.length / POSE_STRIDE;
  const ncon = f.contacts.length / CONTACT_STRIDE;
  if (!Number.isInteger(nbody) || !Number.isInteger(ncon) || nbody > 0xffff || ncon > 0xffff) {
    throw new Error(`A live frame needs whole poses and contacts (got ${f.poses.length} and ${f.contacts.length} floats).`);
  }
  const out = new Uint8Array(LIVE_HEADER_BYTES + 4 * (f.poses.length + f.contacts.length));
  const view = new DataView(out.buffer);
  view.setUint8(0, LIVE_FRAME_KIND);
  view.setUint8(1, LIVE_VERSION);
  view.setUint16(2, f.stream, true);
  view.setUint32(4, f.seq >>> 0, true);
  view.setUint32(8, f.candidate >>> 0, true);
  view.setUint32(12, f.seed >>> 0, true);
  view.setFloat32(16, f.time, true);
  view.setUint16(20, nbody, true);
  view.setUint16(22, ncon, true);
  const floats = new Float32Array(out.buffer, LIVE_HEADER_BYTES);
  floats.set(f.poses, 0);
  floats.set(f.contacts, f.poses.length);
  return out;
}

/** Decodes a live frame; the float arrays are views into `bytes` when it is 4-byte aligned. */
export function decodeLiveFrame(bytes: ArrayBuffer | Uint8Array): LiveFrameMessage {
  let u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.length < LIVE_HEADER_BYTES) throw new Error(`A live frame has at least ${LIVE_HEADER_BYTES} bytes; got ${u8.length}.`);
  if (u8.byteOffset % 4 !== 0) u8 = new Uint8Array(u8); // a copy (Buffer.slice would be a view)
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  if (view.getUint8(0) !== LIVE_FRAME_KIND || view.getUint8(1) !== LIVE_VERSION) {
    throw new Error(`Not a live frame (kind ${view.getUint8(0)}, version ${view.getUint8(1)}).`);
  }
  const nbody = view.getUint16(20, true);
  const ncon = view.getUint16(22, true);
  const nfloat = (nbody + ncon) * POSE_STRIDE;
  if (u8.length !== LIVE_HEADER_BYTES + 4 * nfloat) {
    throw new Error(`A live frame of ${nbody} bodies and ${ncon} contacts has ${LIVE_HEADER_BYTES + 4 * nfloat} bytes; got ${u8.length}.`);
  }
  const base = u8.byteOffset + LIVE_HEADER_BYTES;
  return {
    stream: view.getUint16(2, true),
    seq: view.getUint32(4, true),
    candidate: view.getUint32(8, true),
    seed: view.getUint32(12, true),
    time: view.getFloat32(16, true),
    poses: new Float32Array(u8.buffer, base, nbody * POSE_STRIDE),
    contacts: new Float32Array(u8.buffer, base + 4 * nbody * POSE_STRIDE, ncon * CONTACT_STRIDE),
  };
}

// ---------------------------------------------------------------------------------------------
// A whole episode as one blob: magic, u32 header length, JSON header, padding to 8, then the
// sections in this order: times f32[n], poses f32[n*nbody*7], contactStart u32[n+1],
// contacts f32[ncontact*7], series f32[nseries*n] (one column per series).

const EPISODE_MAGIC = 'ARBEPI01';

/** One plotted series of an episode. */
export interface SeriesInfo {
  /** Unique key, e.g. `position.elbow`. */
  key: string;
  /** Legend label. */
  label: string;
  /** Plot it belongs to: a built-in one, or a task's plot (`task:<n>`, titled in `EpisodeHeader.taskPlots`). */
  group: 'joints' | 'gripper' | 'wrench' | 'object' | `task:${number}`;
  /** Unit shown on the axis. */
  unit: string;
  /** True for a line marking the edge of a band the values should stay in (drawn dashed). */
  band?: boolean;
}

/** A plot the task declares (e.g. a force with its band), in `series` order of first use. */
export interface TaskPlotInfo {
  /** The plot's group, `task:<n>`. */
  group: `task:${number}`;
  /** Title over the plot. */
  title: string;
}

/** What the page needs to know about a replayed episode besides its numbers. */
export interface EpisodeHeader {
  /** Number of frames. */
  frames: number;
  /** Body ids whose poses each frame holds, in order (the scene's dynamic bodies). */
  bodies: number[];
  /** Bodies to hide (e.g. an object whose pose a physical-robot trace does not have). */
  hidden: number[];
  /** Geom sizes that differ from the model for this episode (randomized object), by geom id. */
  geomSizes: Record<string, [number, number, number]>;
  /** Geom positions (in their body's frame) that differ from the scene's for this episode (zones placed per seed), by geom id. */
  geomPositions: Record<string, [number, number, number]>;
  /** Total number of contacts over all frames. */
  contacts: number;
  /** True when the contacts come separately (`/api/episodes/ID/contacts`, `decodeContacts`). */
  contactsPending?: boolean;
  /** The plotted series, in section order. */
  series: SeriesInfo[];
  /** The task's own plots, after the built-in ones. */
  taskPlots: TaskPlotInfo[];
  /** Episode length (s), the last frame's time. */
  duration: number;
  /** Key of the scene (from `/api/scene`) the poses belong to. */
  scene: string;
  /** The stored episode, for the info line and the dashboard. */
  episode?: {
    id: number;
    study: string;
    candidateId: number;
    split: string;
    seed: number;
    success: boolean;
    score: number | null;
    outcome: string;
  };
  /** Where the trace came from (`sim`, `rosbridge`, `ros2`). */
  backend?: string;
  /** True when poses came from forward kinematics of joint states only (a physical robot). */
  jointStatesOnly?: boolean;
}

/** A decoded episode: typed-array views over one buffer. */
export interface EpisodeFrames {
  /** The header. */
  header: EpisodeHeader;
  /** Frame times (s from the first frame). */
  times: Float32Array;
  /** Poses, `frames * bodies.length * POSE_STRIDE` floats. */
  poses: Float32Array;
  /** Frame i's contacts are `contacts[contactStart[i]*7 .. contactStart[i+1]*7)`. */
  contactStart: Uint32Array;
  /** Contacts of all frames, `CONTACT_STRIDE` floats each. */
  contacts: Float32Array;
  /** One column per `header.series` entry, `frames` values each. */
  series: Float32Array[];
}

/** Arrays to pack into an episode blob: the same parts a decoded episode has. */
export type EpisodeParts = EpisodeFrames;

/** Packs an episode into one buffer. */
export function encodeEpisode(parts: EpisodeParts): Uint8Array {
  const { header } = parts;
  const n = header.frames;
  const nb = header.bodies.length;
  const expect = (name: string, got: number, want: number) => {
    if (got !== want) throw new Error(`Episode section '${name}' has ${got} values; ${want} expected.`);
  };
  expect('times', parts.times.length, n);
  expect('poses', parts.poses.length, n * nb * POSE_STRIDE);
  expect('contactStart', parts.contactStart.length, n + 1);
  expect('contacts', parts.contacts.length, header.contacts * CONTACT_STRIDE);
  expect('series', parts.series.length, header.series.length);
  parts.series.forEach((s, i) => expect(`series ${header.series[i].key}`, s.length, n));

  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = pad8(12 + json.length);
  const size = start + 4 * (n + n * nb * POSE_STRIDE + (n + 1) + header.contacts * CONTACT_STRIDE + header.series.length * n);
  const out = new Uint8Array(size);
  for (let i = 0; i < 8; i++) out[i] = EPISODE_MAGIC.charCodeAt(i);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  let offset = start;
  const put = (a: Float32Array | Uint32Array) => {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), offset);
    offset += a.byteLength;
  };
  put(parts.times);
  put(parts.poses);
  put(parts.contactStart);
  put(parts.contacts);
  for (const s of parts.series) put(s);
  return out;
}

/** Unpacks an episode blob; the arrays are views into the (copied if unaligned) buffer. */
export function decodeEpisode(bytes: ArrayBuffer | Uint8Array): EpisodeFrames {
  let u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.byteOffset % 8 !== 0) u8 = new Uint8Array(u8); // a copy (Buffer.slice would be a view)
  let magic = '';
  for (let i = 0; i < 8 && i < u8.length; i++) magic += String.fromCharCode(u8[i]);
  if (magic !== EPISODE_MAGIC) throw new Error('Not an arbor episode blob: the magic is missing.');
  const jsonLength = new DataView(u8.buffer, u8.byteOffset).getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(12, 12 + jsonLength))) as EpisodeHeader;
  const n = header.frames;
  let offset = u8.byteOffset + pad8(12 + jsonLength);
  const end = u8.byteOffset + u8.byteLength;
  const take = <T extends Float32Array | Uint32Array>(Ctor: new (b: ArrayBufferLike, o: number, l: number) => T, count: number, name: string): T => {
    if (offset + 4 * count > end) throw new Error(`The episode blob is truncated in section '${name}'.`);
    const a = new Ctor(u8.buffer, offset, count);
    offset += 4 * count;
    return a;
  };
  const times = take(Float32Array, n, 'times');
  const poses = take(Float32Array, n * header.bodies.length * POSE_STRIDE, 'poses');
  const contactStart = take(Uint32Array, n + 1, 'contactStart');
  const contacts = take(Float32Array, header.contacts * CONTACT_STRIDE, 'contacts');
  const series = header.series.map((s) => take(Float32Array, n, s.key));
  return { header, times, poses, contactStart, contacts, series };
}

/** The contacts of every frame of an episode, sent after its poses (they take longer to compute). */
export interface EpisodeContacts {
  /** Number of frames. */
  frames: number;
  /** Frame i's contacts are `contacts[contactStart[i]*7 .. contactStart[i+1]*7)`. */
  contactStart: Uint32Array;
  /** Contacts of all frames, `CONTACT_STRIDE` floats each. */
  contacts: Float32Array;
}

const CONTACTS_MAGIC = 'ARBCON01';

/** Packs an episode's contacts: magic, u32 frames, u32 count, contactStart u32[frames+1], contacts f32. */
export function encodeContacts(c: EpisodeContacts): Uint8Array {
  const count = c.contacts.length / CONTACT_STRIDE;
  if (c.contactStart.length !== c.frames + 1 || c.contactStart[c.frames] !== count) throw new Error('The contact index does not match the contacts.');
  const out = new Uint8Array(16 + 4 * (c.frames + 1) + c.contacts.byteLength);
  for (let i = 0; i < 8; i++) out[i] = CONTACTS_MAGIC.charCodeAt(i);
  const v = new DataView(out.buffer);
  v.setUint32(8, c.frames, true);
  v.setUint32(12, count, true);
  out.set(new Uint8Array(c.contactStart.buffer, c.contactStart.byteOffset, c.contactStart.byteLength), 16);
  out.set(new Uint8Array(c.contacts.buffer, c.contacts.byteOffset, c.contacts.byteLength), 16 + 4 * (c.frames + 1));
  return out;
}

/** Unpacks `encodeContacts`'s output (views into the buffer, copied first when unaligned). */
export function decodeContacts(bytes: ArrayBuffer | Uint8Array): EpisodeContacts {
  let u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.byteOffset % 4 !== 0) u8 = new Uint8Array(u8);
  let magic = '';
  for (let i = 0; i < 8 && i < u8.length; i++) magic += String.fromCharCode(u8[i]);
  if (magic !== CONTACTS_MAGIC || u8.length < 16) throw new Error('Not an arbor contacts blob: the magic is missing.');
  const v = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const frames = v.getUint32(8, true);
  const count = v.getUint32(12, true);
  if (u8.length !== 16 + 4 * (frames + 1) + 4 * count * CONTACT_STRIDE) throw new Error('The contacts blob is truncated.');
  return {
    frames,
    contactStart: new Uint32Array(u8.buffer, u8.byteOffset + 16, frames + 1),
    contacts: new Float32Array(u8.buffer, u8.byteOffset + 16 + 4 * (frames + 1), count * CONTACT_STRIDE),
  };
}

/** Attaches contacts that arrived after the poses. */
export function attachContacts(ep: EpisodeFrames, c: EpisodeContacts): void {
  if (c.frames !== ep.header.frames) throw new Error(`The contacts are for ${c.frames} frames; the episode has ${ep.header.frames}.`);
  ep.contactStart = c.contactStart;
  ep.contacts = c.contacts;
  ep.header.contacts = c.contacts.length / CONTACT_STRIDE;
  ep.header.contactsPending = false;
}

/** Index of the last frame at or before `t` (0 before the first). Binary search. */
export function frameAt(times: Float32Array, t: number): number {
  let lo = 0;
  let hi = times.length - 1;
  if (hi < 0 || t <= times[0]) return 0;
  if (t >= times[hi]) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (times[mid] <= t) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The poses of frame `i` (a view, no copy). */
export function framePoses(ep: EpisodeFrames, i: number): Float32Array {
  const w = ep.header.bodies.length * POSE_STRIDE;
  return ep.poses.subarray(i * w, (i + 1) * w);
}

/** The contacts of frame `i` (a view, no copy). */
export function frameContacts(ep: EpisodeFrames, i: number): Float32Array {
  return ep.contacts.subarray(ep.contactStart[i] * CONTACT_STRIDE, ep.contactStart[i + 1] * CONTACT_STRIDE);
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}
