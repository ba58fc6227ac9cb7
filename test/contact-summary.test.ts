import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy, type PolicyFile } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import type { LoadedScenario } from '../src/scenario/load.ts';
import { ContactSummary } from '../src/sim/contact-summary.ts';
import { encodeTrace } from '../src/trace/trace.ts';
import { SimLink } from '../src/robot/sim-link.ts';
import { pickPlace, scenario, tunedPolicy } from './helpers.ts';

const sc = await scenario();
const SENSOR_SLOTS = /num="16"/g;

/**
 * The scenario on a copy of its world with `edit` applied to the world's MJCF. The copy sits in a
 * temp dir that mirrors sim/ and robots/, so the world's relative <include> still resolves.
 */
function withWorld(edit: (xml: string) => string): LoadedScenario {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-contacts-'));
  mkdirSync(join(dir, 'sim'));
  mkdirSync(join(dir, 'robots', 'arm6'), { recursive: true });
  writeFileSync(join(dir, 'robots', 'arm6', 'model.xml'), readFileSync('robots/arm6/model.xml'));
  const worldPath = join(dir, 'sim', 'pick_place.xml');
  writeFileSync(worldPath, edit(readFileSync(sc.worldPath, 'utf8')));
  return { ...sc, worldPath };
}

/** The summary's classes as the sim link defines them: the robot under the tool's root body, the task object. */
function summaryOf(runner: EpisodeRunner): ContactSummary {
  const { world } = runner.link.inner as SimLink;
  const { model } = world;
  const tcpBody = (model.site_bodyid as Int32Array)[world.id('site', sc.robotConfig.tcp_site)];
  const robotRoot = (model.body_rootid as Int32Array)[tcpBody];
  return new ContactSummary(world, { robotRoot, objects: [world.id('body', pickPlace(sc).object)] });
}

const bits = (row: Float64Array) => Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString('hex');

/** Pushes the fingers into the table (deepest grasp), so the robot touches the static world too. */
function deepGrasp(): PolicyFile & { kind: 'params' } {
  const policy = tunedPolicy();
  return { ...policy, params: { ...policy.params, grasp_depth: 0.08, grasp_wait: 0.5 } };
}

let runner: EpisodeRunner;
beforeAll(async () => {
  runner = await EpisodeRunner.create(sc);
});
afterAll(() => runner.close());

describe('contact summary', () => {
  it('reads the pick-and-place world from its contact sensors', () => {
    expect(summaryOf(runner).source).toBe('sensors');
  });

  it('gives the contact list numbers bit for bit on every tick, in every pair class', async () => {
    const summary = summaryOf(runner);
    const seen = [0, 0, 0];
    let ticks = 0;
    let mismatches = 0;
    for (const [policy, seed] of [[defaultPolicy(sc), 3], [tunedPolicy(), 1001], [deepGrasp(), 7]] as const) {
      await runner.run(policy, seed, () => {
        const fast = bits(summary.read());
        const row = summary.fromContactList();
        if (fast !== bits(row)) mismatches++;
        for (let k = 0; k < 3; k++) if (row[k + 1] > 0) seen[k]++;
        ticks++;
      });
    }
    expect(mismatches).toBe(0);
    expect(ticks).toBeGreaterThan(500);
    // Every class had contacts with force on some ticks, so the comparison covered all three.
    for (const count of seen) expect(count).toBeGreaterThan(10);
  });

  it('gives the same /contacts (and the same episode) when the world lacks the sensors, or a sensor runs out of slots', async () => {
    const variants = [
      { name: 'no contact sensors', scenario: withWorld((xml) => xml.replace(/\s*<contact [^>]*\/>/g, '')), source: 'contact list' },
      { name: 'one slot per sensor', scenario: withWorld((xml) => xml.replace(SENSOR_SLOTS, 'num="1"')), source: 'sensors' },
    ];
    expect(readFileSync(sc.worldPath, 'utf8').match(SENSOR_SLOTS)).toHaveLength(3);
    const episodes = [[tunedPolicy(), 1002], [deepGrasp(), 7]] as const;
    const traces = async (r: EpisodeRunner) => {
      const out: Buffer[] = [];
      for (const [policy, seed] of episodes) out.push(Buffer.from(encodeTrace((await r.run(policy, seed)).trace)));
      return out;
    };
    const reference = await traces(runner);
    for (const variant of variants) {
      const other = await EpisodeRunner.create(variant.scenario);
      try {
        expect(summaryOf(other).source, variant.name).toBe(variant.source);
        (await traces(other)).forEach((t, i) => expect(t.equals(reference[i]), `${variant.name}, episode ${i}`).toBe(true));
      } finally {
        await other.close();
      }
    }
  });
});
