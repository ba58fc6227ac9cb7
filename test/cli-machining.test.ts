/**
 * The arbor command on both machining scenarios, as real processes: check, episode (with its
 * pictures saved), eval, and a small study run to its validation figure.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { scenarioCopy } from './study-helpers.ts';

const run = promisify(execFile);
const arbor = (args: string[]) => run(process.execPath, ['bin/arbor.js', ...args], { maxBuffer: 1 << 24 });

describe.each(['machining-edge', 'machining-contour'])('arbor on %s', (name) => {
  const scenario = `scenarios/${name}.yaml`;
  const tuned = `scenarios/${name}.tuned.json`;

  it('checks the scenario, runs an episode and saves its pictures, and evaluates the tuned policy', async () => {
    const checked = (await arbor(['check', scenario, '--workers', '2'])).stdout;
    expect(checked).toContain(`${scenario}: ok (${name}: task machining, robot arm6-spindle, 14 parameters)`);
    expect(checked).toMatch(/preflight: ok/);
    const { dir } = scenarioCopy(scenario, (text) => text);
    const pictures = join(dir, 'pictures');
    const episode = await arbor(['episode', scenario, '--seed', '1002', '--policy', tuned, '--json', '--images', pictures]);
    const out = JSON.parse(episode.stdout);
    expect([out.success, out.outcome, out.metrics.state_success, out.metrics.vision_success]).toEqual([true, 'success', true, true]);
    expect(readdirSync(pictures).sort()).toEqual(['camera-front-rgb-0.png', 'camera-front-rgb-1.png', 'machining-contact_map-0.png', 'machining-target_path-0.png', 'vision-contact_follows_path.png']);
    const evaluated = JSON.parse((await arbor(['eval', scenario, '--seeds', '1000..1003', '--policy', tuned, '--workers', '2', '--json'])).stdout);
    expect(evaluated.success_rate).toBe(1);
    expect(evaluated.n).toBe(4);
  }, 300_000);

  it('runs a small study to its validation figure', async () => {
    const { dir, file } = scenarioCopy(scenario, (text) => text.replace(/^budget:[\s\S]*$/m, 'budget:\n  candidates: 4\n  seeds_per_candidate: 2\n  wall_time: 600\n  validation_seeds: { from: 1000, count: 2 }\n'));
    const db = join(dir, 'arbor.db');
    const { stdout } = await arbor(['run', file, '--db', db, '--workers', '2']);
    expect(stdout).toMatch(/^validation: +success \d+\.\d% \[\d+\.\d–\d+\.\d%\] n=2, score \d\.\d{3} on seeds 1000\.\.1001$/m);
    expect(stdout).toMatch(/^stopped_by: +budget-candidates/m);
    expect(existsSync(db)).toBe(true);
  }, 180_000);
});
