/**
 * Pick-and-place bit for bit: the hashes of whole episodes (every topic's stamps and values,
 * default and tuned policies) recorded before tasks became plug-ins and links went through the
 * safety envelope. A change to physics, control, recording or the scene that moves one float of
 * one topic fails here; if the change is meant, say why and update the pins in the same commit.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy, type PolicyFile } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import type { Trace } from '../src/trace/trace.ts';
import { scenario, tunedPolicy } from './helpers.ts';

/** The columns of /safety the first version recorded; later columns are newer. */
const FIRST_SAFETY_COLUMNS = 3;
/**
 * Topics recorded since the pins were taken, left out of the hash: they add a record of what was
 * sent (the commanded trajectory) and change no float of any topic that was there before.
 */
const NEWER_TOPICS = new Set(['/joint_trajectory_controller/joint_trajectory']);

function traceHash(trace: Trace): string {
  const h = createHash('sha256');
  for (const [name, t] of [...trace.topics].filter(([name]) => !NEWER_TOPICS.has(name)).sort((a, b) => a[0].localeCompare(b[0]))) {
    const width = t.fields.length;
    const cols = name === '/safety' ? FIRST_SAFETY_COLUMNS : width;
    const data = new Float32Array(t.stamps.length * cols);
    for (let r = 0; r < t.stamps.length; r++) for (let c = 0; c < cols; c++) data[r * cols + c] = t.data[r * width + c];
    h.update(name);
    h.update(t.fields.slice(0, cols).join(','));
    h.update(new Uint8Array(t.stamps.buffer, t.stamps.byteOffset, t.stamps.byteLength));
    h.update(new Uint8Array(data.buffer));
  }
  return h.digest('hex').slice(0, 16);
}

const sc = await scenario();
let runner: EpisodeRunner;
beforeAll(async () => {
  runner = await EpisodeRunner.create(sc);
});
afterAll(() => runner.close());

describe('pick-and-place episodes are the same as before, bit for bit', () => {
  it.each([
    ['default', 1, 'cbdafa69e7e09a7b', 0.17742388905196937],
    ['default', 5, 'c5a53f42235098c2', 0.9212697093237662],
    ['tuned', 2, 'f09b699aa1a90280', 0.9308744572260231],
    ['tuned', 1001, 'bc5088d43bcf65f0', 0.9293270759846602],
  ] as const)('%s policy, seed %i', async (which, seed, hash, score) => {
    const policy: PolicyFile = which === 'default' ? defaultPolicy(sc) : tunedPolicy();
    const run = await runner.run(policy, seed);
    expect(traceHash(run.trace)).toBe(hash);
    expect(run.score).toBe(score);
  });
});
