/**
 * `arbor check`'s preflight of the scorer, as a real process on real MuJoCo: scenarios built here
 * (in a temp dir) whose scorer cannot tell a policy from none are refused, with the seed and why.
 * - A zone around where the cube starts: every episode is a success at reset.
 * - A table 3 cm below where the cube is placed, under a zone around the cube's start: the cube
 *   is falling at reset (no success yet), then lands and rests in the zone, so an arm held at home
 *   succeeds: the scorer rewards holding still.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { scenarioCopy } from './study-helpers.ts';

const run = promisify(execFile);

/** `arbor check` on a scenario: its exit code and output. */
async function check(file: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/arbor.js', 'check', file, '--workers', '2']);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The cube's start (x in 0.38..0.58, y in -0.32..-0.16), all inside one zone. */
const ZONE_AROUND_START = 'zone:\n    geom: target_zone\n    center: [0.48, -0.24]\n    half_size: [0.16, 0.14]';

function withZoneAroundStart(text: string): string {
  const edited = text.replace(/zone:\n\s+geom: target_zone\n\s+center: \[0\.45, 0\.3\]\n\s+half_size: \[0\.06, 0\.06\]/, ZONE_AROUND_START);
  expect(edited).not.toBe(text);
  return edited;
}

describe('arbor check: the preflight of the scorer', () => {
  it('refuses a scenario whose zone contains the cube at reset, naming the seed and why', async () => {
    const { file } = scenarioCopy('scenarios/pick-place.yaml', withZoneAroundStart);
    const { code, stdout, stderr } = await check(file);
    expect(code).toBe(1);
    expect(stdout).toContain(': ok ('); // the names are fine; the scorer is not
    expect(stderr).toContain("the scorer's preflight failed on 16 of 16 seeds (seeds 0..15)");
    expect(stderr).toMatch(/seed 0: the episode is already a success at reset, before the robot moves \(outcome success, score [\d.]+, place_error [\d.]+/);
    expect(stderr).toMatch(/seed 15: the episode is already a success at reset/);
    expect(stderr).toContain('a bug in the scenario');
  }, 300_000);

  it('refuses a scenario whose scorer rewards holding still, naming the seed and why', async () => {
    const { dir, file } = scenarioCopy('scenarios/pick-place.yaml', withZoneAroundStart);
    // The same world with the table top 3 cm lower: the cube, placed at z = its half size, drops onto it.
    const world = readFileSync('sim/pick_place.xml', 'utf8')
      .replace('<include file="../robots/arm6/model.xml"/>', `<include file="${resolve('robots/arm6/model.xml')}"/>`)
      .replace('<geom name="table" type="box" pos="0.4 0 -0.025"', '<geom name="table" type="box" pos="0.4 0 -0.055"');
    writeFileSync(join(dir, 'dropped_table.xml'), world);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/world: .*/, `world: ${join(dir, 'dropped_table.xml')}`));
    const { code, stderr } = await check(file);
    expect(code).toBe(1);
    expect(stderr).toMatch(/seed 0: a policy that holds the arm at home succeeds \(outcome success, score [\d.]+, place_error [\d.e-]+/);
    expect(stderr).toContain('The scorer rewards doing nothing');
    expect(stderr).not.toContain('success at reset');
  }, 300_000);
});
