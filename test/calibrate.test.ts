/**
 * `arbor identify` + `arbor calibrate` against a stand-in robot (issue 18, section 4): `arbor
 * sim-serve --perturb` serves a world whose joints are softer (kp × 0.7), more damped (× 1.8) and
 * two control ticks late, with a gripper half as strong; identify records excitations over
 * rosbridge (chirps, a close on nothing and a close on the cube), and calibrate must recover those
 * values (within 15%, the delay exactly) and cut the tracking error on recordings held out of the
 * fit by 5× or more. Axes the recordings cannot move are said as such.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadScenario, withCalibration } from '../src/scenario/load.ts';
import type { Calibration, TrackingError } from '../src/transfer/calibrate.ts';
import { startSimServe } from './sim-serve-helpers.ts';

const run = promisify(execFile);
const arbor = (args: string[]) => run(process.execPath, ['bin/arbor.js', ...args], { maxBuffer: 1 << 24 });
const SCENARIO = 'scenarios/pick-place.yaml';
const TRUE = { kp: 0.7, damping: 1.8, command_delay: 2, gripper_force: 0.5 };
const dir = mkdtempSync(join(tmpdir(), 'arbor-calibrate-'));
const recordings = join(dir, 'recordings');
let traces: string[];

/** Mean over joints of a tracking error. */
const mean = (e: TrackingError) => e.joints.reduce((s, v) => s + v, 0) / e.joints.length;

beforeAll(async () => {
  const standIn = join(dir, 'stand-in.yaml');
  writeFileSync(standIn, `axes:
  kp: { kind: kp, scale: ${TRUE.kp} }
  damping: { kind: damping, scale: ${TRUE.damping} }
  latency: { kind: command_delay, ticks: ${TRUE.command_delay} }
  grip: { kind: gripper_force, scale: ${TRUE.gripper_force} }
`);
  const robot = await startSimServe(SCENARIO, ['--rosbridge', '0', '--perturb', standIn]);
  try {
    // The tuned policy's skill reaches the cube for the close on it.
    await arbor(['identify', SCENARIO, '--backend', `rosbridge://127.0.0.1:${robot.port}`, '--yes', '--kinds', 'chirp,gripper,grasp', '--duration', '2', '--policy', 'scenarios/pick-place.tuned.json', '--out', recordings, '--json']);
  } finally {
    await robot.stop();
  }
  traces = readdirSync(recordings).filter((f) => f.endsWith('.trace')).sort().map((f) => join(recordings, f));
}, 240_000);

describe('arbor calibrate', () => {
  // One fit of every axis (each replay costs a whole episode's physics, and CI's minutes are few):
  // the gains, the delay and the gripper's force are asked of the same recordings.
  it("recovers the stand-in's gains and weaker gripper within 15% and its delay exactly, cuts the held-out tracking error by 5× or more, and says the squeeze does not excite finger friction", async () => {
    const out = join(dir, 'calibration.yaml');
    const { stdout } = await arbor(['calibrate', SCENARIO, '--from', ...traces, '--axes', 'kp,damping,command_delay,gripper_force,finger_friction', '--out', out, '--budget', '30', '--json']);
    const fit = JSON.parse(stdout) as Calibration;
    const value = (name: string) => fit.axes.find((a) => a.name === name)!;
    expect(value('kp').identified).toBe(true);
    expect(Math.abs(value('kp').value / TRUE.kp - 1)).toBeLessThan(0.15);
    expect(Math.abs(value('damping').value / TRUE.damping - 1)).toBeLessThan(0.15);
    expect(value('command_delay').value).toBe(TRUE.command_delay);
    expect(fit.heldOut).toBeDefined();
    expect(mean(fit.heldOut!.before) / mean(fit.heldOut!.after)).toBeGreaterThanOrEqual(5);
    // The close on the cube: the weaker gripper's force, and the calibrated sim squeezes as the stand-in did.
    expect(value('gripper_force').identified).toBe(true);
    expect(Math.abs(value('gripper_force').value / TRUE.gripper_force - 1)).toBeLessThan(0.15);
    expect(fit.fit.before.gripperForce! / fit.fit.after.gripperForce!).toBeGreaterThanOrEqual(5);
    expect(value('finger_friction')).toMatchObject({ identified: false, note: 'finger friction: not excited by these recordings' });
    // The file it wrote is a calibration the scenario loads with those values.
    const calibrated = withCalibration(await loadScenario(SCENARIO), out);
    expect(calibrated.calibration!.values.map((v) => v.name).sort()).toEqual(['command_delay', 'damping', 'gripper_force', 'kp']);
  }, 600_000);

  it('says which axes the recordings cannot identify instead of giving them a value', async () => {
    // A chirp keeps the gripper open: neither its force nor its pads' friction shows.
    const { stdout } = await arbor(['calibrate', SCENARIO, '--from', traces[0], '--axes', 'gripper_force,finger_friction', '--budget', '8', '--out', join(dir, 'friction.yaml'), '--json']);
    const fit = JSON.parse(stdout) as Calibration;
    expect(fit.axes).toEqual([
      expect.objectContaining({ name: 'gripper_force', identified: false, note: 'gripper force: not excited by these recordings' }),
      expect.objectContaining({ name: 'finger_friction', identified: false, note: 'finger friction: not excited by these recordings' }),
    ]);
  }, 300_000);

  it('refuses a recording it cannot replay, naming the file and what it lacks', async () => {
    const bad = join(dir, 'notes.txt');
    writeFileSync(bad, 'not a recording');
    await expect(arbor(['calibrate', SCENARIO, '--from', bad])).rejects.toThrow(/notes\.txt/);
  }, 120_000);
});
