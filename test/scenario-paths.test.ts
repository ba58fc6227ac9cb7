/**
 * The files a scenario and its robot.yaml name must be files: a world that is a directory or a
 * robot.yaml whose `mjcf` is missing fail `arbor check` (and every loader) with the file, line and
 * field at fault and the path they resolve to, not `EISDIR` or a silent ok.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadScenario } from '../src/scenario/load.ts';
import { ValidationError } from '../src/scenario/validate.ts';
import { writeMeshRobot, type MeshRobot } from './fixtures/mesh-robot.ts';

const run = promisify(execFile);
let root: string;
let robot: MeshRobot;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'arbor-scenario-paths-'));
  robot = writeMeshRobot(root);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** `arbor check` on a scenario (its paths; the scorer's preflight has its own tests); resolves with its exit code and output. */
async function check(scenario: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/arbor.js', 'check', scenario, '--no-preflight']);
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

function lineOf(file: string, text: string): number {
  return readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(text)) + 1;
}

describe('paths a scenario and robot.yaml name', () => {
  it('a world that is a directory names the scenario, its line, the field and the path', async () => {
    const scenario = join(root, 'world-dir.yaml');
    writeFileSync(scenario, readFileSync(robot.scenario, 'utf8').replace(/^world: .*$/m, 'world: mesh_arm'));
    const error = await loadScenario(scenario).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    const problem = (error as ValidationError).problems[0];
    expect(problem).toMatchObject({ file: scenario, path: 'world', line: lineOf(scenario, 'world:') });
    expect(problem.message).toBe(`names ${robot.dir}, which is a directory; give the MJCF world file (relative to the scenario)`);
    const { code, out } = await check(scenario);
    expect(code).toBe(1);
    expect(out).toContain(`${scenario}:${problem.line}: world: names ${robot.dir}, which is a directory`);
    expect(out).not.toMatch(/EISDIR/);
  });

  it("arbor check fails when robot.yaml's mjcf file is missing", async () => {
    const yaml = readFileSync(robot.robotYaml, 'utf8');
    writeFileSync(robot.robotYaml, yaml.replace('mjcf: arm.xml', 'mjcf: arm_v2.xml'));
    try {
      const { code, out } = await check(robot.scenario);
      expect(code).toBe(1);
      expect(out).toContain(`${robot.robotYaml}:${lineOf(robot.robotYaml, 'mjcf:')}: mjcf: names ${join(robot.dir, 'arm_v2.xml')}, which does not exist`);
    } finally {
      writeFileSync(robot.robotYaml, yaml);
    }
    expect((await check(robot.scenario)).code).toBe(0);
  });

  it('a missing robot.yaml is named from the scenario field', async () => {
    const scenario = join(root, 'no-robot.yaml');
    writeFileSync(scenario, readFileSync(robot.scenario, 'utf8').replace(/^robot: .*$/m, 'robot: robots/nope/robot.yaml'));
    mkdirSync(join(root, 'robots'), { recursive: true });
    const { code, out } = await check(scenario);
    expect(code).toBe(1);
    expect(out).toContain(`${scenario}:${lineOf(scenario, 'robot:')}: robot: names ${join(root, 'robots/nope/robot.yaml')}, which does not exist`);
  });
});
