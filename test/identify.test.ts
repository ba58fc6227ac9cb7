/**
 * `arbor identify` (issue 18, section 4): excitation programs stay small, slow and at rest at their
 * ends; on the sim and on `arbor sim-serve` over rosbridge they record a trace per program (the
 * program in its meta) and one MCAP of them all; on a robot it asks before anything moves.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { McapIndexedReader } from '@mcap/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { loadTrace } from '../src/trace/trace.ts';
import { TOPIC } from '../src/trace/topics.ts';
import { ExcitationProgram, excitationCommand, excitationPrograms, gripperWidthAt } from '../src/transfer/excitation.ts';
import { startSimServe } from './sim-serve-helpers.ts';

const run = promisify(execFile);
const arbor = (args: string[]) => run(process.execPath, ['bin/arbor.js', ...args], { maxBuffer: 1 << 24 });
let scenario: LoadedScenario;

beforeAll(async () => {
  scenario = await loadScenario('scenarios/pick-place.yaml');
});

describe('excitation programs', () => {
  it('move one joint about home, inside a third of its room, at most a quarter of its speed limit, and start and end at rest', () => {
    const robot = scenario.robotConfig;
    const programs = excitationPrograms(robot, { kinds: ['chirp', 'multisine', 'gripper'], duration: 5 });
    expect(programs.map((p) => p.name)).toContain('gripper-close');
    expect(programs.filter((p) => p.kind === 'chirp')).toHaveLength(robot.joints.length);
    const dt = 0.002;
    for (const p of programs.filter((q) => q.kind !== 'gripper')) {
      const j = robot.joints[p.joint];
      let previous = excitationCommand(p, robot, 0).position;
      expect(previous).toEqual(robot.home);
      let fastest = 0;
      for (let t = dt; t <= p.duration + 1e-9; t += dt) {
        const q = excitationCommand(p, robot, t).position;
        q.forEach((v, i) => (i === p.joint ? expect(Math.abs(v - robot.home[i])).toBeLessThanOrEqual(p.amplitude + 1e-12) : expect(v).toBe(robot.home[i])));
        expect(q[p.joint]).toBeGreaterThan(j.position[0] + 0.6 * (robot.home[p.joint] - j.position[0]));
        fastest = Math.max(fastest, Math.abs(q[p.joint] - previous[p.joint]) / dt);
        previous = q;
      }
      // The taper adds a little to the sine's own peak speed.
      expect(fastest, p.name).toBeLessThanOrEqual(0.3 * j.velocity);
      expect(Math.abs(excitationCommand(p, robot, p.duration).position[p.joint] - robot.home[p.joint])).toBeLessThan(1e-12);
    }
  });

  it('put a grasp last, close its gripper in the middle third after its reach, and leave its arm to the task', () => {
    const robot = scenario.robotConfig;
    const programs = excitationPrograms(robot, { kinds: ['grasp', 'chirp', 'gripper'], duration: 3 });
    expect(programs.map((p) => p.name).slice(-2)).toEqual(['gripper-close', 'gripper-grasp']);
    const [shut, open] = robot.gripper!.width;
    // Its reach took 1.5 s: the fingers close 1 s after it and open 1 s later.
    const grasp = { ...programs.at(-1)!, reached: 1.5 };
    expect([0.5, 2.4, 2.6, 3.4, 3.6].map((t) => gripperWidthAt(grasp, robot, t))).toEqual([open, open, shut, shut, open]);
    expect(() => excitationCommand(grasp, robot, 2)).toThrow(/replay it from its recorded commands/);
  });

  it('refuses a band given upside down and a home with no room to move', () => {
    expect(() => excitationPrograms(scenario.robotConfig, { band: [2, 1] })).toThrow(/band 2\.\.1 Hz is empty/);
    const robot = { ...scenario.robotConfig, home: scenario.robotConfig.joints.map((j) => j.position[0]) };
    expect(() => excitationPrograms(robot)).toThrow(/leaves no room to move/);
  });
});

describe('arbor identify', () => {
  it('records one trace per excitation in sim, with its program in the meta, and one MCAP that holds them all', async () => {
    const out = mkdtempSync(join(tmpdir(), 'arbor-identify-'));
    const { stdout } = await arbor(['identify', 'scenarios/pick-place.yaml', '--kinds', 'chirp,gripper', '--duration', '3', '--out', out, '--json']);
    const report = JSON.parse(stdout) as { excitations: (ExcitationProgram & { tracking_rms: number; wall_time: number })[] };
    expect(report.excitations).toHaveLength(scenario.robotConfig.joints.length + 1);
    for (const e of report.excitations) {
      expect(Number.isFinite(e.tracking_rms)).toBe(true);
      const trace = loadTrace(join(out, `${e.name}.trace`));
      const { tracking_rms: _rms, wall_time: _wall, ...program } = e;
      expect(ExcitationProgram.parse(trace.meta.excitation)).toEqual(program);
      // 3 s at the control period, plus the reset's row.
      expect(trace.topic(TOPIC.jointStates).stamps.length).toBe(Math.round(3 * scenario.episode.control_rate) + 1);
    }
    // The arm followed the chirp: the moving joint's recorded range is most of the commanded one.
    const first = report.excitations[0];
    const q = trace0Range(join(out, `${first.name}.trace`), scenario.robotConfig.joints[first.joint].name);
    expect(q).toBeGreaterThan(1.5 * first.amplitude);
    const reader = await McapIndexedReader.Initialize({ readable: fileReadable(join(out, 'identify.mcap')) });
    const channels = [...reader.channelsById.values()].map((c) => c.topic);
    expect(channels).toContain('/joint_states');
    expect(reader.metadataIndexes.length).toBe(report.excitations.length);
    expect(readdirSync(out).filter((f) => f.endsWith('.trace'))).toHaveLength(report.excitations.length);
  }, 120_000);

  it('closes on the object where the task skill of a policy that picks it reached, and says so when the fingers close on nothing', async () => {
    const out = mkdtempSync(join(tmpdir(), 'arbor-identify-grasp-'));
    const grasp = ['identify', 'scenarios/pick-place.yaml', '--kinds', 'grasp', '--duration', '3'];
    const { stdout } = await arbor([...grasp, '--policy', 'scenarios/pick-place.tuned.json', '--out', out, '--json']);
    const [e] = (JSON.parse(stdout) as { excitations: (ExcitationProgram & { tracking_rms: number; wall_time: number; problem?: string })[] }).excitations;
    const { tracking_rms: _rms, wall_time: _wall, ...program } = e;
    expect(program).toMatchObject({ name: 'gripper-grasp', kind: 'grasp', joint: -1, duration: 3 });
    expect(e.problem).toBeUndefined();
    const trace = loadTrace(join(out, 'gripper-grasp.trace'));
    expect(ExcitationProgram.parse(trace.meta.excitation)).toEqual(program);
    const period = 1 / scenario.episode.control_rate;
    expect(program.reached! / period).toBeCloseTo(Math.round(program.reached! / period), 9);
    expect(trace.topic(TOPIC.jointStates).stamps.length).toBe(Math.round((program.reached! + 3) / period) + 1);
    // Near the end of the squeeze the fingers stand on the cube (as wide as its draw) and push with
    // all the gripper has (robot.yaml's effort: the finger actuators' force range).
    const row = Math.round((program.reached! + 1.9) / period);
    const cube = 2 * (trace.meta.objectSetup as { halfSize: number }).halfSize;
    expect(Math.abs(trace.column(TOPIC.gripper, 'position')[row] - cube)).toBeLessThan(0.005);
    expect(trace.column(TOPIC.gripper, 'effort')[row]).toBeCloseTo(scenario.robotConfig.gripper!.effort, 1);

    // The scenario's default parameters grasp the cube at its top edge on seed 0: the squeeze
    // pushes it out, and identify says the recording holds no grip.
    const missed = await arbor([...grasp, '--out', mkdtempSync(join(tmpdir(), 'arbor-identify-miss-'))]);
    expect(missed.stderr).toMatch(/gripper-grasp: the fingers closed to \d+\.\d mm, on nothing/);
  }, 120_000);

  it('on a robot without a terminal, refuses to move it unless --yes; with --yes it records over rosbridge', async () => {
    const served = await startSimServe('scenarios/pick-place.yaml', ['--rosbridge', '0']);
    try {
      const backend = `rosbridge://127.0.0.1:${served.port}`;
      const out = mkdtempSync(join(tmpdir(), 'arbor-identify-robot-'));
      await expect(arbor(['identify', 'scenarios/pick-place.yaml', '--backend', backend, '--out', out])).rejects.toThrow(/run it at a terminal to confirm, or pass --yes/);
      expect(readdirSync(out)).toEqual([]);
      const { stdout } = await arbor(['identify', 'scenarios/pick-place.yaml', '--backend', backend, '--kinds', 'gripper', '--duration', '2', '--out', out, '--yes', '--json']);
      const report = JSON.parse(stdout) as { excitations: { name: string }[] };
      expect(report.excitations.map((e) => e.name)).toEqual(['gripper-close']);
      expect(loadTrace(join(out, 'gripper-close.trace')).meta.backend).toBe('rosbridge');
    } finally {
      await served.stop();
    }
  }, 120_000);
});

/** The recorded range (max − min) of one joint's position in a trace. */
function trace0Range(file: string, joint: string): number {
  const q = loadTrace(file).column(TOPIC.jointStates, `position.${joint}`);
  return Math.max(...q) - Math.min(...q);
}

/** A whole file as the reader's readable. */
function fileReadable(file: string) {
  const bytes = readFileSync(file);
  return {
    size: async () => BigInt(bytes.length),
    read: async (offset: bigint, length: bigint) => new Uint8Array(bytes.buffer, bytes.byteOffset + Number(offset), Number(length)),
  };
}
