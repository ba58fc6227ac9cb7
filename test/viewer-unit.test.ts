/**
 * The viewer without a browser: wire formats, the MuJoCo → three.js conventions checked against
 * MuJoCo's own geom poses, the scene built from every MJCF geom type, forward-kinematics replay
 * of a real episode (and of a joint-states-only trace), socket message validation, and the page's
 * language tag.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as THREE from 'three';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../src/policy/file.ts';
import { EpisodeRunner, type EpisodeRun } from '../src/evaluation/episode.ts';
import { SimLink } from '../src/robot/sim-link.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { World } from '../src/sim/world.ts';
import { TOPIC } from '../src/trace/topics.ts';
import { Trace } from '../src/trace/trace.ts';
import { setMjQuat, Y_TO_Z } from '../src/viewer/client/coords.ts';
import { infoLine } from '../src/viewer/client/info.ts';
import { keyIntent } from '../src/viewer/client/keys.ts';
import { FALLBACK_LANGUAGE, languageTag, useValidLanguage } from '../src/viewer/client/language.ts';
import { Live } from '../src/viewer/client/live.ts';
import { plotWidth } from '../src/viewer/client/plots.ts';
import { Replay, SPEEDS } from '../src/viewer/client/replay.ts';
import { formatRoute, parseRoute } from '../src/viewer/client/route.ts';
import { buildScene, setGeomSizes, syncFrame } from '../src/viewer/client/scene3d.ts';
import { decodeRelayFrame, encodeRelayFrame } from '../src/viewer/live-relay.ts';
import { MAX_CLIENT_MESSAGE, parseClientMessage, type LiveStreamInfo } from '../src/viewer/messages.ts';
import { Poser } from '../src/viewer/poser.ts';
import {
  CONTACT_STRIDE, POSE_STRIDE, attachContacts, decodeContacts, encodeContacts, decodeEpisode, decodeLiveFrame, encodeEpisode, encodeLiveFrame, frameAt, frameContacts, framePoses,
} from '../src/viewer/protocol.ts';
import { sceneFromWorld } from '../src/viewer/scene.ts';

const SCENARIO = 'scenarios/pick-place.yaml';

/** One geom of every MJCF type the viewer draws, on a moving body, plus a camera. */
const ALL_GEOMS = `
<mujoco model="all_geoms">
  <asset>
    <mesh name="tetra" vertex="0 0 0  0.1 0 0  0 0.1 0  0 0 0.1"/>
    <material name="blue" rgba="0.1 0.2 0.9 1"/>
  </asset>
  <worldbody>
    <geom name="floor" type="plane" size="1 1 0.1" rgba="0.3 0.3 0.3 1"/>
    <body name="thing" pos="0.1 0.2 0.5" quat="0.9 0.1 0.3 0.2">
      <freejoint/>
      <geom name="box" type="box" size="0.1 0.05 0.02" pos="0.1 0 0"/>
      <geom name="sphere" type="sphere" size="0.04" pos="0 0.1 0"/>
      <geom name="capsule" type="capsule" size="0.02" fromto="0 0 0 0.1 0.1 0.1"/>
      <geom name="cylinder" type="cylinder" size="0.03 0.05" pos="0 0 0.2" euler="0.4 0.2 0"/>
      <geom name="ellipsoid" type="ellipsoid" size="0.05 0.03 0.02" pos="-0.1 0 0" material="blue"/>
      <geom name="mesh" type="mesh" mesh="tetra" pos="0 -0.1 0"/>
      <camera name="eye" pos="0 0 0.3" xyaxes="1 0 0 0 1 0"/>
    </body>
  </worldbody>
</mujoco>`;

let run: EpisodeRun;
let poser: Poser;
let runner: EpisodeRunner;
const scenario = await loadScenario(SCENARIO);

beforeAll(async () => {
  runner = await EpisodeRunner.create(scenario);
  run = await runner.run(defaultPolicy(scenario), 5);
  poser = await Poser.ofScenario(scenario, 'test');
});

afterAll(async () => {
  poser?.dispose();
  await runner?.close();
});

describe('wire formats', () => {
  it('round-trips a live frame and rejects a truncated one', () => {
    const poses = Float32Array.from({ length: 3 * POSE_STRIDE }, (_, i) => i * 0.5);
    const contacts = Float32Array.from({ length: 2 * CONTACT_STRIDE }, (_, i) => -i);
    const bytes = encodeLiveFrame({ stream: 3, seq: 77, candidate: 12, seed: 1001, time: 1.25, poses, contacts });
    // Decode from an unaligned copy too, as sockets may hand it over.
    const unaligned = new Uint8Array(bytes.length + 1).subarray(1);
    unaligned.set(bytes);
    for (const b of [bytes, unaligned]) {
      const f = decodeLiveFrame(b);
      expect([f.stream, f.seq, f.candidate, f.seed, f.time]).toEqual([3, 77, 12, 1001, 1.25]);
      expect(Array.from(f.poses)).toEqual(Array.from(poses));
      expect(Array.from(f.contacts)).toEqual(Array.from(contacts));
    }
    expect(() => decodeLiveFrame(bytes.subarray(0, bytes.length - 4))).toThrow(/bytes/);
    expect(() => decodeLiveFrame(new Uint8Array(10))).toThrow(/at least/);
  });

  it('round-trips a relay frame with the exact qpos', () => {
    const qpos = Float64Array.from({ length: 15 }, (_, i) => Math.PI * i);
    const f = decodeRelayFrame(encodeRelayFrame({ worker: 2, study: 'pick-place-x', candidate: 9, seed: 4, time: 0.123456789, qpos }));
    expect(f).toMatchObject({ worker: 2, study: 'pick-place-x', candidate: 9, seed: 4, time: 0.123456789 });
    expect(Array.from(f.qpos)).toEqual(Array.from(qpos));
  });

  it('finds frames by time', () => {
    const times = Float32Array.from([0, 0.02, 0.04, 0.06]);
    expect([-1, 0, 0.01, 0.02, 0.039, 0.05, 1].map((t) => frameAt(times, t))).toEqual([0, 0, 0, 1, 1, 2, 3]);
  });
});

describe('MuJoCo (Z up, w-first quaternions) to three.js', () => {
  it('reorders quaternions and turns three primitives from +Y to +Z', () => {
    const q = new THREE.Quaternion();
    setMjQuat(q, [0.5, 0.1, 0.2, 0.3, 0.9], 1);
    expect([q.x, q.y, q.z, q.w]).toEqual([0.2, 0.3, 0.9, 0.1]);
    const v = new THREE.Vector3(0, 1, 0).applyQuaternion(new THREE.Quaternion(...Y_TO_Z));
    expect(v.x).toBeCloseTo(0, 12);
    expect(v.y).toBeCloseTo(0, 12);
    expect(v.z).toBeCloseTo(1, 12);
  });

  it('draws every geom type where MuJoCo puts it, from a copy of the model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-viewer-unit-'));
    const file = join(dir, 'all.xml');
    writeFileSync(file, ALL_GEOMS);
    const world = await World.load(file);
    try {
      world.forward();
      const vertsBefore = (world.model.mesh_vert as Float32Array).slice();
      const spec = sceneFromWorld(world, { key: 'all' });
      expect(new Set(spec.geoms.map((g) => g.type))).toEqual(new Set(['plane', 'box', 'sphere', 'capsule', 'cylinder', 'ellipsoid', 'mesh']));
      expect(spec.geoms.find((g) => g.name === 'ellipsoid')!.rgba).toEqual([0.1, 0.2, 0.9, 1]);
      expect(spec.cameras.map((c) => c.name)).toEqual(['eye']);
      expect(spec.meshes).toHaveLength(1);

      // Move the body somewhere else, then sync the three scene from a frame of MuJoCo's poses.
      const qpos = world.data.qpos as Float64Array;
      qpos.set([0.3, -0.2, 0.8, 0.7, -0.3, 0.5, 0.4]);
      world.forward();
      const dynamic = spec.dynamic;
      const frame = new Float32Array(dynamic.length * POSE_STRIDE);
      dynamic.forEach((b, k) => {
        frame.set((world.data.xpos as Float64Array).subarray(3 * b, 3 * b + 3), k * POSE_STRIDE);
        frame.set((world.data.xquat as Float64Array).subarray(4 * b, 4 * b + 4), k * POSE_STRIDE + 3);
      });
      const view = buildScene(spec);
      syncFrame(view, frame);
      view.scene.updateMatrixWorld(true);

      const xpos = world.data.geom_xpos as Float64Array;
      const xmat = world.data.geom_xmat as Float64Array;
      const p = new THREE.Vector3();
      const q = new THREE.Quaternion();
      const s = new THREE.Vector3();
      for (const g of spec.geoms) {
        const mesh = view.geoms.get(g.id)!;
        mesh.matrixWorld.decompose(p, q, s);
        for (let k = 0; k < 3; k++) expect(p.getComponent(k)).toBeCloseTo(xpos[3 * g.id + k], 5);
        // The rotation of the drawn geom is MuJoCo's geom frame (row-major xmat).
        const r = new THREE.Matrix4().makeRotationFromQuaternion(q).elements; // column-major
        for (let row = 0; row < 3; row++) for (let col = 0; col < 3; col++) expect(r[col * 4 + row]).toBeCloseTo(xmat[9 * g.id + 3 * row + col], 4);
      }
      // A capsule's axis is MuJoCo's local z: its far end lies along geom_xmat's third column.
      const capsule = spec.geoms.find((g) => g.type === 'capsule')!;
      const mesh = view.geoms.get(capsule.id)!;
      mesh.geometry.computeBoundingBox();
      const len = mesh.geometry.boundingBox!.max.z;
      expect(len).toBeCloseTo(capsule.size[0] + capsule.size[1], 4);
      expect(mesh.geometry.boundingBox!.max.y).toBeCloseTo(capsule.size[0], 3);
      // Geom sizes of one episode (a randomized cube) scale the drawing and go back after.
      const box = spec.geoms.find((g) => g.type === 'box')!;
      setGeomSizes(view, { [box.id]: [0.3, 0.3, 0.3] });
      expect(view.geoms.get(box.id)!.scale.toArray()).toEqual([0.3, 0.3, 0.3]);
      setGeomSizes(view, {});
      expect(view.geoms.get(box.id)!.scale.toArray()).toEqual(box.size);
      // The model's mesh buffer is untouched.
      expect(Array.from(world.model.mesh_vert as Float32Array)).toEqual(Array.from(vertsBefore));
      view.dispose();
    } finally {
      world.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('replay by forward kinematics', () => {
  it('rebuilds the recorded episode: every body where the sim had it at the end', () => {
    const parts = poser.episode(run.trace);
    const ep = decodeEpisode(encodeEpisode(parts));
    const n = run.trace.topic(TOPIC.jointStates).stamps.length;
    expect(ep.header.frames).toBe(n);
    expect(ep.header.hidden).toEqual([]);
    expect(ep.header.series.map((s) => s.group)).toEqual(expect.arrayContaining(['joints', 'gripper', 'wrench', 'object']));
    // The object's randomized size comes with the episode.
    const setup = run.trace.meta.objectSetup as { halfSize: number };
    expect(Object.values(ep.header.geomSizes)[0][0]).toBeCloseTo(setup.halfSize, 9);
    const last = framePoses(ep, n - 1);
    const sim = (runner.link.inner as SimLink).world.data;
    ep.header.bodies.forEach((b, k) => {
      for (let j = 0; j < 3; j++) expect(last[k * POSE_STRIDE + j]).toBeCloseTo((sim.xpos as Float64Array)[3 * b + j], 4);
    });
    // Contacts come separately: at rest the cube touches the table with about its weight.
    expect(ep.header.contactsPending).toBe(true);
    expect(frameContacts(ep, n - 1)).toHaveLength(0);
    attachContacts(ep, decodeContacts(encodeContacts(poser.episodeContacts(run.trace))));
    const contacts = frameContacts(ep, n - 1);
    expect(contacts.length / CONTACT_STRIDE).toBeGreaterThan(0);
    let total = 0;
    for (let i = 6; i < contacts.length; i += CONTACT_STRIDE) {
      expect(contacts[i]).toBeGreaterThanOrEqual(0);
      total += contacts[i];
    }
    expect(total).toBeGreaterThan(0);
    expect(ep.header.contacts).toBe(ep.contactStart[n]);
  });

  it('replays a physical-robot trace (joint states only): the arm from its joints, the object hidden', () => {
    const joints = run.trace.topic(TOPIC.jointStates);
    const onlyJoints = new Trace(new Map([[TOPIC.jointStates, joints]]), { backend: 'ros2' });
    const full = decodeEpisode(encodeEpisode(poser.episode(run.trace)));
    const bare = decodeEpisode(encodeEpisode(poser.episode(onlyJoints)));
    expect(bare.header.jointStatesOnly).toBe(true);
    expect(bare.header.backend).toBe('ros2');
    const box = poser.world.id('body', 'box');
    expect(bare.header.hidden).toEqual([box]);
    const shoulder = bare.header.bodies.indexOf(poser.world.id('body', 'wrist3'));
    const i = Math.floor(bare.header.frames / 2);
    for (let j = 0; j < 7; j++) expect(framePoses(bare, i)[shoulder * POSE_STRIDE + j]).toBeCloseTo(framePoses(full, i)[shoulder * POSE_STRIDE + j], 5);
    expect(bare.header.series.every((s) => s.group === 'joints')).toBe(true);
  });
});

describe('socket messages from the page', () => {
  const text = (s: string) => Buffer.from(s);
  it('accepts the watch requests and nothing else', () => {
    expect(parseClientMessage(text('{"type":"live.subscribe","stream":null}'), false)).toEqual({ type: 'live.subscribe', stream: null });
    expect(parseClientMessage(text('{"type":"study.watch","study":"s1"}'), false)).toEqual({ type: 'study.watch', study: 's1' });
    const problem = (m: unknown) => (m as { message?: string }).message ?? '';
    expect(problem(parseClientMessage(text('{oops'), false))).toMatch(/not JSON/);
    expect(problem(parseClientMessage(text('{"type":"run","study":"x"}'), false))).toMatch(/not a viewer request/);
    expect(problem(parseClientMessage(text('{"type":"live.subscribe","stream":-1}'), false))).toMatch(/'stream'/);
    expect(problem(parseClientMessage(text('{"type":"ping","extra":1}'), false))).toMatch(/not a viewer request/);
    expect(problem(parseClientMessage(Buffer.alloc(MAX_CLIENT_MESSAGE + 1, 32), false))).toMatch(/limit is 4096/);
    expect(problem(parseClientMessage(text('{}'), true))).toMatch(/Binary/);
  });
});

describe("the page's language tag", () => {
  it('keeps valid tags, turns POSIX locale names into tags, and falls back to en-US', () => {
    expect(languageTag('en-US@posix')).toBe('en-US');
    expect(() => new Intl.NumberFormat('en-US@posix')).toThrow(RangeError);
    expect(languageTag('de-DE')).toBe('de-DE');
    expect(languageTag('en-us')).toBe('en-US');
    expect(languageTag('zh-Hant-TW')).toBe('zh-Hant-TW');
    expect(languageTag('de_DE.UTF-8@euro')).toBe('de-DE');
    expect(languageTag('fr_CA')).toBe('fr-CA');
    for (const raw of ['C', 'C.UTF-8', 'POSIX', '', '@', '!!', undefined, null]) expect(languageTag(raw), String(raw)).toBe(FALLBACK_LANGUAGE);
    // Whatever comes out, Intl takes it.
    for (const raw of ['en-US@posix', 'de_DE.UTF-8@euro', 'C', 'x-@@', 'sr_RS@latin']) expect(() => new Intl.NumberFormat(languageTag(raw)).format(1234.5)).not.toThrow();
  });

  it('replaces an invalid navigator.language and leaves a valid one alone', () => {
    const posix = { language: 'en-US@posix' } as Navigator;
    useValidLanguage(posix);
    expect(posix.language).toBe('en-US');
    const german = { language: 'de-DE' } as Navigator;
    useValidLanguage(german);
    expect(german.language).toBe('de-DE');
  });
});

describe("the client's parts, without a page", () => {
  it('replays on a clock: plays from the start, steps frames, loops or stops at the end, and says when time moves', () => {
    const ep = decodeEpisode(encodeEpisode(poser.episode(run.trace)));
    const end = ep.header.duration;
    const replay = new Replay();
    const moved: number[] = [];
    const stop = replay.on('time', (t) => moved.push(t));
    replay.load([ep]);
    expect(replay.state()).toMatchObject({ t: 0, duration: end, frame: 0, playing: true, speed: 1, loop: true });
    replay.advance(0.5);
    expect(replay.time).toBeCloseTo(0.5, 6);
    const at = frameAt(ep.times, 0.5);
    replay.step(1);
    expect(replay.state()).toMatchObject({ playing: false, frame: at + 1, t: ep.times[at + 1] });
    replay.step(-10_000);
    expect(replay.time).toBe(0);
    replay.advance(1);
    expect(replay.time).toBe(0);
    // Speeds move along the offered ones and stop at their ends; one not offered falls back to 1.
    for (let i = 0; i < SPEEDS.length + 2; i++) replay.changeSpeed(1);
    expect(replay.speed).toBe(SPEEDS.at(-1));
    replay.changeSpeed(-1);
    expect(replay.speed).toBe(SPEEDS.at(-2));
    replay.setSpeed(3);
    expect(replay.speed).toBe(1);
    // At the end it starts over, or stops there without loop; playing from the end starts over.
    replay.seek(end - 0.01);
    replay.togglePlay();
    replay.advance(0.1);
    expect(replay.state()).toMatchObject({ t: 0, playing: true });
    replay.setLoop(false);
    replay.seek(end - 0.01);
    replay.advance(0.1);
    expect(replay.state()).toMatchObject({ t: end, playing: false });
    replay.togglePlay();
    expect(replay.state()).toMatchObject({ t: 0, playing: true });
    replay.jump('end');
    expect(replay.state()).toMatchObject({ t: end, playing: false });
    replay.seek(1e9);
    expect(replay.time).toBe(end);
    expect(moved.length).toBeGreaterThan(8);
    expect(moved.every((t) => t >= 0 && t <= end)).toBe(true);
    stop();
    replay.seek(1);
    expect(moved.at(-1)).toBe(end);
  });

  it('turns keys into what they ask (Shift steps ten frames), and ignores the others', () => {
    const keys = [' ', 'ArrowRight', 'ArrowLeft', 'Home', 'End', ']', '[', 'c', 'l', 'x', 'Enter'];
    expect(keys.map((k) => keyIntent(k, false))).toEqual([
      { name: 'play', value: undefined }, { name: 'step', value: 1 }, { name: 'step', value: -1 }, { name: 'jump', value: 'start' }, { name: 'jump', value: 'end' },
      { name: 'speed', value: 1 }, { name: 'speed', value: -1 }, { name: 'contacts', value: undefined }, { name: 'loop', value: undefined }, undefined, undefined,
    ]);
    expect(keyIntent('ArrowLeft', true)).toEqual({ name: 'step', value: -10 });
  });

  it('keeps only the newest live frame, and draws only those of the stream shown once its scene is up', () => {
    const stream = (n: number, active: boolean): LiveStreamInfo => ({ stream: n, study: 's', worker: n, candidate: 1, seed: n, scene: 'k', geomSizes: {}, geomPositions: {}, active });
    const frame = (n: number, seq: number) => ({ stream: n, seq, candidate: 1, seed: n, time: seq / 60, poses: new Float32Array(0), contacts: new Float32Array(0) });
    const live = new Live();
    expect(live.current).toBeUndefined();
    live.setStreams([stream(0, false), stream(1, true)]);
    expect(live.current?.stream).toBe(1);
    expect(live.subscription).toBeNull();
    live.receive(frame(1, 1));
    live.receive(frame(1, 2));
    const newest = live.take()!;
    expect([newest.seq, live.take(), live.received]).toEqual([2, undefined, 2]);
    expect(live.shows(newest)).toBe(false);
    live.scene = 'k';
    expect(live.shows(newest)).toBe(true);
    expect(live.shows(frame(0, 3))).toBe(false);
    live.choose(0);
    expect([live.current?.stream, live.subscription, live.shows(frame(0, 3))]).toEqual([0, 0, true]);
    live.paused = true;
    expect(live.shows(frame(0, 4))).toBe(false);
    live.drew(newest);
    expect([live.drawn, live.last?.seq]).toEqual([1, 2]);
  });

  it('reads and writes the page address', () => {
    expect(parseRoute('#study=pick-place-1&episode=12&compare=14')).toEqual({ study: 'pick-place-1', episode: 12, compare: 14, live: false, model: false });
    expect(parseRoute('live=1')).toEqual({ study: undefined, episode: undefined, compare: undefined, live: true, model: false });
    expect(parseRoute('#episode=-3&compare=x').episode).toBeUndefined();
    expect(formatRoute({ study: 'a b', episode: 3 })).toBe('study=a+b&episode=3');
    expect(formatRoute({ live: true, study: 's' })).toBe('live=1&study=s');
    expect(formatRoute({ model: true })).toBe('model=1');
  });

  it('spreads the plots over as few rows as fit, three at most side by side', () => {
    // The replay column at 1440×900 is about 806 px wide.
    expect([1, 2, 3, 4, 5].map((n) => plotWidth(n, 806))).toEqual([790, 389, 255, 389, 255]);
    // A narrow column: one plot a row, never narrower than 240 px.
    expect(plotWidth(3, 400)).toBe(384);
    expect(plotWidth(2, 100)).toBe(240);
  });

  it("writes the info line from a snapshot of the replay", () => {
    const ep = decodeEpisode(encodeEpisode(poser.episode(run.trace, { id: 4, study: 's', candidateId: 2, split: 'train', seed: 5, success: true, score: 0.91234, outcome: 'success' })));
    const replay = new Replay();
    replay.load([ep]);
    replay.seek(1);
    replay.pause();
    const line = infoLine({ mode: 'replay', replay: replay.state(), live: { stream: undefined, time: undefined, drawn: 0, paused: false }, scene: undefined, contacts: 3, fps: 59.6, renderScale: 0.8 });
    expect(line).toBe(`t 1.00 s · frame ${frameAt(ep.times, 1) + 1}/${ep.header.frames} · contacts 3 · 1× · paused · episode 4 (candidate 2, train seed 5): success, score 0.912 · 60 fps · 80% resolution`);
  });
});
