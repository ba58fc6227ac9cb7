/**
 * `arbor transfer` (issue 18, section 5): the tuned pick-and-place policy in sim and on a stand-in
 * robot (`arbor sim-serve --perturb arm_kp=0.6`, joints that track more softly), paired on the
 * same seeds. The stand-in loses seed 1003 (the gauntlet finds the same), and the report says so:
 * the success of each side with its interval, the gap, the lost seed, and the metrics that moved.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { TransferReport } from '../src/transfer/transfer.ts';
import { startSimServe } from './sim-serve-helpers.ts';

const run = promisify(execFile);
const arbor = (args: string[]) => run(process.execPath, ['bin/arbor.js', ...args], { maxBuffer: 1 << 24 });
const SCENARIO = 'scenarios/pick-place.yaml';

describe('arbor transfer', () => {
  it('reports the gap on a stand-in robot that the perturbation breaks, paired on the seeds, with the lost seed and what moved', async () => {
    const robot = await startSimServe(SCENARIO, ['--rosbridge', '0', '--perturb', 'arm_kp=0.6']);
    try {
      const { stdout } = await arbor(['transfer', SCENARIO, '--policy', 'scenarios/pick-place.tuned.json', '--backend', `rosbridge://127.0.0.1:${robot.port}`, '--seeds', '1002..1004', '--workers', '1', '--json']);
      const report = JSON.parse(stdout) as TransferReport;
      expect(report.seeds).toEqual([1002, 1003, 1004]);
      expect(report.sim.successes).toBe(3);
      expect(report.lost).toContain(1003);
      expect(report.robot.successes).toBe(3 - report.lost.length + report.gained.length);
      expect(report.gap.n).toBe(3);
      expect(report.gap.difference).toBeCloseTo((report.robot.successes - report.sim.successes) / 3, 12);
      expect(report.robot.interval.high).toBeLessThan(1);
      expect(report.metrics.length).toBeGreaterThan(0);
    } finally {
      await robot.stop();
    }
  }, 300_000);

  it('refuses the sim as the robot, naming the fix', async () => {
    await expect(arbor(['transfer', SCENARIO, '--backend', 'sim', '--seeds', '0..1'])).rejects.toThrow(/compares the sim with a robot/);
  }, 60_000);
});
