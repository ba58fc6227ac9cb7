/**
 * A stand-in robot: `arbor sim-serve --perturb FILE` (a real child process on rosbridge) serves
 * a world whose joints are softer and whose commands land two ticks late. A policy tuned on the
 * nominal sim fails there on a seed it passes nominally, and nothing the robot reports says why:
 * the perturbation stays hidden, as a physical arm's differences are.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { parseBackend } from '../src/robot/links.ts';
import { scenario, tunedPolicy } from './helpers.ts';
import { startSimServe, type Served } from './sim-serve-helpers.ts';

const sc = await scenario();
const file = join(mkdtempSync(join(tmpdir(), 'arbor-standin-')), 'standin.yaml');
writeFileSync(file, 'axes:\n  slower: { kind: kp, scale: 0.6 }\n  late: { kind: command_delay, ticks: 2 }\n');

let served: Served;
beforeAll(async () => {
  served = await startSimServe('scenarios/pick-place.yaml', ['--rosbridge', '0', '--camera-rate', '0', '--perturb', file]);
}, 90_000);
afterAll(() => served?.stop());

describe('a stand-in robot served with --perturb', () => {
  it('breaks the tuned policy on a seed the nominal sim passes, and does not say how it differs', async () => {
    const sim = await EpisodeRunner.create(sc);
    // A network episode waits on the served world every tick: give it room on a loaded machine.
    const patient = { ...sc, episode: { ...sc.episode, wall_time_limit: 150 } };
    const robot = await EpisodeRunner.create(patient, parseBackend(`rosbridge://127.0.0.1:${served.port}`));
    try {
      expect((await sim.run(tunedPolicy(), 1003)).success).toBe(true);
      const run = await robot.run(tunedPolicy(), 1003);
      expect(run.success).toBe(false);
      expect(run.trace.meta.objectSetup).toBeDefined(); // the task's facts come through ...
      expect(run.trace.meta.perturbation).toBeUndefined(); // ... the world's differences do not
      expect(JSON.stringify(run.trace.meta)).not.toMatch(/slower|late|calibration/);
    } finally {
      await sim.close();
      await robot.close();
    }
  }, 240_000);
});
