import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { decodeTrace, encodeTrace, loadTrace, saveTrace } from '../src/trace/trace.ts';
import { TOPIC, objectPoseTopic } from '../src/trace/topics.ts';
import { samplePerceptionError } from '../src/tasks/pick-place/scene.ts';
import { SimLink } from '../src/robot/sim-link.ts';
import { pickPlace, scenario, tunedPolicy } from './helpers.ts';

const sc = await scenario();
const perception = pickPlace(sc).perception;
let runner: EpisodeRunner;
beforeAll(async () => {
  runner = await EpisodeRunner.create(sc);
});
afterAll(() => runner.close());

describe('episodes', () => {
  it('the same scenario, policy and seed give the same episode, bit for bit', async () => {
    const a = await runner.run(tunedPolicy(), 5);
    await runner.run(defaultPolicy(sc), 9); // another episode in between must leave no trace
    const b = await runner.run(tunedPolicy(), 5);
    expect(Buffer.from(encodeTrace(a.trace)).equals(Buffer.from(encodeTrace(b.trace)))).toBe(true);
    expect(b.score).toBe(a.score);
    const c = await runner.run(tunedPolicy(), 6);
    expect(Buffer.from(encodeTrace(c.trace)).equals(Buffer.from(encodeTrace(a.trace)))).toBe(false);
  });

  it('records every topic at the control rate, and the trace file loads back identically', async () => {
    const run = await runner.run(tunedPolicy(), 2);
    const names = [...run.trace.topics.keys()].sort();
    expect(names).toEqual(
      [TOPIC.jointStates, objectPoseTopic('box'), TOPIC.wrench, TOPIC.gripper, TOPIC.clock, TOPIC.contacts, TOPIC.safety, TOPIC.command].sort(),
    );
    const clock = run.trace.topic(TOPIC.clock);
    expect(clock.stamps[1] - clock.stamps[0]).toBeCloseTo(1 / sc.episode.control_rate, 9);
    expect(run.trace.topic(TOPIC.jointStates).type).toBe('sensor_msgs/JointState');
    const path = join(mkdtempSync(join(tmpdir(), 'arbor-trace-')), 'ep.trace');
    saveTrace(run.trace, path);
    const loaded = loadTrace(path);
    expect(loaded.meta).toEqual(JSON.parse(JSON.stringify(run.trace.meta)));
    for (const [name, topic] of run.trace.topics) {
      const back = loaded.topic(name);
      expect(back.fields).toEqual(topic.fields);
      expect(Array.from(back.stamps)).toEqual(Array.from(topic.stamps));
      expect(Array.from(back.data)).toEqual(Array.from(topic.data));
    }
    expect(() => decodeTrace(new Uint8Array([1, 2, 3]))).toThrow(/Not an arbor trace/);

    // A whole buffer (as a worker transfers it) is viewed, not copied; bytes at an odd offset inside
    // a larger buffer (a network message) are copied to an aligned one. Both decode the same.
    const bytes = encodeTrace(run.trace);
    const viewed = decodeTrace(bytes).topic(TOPIC.jointStates);
    expect(viewed.stamps.buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const copied = decodeTrace(shifted.subarray(3)).topic(TOPIC.jointStates);
    expect(copied.stamps.buffer).not.toBe(shifted.buffer);
    expect(Array.from(copied.data)).toEqual(Array.from(viewed.data));
    expect(Array.from(viewed.data)).toEqual(Array.from(run.trace.topic(TOPIC.jointStates).data));
  });

  it('the tuned policy places the cube and scores high; the defaults mostly fail', async () => {
    const tuned = await runner.run(tunedPolicy(), 1001);
    expect(tuned.metrics.outcome).toBe('success');
    expect(tuned.metrics.place_error).toBeLessThan(0.02);
    expect(tuned.score).toBeGreaterThan(0.85);
    const outcomes = [];
    for (const seed of [0, 1, 2, 3]) outcomes.push((await runner.run(defaultPolicy(sc), seed)).metrics.outcome);
    expect(outcomes.filter((o) => o === 'success').length).toBeLessThanOrEqual(2);
  });

  it('shows the policy the object through the miscalibrated camera, and records the true pose', async () => {
    const link = runner.link;
    const obs = await link.reset(17);
    const truth = link.trace().topic(objectPoseTopic('box')).data;
    const error = samplePerceptionError(perception, 17);
    expect(obs.objects.box.position[0] - truth[0]).toBeCloseTo(error[0], 6);
    expect(obs.objects.box.position[1] - truth[1]).toBeCloseTo(error[1], 6);
    for (let seed = 0; seed < 200; seed++) {
      const [ex, ey] = samplePerceptionError(perception, seed);
      const j = perception.object_jitter;
      expect(Math.abs(ex - perception.object_offset[0])).toBeLessThanOrEqual(j);
      expect(Math.abs(ey - perception.object_offset[1])).toBeLessThanOrEqual(j);
    }
  });

  it('leaks no wasm memory from one episode to the next', async () => {
    const world = (runner.link.inner as SimLink).world;
    const wasmBytes = () => {
      const probe = new world.mj.DoubleBuffer(1);
      const bytes = (probe.GetView() as Float64Array).buffer.byteLength;
      probe.delete();
      return bytes;
    };
    await runner.run(tunedPolicy(), 0);
    const before = wasmBytes();
    // A leak of even one contact list per tick would grow memory by megabytes over these.
    for (let seed = 0; seed < 30; seed++) await runner.run(tunedPolicy(), seed);
    expect(wasmBytes()).toBe(before);
  });

  it('a policy that throws fails the episode with its message', async () => {
    const broken = { kind: 'params' as const, params: { ...tunedPolicy().params, ik_damping: Number.NaN } };
    await expect(runner.run(broken, 1)).rejects.toThrow(/finite/);
  });
});
