/**
 * The gauntlet with real episodes in real worker threads and a real SQLite file: every world runs
 * the same seeds, each tier's seed draws its own world deterministically, the one-axis sweep
 * blames the axis that breaks the policy and prints a command that replays it, and every episode
 * is stored with its perturbation in the trace meta. The statistics are checked on known counts.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { Perturbations } from '../src/scenario/perturbation.ts';
import { Store } from '../src/store/store.ts';
import { drawValues } from '../src/scenario/perturbation-draw.ts';
import { gauntletCells, gauntletReport, parseTiers, runGauntlet } from '../src/transfer/gauntlet.ts';
import { GauntletRecord } from '../src/transfer/gauntlet-store.ts';
import { gauntletMatrix } from '../src/transfer/gauntlet-matrix.ts';
import { wilson } from '../src/scoring/stats.ts';
import { ViewerData } from '../src/viewer/data.ts';
import { scenario, tunedPolicy } from './helpers.ts';

const sc = await scenario();
const run = promisify(execFile);
// arm_kp at 0.6 breaks the tuned policy on seed 1003 (and not 1002); a heavier cube does not.
const block = Perturbations.parse({
  axes: {
    arm_kp: { kind: 'kp', scale: [0.6, 1.4] },
    cube_mass: { kind: 'object_mass', scale: [1, 3] },
    command_delay: { kind: 'command_delay', ticks: [0, 2] },
  },
  tiers: { T0: 0, T2: 0.5, T4: 1 },
});

describe('the tiers and sweeps', () => {
  it('are the nominal world, each tier, then each axis alone at the extremes that move it', () => {
    const cells = gauntletCells(block, parseTiers(block, 'T2..T4'), ['T4']);
    expect(cells.map((c) => c.label)).toEqual(['nominal', 'T2', 'T4', 'arm_kp=0.6', 'arm_kp=1.4', 'cube_mass=3', 'command_delay=2']);
    expect(() => parseTiers(block, 'T1..T4')).toThrow(/tiers are T0, T2, T4/);
    expect(() => parseTiers(block, 'T1..T4', '--sweep-tiers')).toThrow(/^--sweep-tiers T1..T4: /);
  });

  it('sweep each axis at several tiers, a delay in whole ticks, a value two tiers share once', () => {
    const wide = Perturbations.parse({ axes: { arm_kp: block.axes.arm_kp, command_delay: block.axes.command_delay }, tiers: { T0: 0, T1: 0.25, T3: 0.75, T4: 1 } });
    const cells = gauntletCells(wide, [], ['T1', 'T3', 'T4']);
    expect(cells.map((c) => [c.label, c.extremeOf])).toEqual([
      ['nominal', undefined],
      ['arm_kp=0.9', ['T1']], ['arm_kp=1.1', ['T1']], ['arm_kp=0.7', ['T3']], ['arm_kp=1.3', ['T3']], ['arm_kp=0.6', ['T4']], ['arm_kp=1.4', ['T4']],
      // 2 ticks × 0.25 rounds to 1 (a drawn delay is whole ticks too), 2 × 0.75 to 2, which T4 shares.
      ['command_delay=1', ['T1']], ['command_delay=2', ['T3', 'T4']],
    ]);
  });

  it('run paired on the same seeds, store every episode with its world, blame the axis that breaks the policy, and read back as a tier × axis matrix', async () => {
    const seeds = [1002, 1003];
    const cells = gauntletCells(block, ['T2', 'T4'], ['T2', 'T4']);
    const store = Store.open(join(mkdtempSync(join(tmpdir(), 'arbor-gauntlet-')), 'g.db'));
    const pool = await EvaluatorPool.create(sc.file, { workers: 2, jobs: seeds.length });
    try {
      const record = GauntletRecord.create(store, sc, tunedPolicy(), cells, { seeds });
      const outcomes = await runGauntlet(tunedPolicy(), cells, seeds, pool, (cell, r) => record.record(cell, r));
      const report = gauntletReport({ ...sc, perturbations: block }, cells, seeds, outcomes, { scenarioArg: 'scenarios/pick-place.yaml', policyArg: 'tuned.json' });
      record.finish(report);

      expect(report.nominal).toMatchObject({ n: 2, successes: 2 });
      const kp = report.axes.find((a) => a.axis === 'arm_kp')!;
      expect(report.axes[0]).toBe(kp); // the most sensitive first
      expect(kp.sensitivity).toBe(0.5);
      expect(kp.extremes.map((e) => [e.label, e.tiers])).toEqual([['arm_kp=0.8', ['T2']], ['arm_kp=1.2', ['T2']], ['arm_kp=0.6', ['T4']], ['arm_kp=1.4', ['T4']]]);
      const kpLow = kp.extremes[2];
      expect(kpLow).toMatchObject({
        label: 'arm_kp=0.6', value: 0.6, successes: 1, lost: 1, gained: 0, p: 1, difference: -0.5,
        first_failure: { seed: 1003, replay: "arbor episode scenarios/pick-place.yaml --seed 1003 --policy tuned.json --perturb 'arm_kp=0.6'" },
      });
      expect(kpLow.interval[0]).toBeCloseTo(wilson(1, 2).low, 12);

      // Stored like any episodes: every world on both seeds, each trace saying which world it ran in.
      const episodes = store.episodes({ studyId: record.studyId });
      expect(episodes).toHaveLength(cells.length * seeds.length);
      const candidates = store.candidates(record.studyId);
      for (const [i, cell] of cells.entries()) {
        const own = episodes.filter((e) => e.candidateId === candidates[i].id);
        expect(own.map((e) => e.seed).sort()).toEqual(seeds);
        for (const e of own) {
          const world = cell.world(e.seed);
          expect(store.loadEpisodeTrace(e).meta.perturbation).toEqual(world.length ? world : undefined);
        }
      }
      // A tier's seed draws its own world, the same one every time.
      const t4 = own(cells, 'T4');
      expect(t4.world(1002)).toEqual(drawValues(block, 1, 1002));
      expect(t4.world(1002)).not.toEqual(t4.world(1003));
      expect(store.study(record.studyId)).toMatchObject({ status: 'done', stopReason: 'every world ran on every seed' });
      expect(candidates.map((c) => store.candidate(c.id)!.status)).toEqual(cells.map(() => 'keep'));
      expect(candidates.map((c) => store.candidate(c.id)!).find((c) => c.description === 'gauntlet: arm_kp=0.6')).toMatchObject({ successRate: 0.5, nEpisodes: 2 });

      // The heatmap, read back from the SQLite file alone: rows are tiers, columns the tier's own
      // world then each axis alone at that tier's extremes, each square its worlds worst first.
      const reopened = Store.open(store.path, { readonly: true });
      const matrix = gauntletMatrix(reopened.study(record.studyId)!, reopened.candidates(record.studyId), reopened.episodes({ studyId: record.studyId }));
      reopened.close();
      expect(matrix.columns).toEqual(['all axes', 'arm_kp', 'cube_mass', 'command_delay']);
      expect(matrix.rows.map((r) => r.tier)).toEqual(['nominal', 'T2', 'T4']);
      expect(matrix.seeds).toEqual(seeds);
      const square = (tier: string, column: string) => matrix.rows.find((r) => r.tier === tier)!.cells[matrix.columns.indexOf(column)];
      expect(square('nominal', 'all axes').map((c) => c.label)).toEqual(['nominal']);
      expect(square('nominal', 'arm_kp')).toEqual([]);
      expect(square('T2', 'arm_kp').map((c) => c.label).sort()).toEqual(['arm_kp=0.8', 'arm_kp=1.2']);
      expect(square('T2', 'cube_mass').map((c) => c.label)).toEqual(['cube_mass=2']);
      expect(square('T4', 'arm_kp')[0]).toMatchObject({ label: 'arm_kp=0.6', n: 2, successes: 1, successRate: 0.5, lost: [1003], gained: [], p: 1 });
      expect(square('T4', 'arm_kp')[0].interval).toEqual(kpLow.interval);
      // Every square agrees with the report the run printed, world by world.
      const reported = new Map([report.nominal, ...report.tiers, ...report.axes.flatMap((a) => a.extremes)].map((c) => [c.label, c]));
      for (const c of matrix.rows.flatMap((r) => r.cells.flat())) {
        const r = reported.get(c.label)!;
        expect([c.n, c.successes, c.lost.length, c.gained.length, c.p, c.interval], c.label).toEqual([r.n, r.successes, r.lost, r.gained, r.p, r.interval]);
      }
      expect(() => gauntletMatrix({ ...store.study(record.studyId)!, researcher: 'cmaes' }, [], [])).toThrow(/is not a gauntlet/);
      // A gauntlet stored before the layout was recorded: its tiers by label, its sweeps (then
      // always at the widest tier) under the last of its tiers.
      const older = gauntletMatrix({ ...store.study(record.studyId)!, config: { gauntlet: { tiers: ['T2', 'T4'], seeds } } }, store.candidates(record.studyId), store.episodes({ studyId: record.studyId }));
      expect(older.rows.map((r) => [r.tier, r.cells.map((sq) => sq.length)])).toEqual([['nominal', [1, 0, 0, 0]], ['T2', [1, 0, 0, 0]], ['T4', [1, 4, 2, 2]]]);
      expect(older.rows[2].cells[1][0].label).toBe('arm_kp=0.6');
    } finally {
      await pool.close();
      store.close();
    }
  });
});

describe('arbor gauntlet --study', () => {
  it("runs a stored study's best and records where it came from", async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'arbor-gauntlet-cli-')), 'g.db');
    const store = Store.open(db);
    const study = store.createStudy({ scenarioPath: sc.file, scenarioName: sc.name, researcher: 'random', config: {} });
    const best = store.addCandidate(study.id, { generation: 0, parentId: null, kind: 'params', body: tunedPolicy(), rationale: 'tuned', description: 'tuned' });
    store.close();
    const arbor = (args: string[]) => run(process.execPath, ['bin/arbor.js', 'gauntlet', 'scenarios/pick-place.yaml', '--db', db, ...args]);
    // The nominal world alone, one seed: what is tested here is where the policy comes from.
    const { stdout } = await arbor(['--study', study.id, '--tiers', 'T0', '--no-sweeps', '--seeds', '1002..1002', '--workers', '1', '--json']);
    const out = JSON.parse(stdout);
    expect(out.nominal).toMatchObject({ n: 1, successes: 1 });
    const reopened = Store.open(db, { readonly: true });
    const config = reopened.study(out.study)!.config as { gauntlet: { source: unknown; cells: unknown } };
    reopened.close();
    expect(config.gauntlet.source).toEqual({ study: study.id, candidate: best.id });
    expect(config.gauntlet.cells).toEqual([{ label: 'nominal' }]);

    const both = await arbor(['--study', study.id, '--policy', 'scenarios/pick-place.tuned.json']).catch((e: { stderr: string }) => e);
    expect(both.stderr).toMatch(/Give --policy FILE or --study ID, not both/);
  }, 60_000);
});

describe('arbor gauntlet --json', () => {
  it("carries the tier × axis matrix the viewer's heatmap shows, the same as the stored gauntlet's", async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'arbor-gauntlet-json-')), 'g.db');
    // The shipped block (17 axes) at T1 and T2, each axis alone at T2's extremes: every kind of square.
    const { stdout } = await run(process.execPath, [
      'bin/arbor.js', 'gauntlet', 'scenarios/pick-place.yaml', '--policy', 'scenarios/pick-place.tuned.json', '--db', db,
      '--tiers', 'T0..T2', '--sweep-tiers', 'T2', '--seeds', '1002..1003', '--workers', '2', '--json',
    ], { maxBuffer: 64 << 20 });
    const out = JSON.parse(stdout);
    const data = new ViewerData(db);
    try {
      // What /api/studies/ID/gauntlet serves for the stored study, key for key.
      expect(out.matrix).toEqual(data.gauntlet(out.study));
    } finally {
      await data.close();
    }
    const { matrix } = out;
    expect(matrix).toMatchObject({ study: out.study, status: 'done', seeds: [1002, 1003], source: null });
    expect(matrix.rows.map((r: { tier: string }) => r.tier)).toEqual(['nominal', 'T1', 'T2']);
    expect(matrix.columns).toEqual(['all axes', ...Object.keys(sc.perturbations!.axes)]);
    // Every world of the report stands in one square, with the report's figures.
    const reported = new Map([out.nominal, ...out.tiers, ...out.axes.flatMap((a: { extremes: unknown[] }) => a.extremes)].map((c) => [c.label, c]));
    const squares = matrix.rows.flatMap((r: { cells: { label: string; n: number; successes: number }[][] }) => r.cells.flat());
    expect(squares.map((c: { label: string }) => c.label).sort()).toEqual([...reported.keys()].sort());
    for (const c of squares) expect([c.n, c.successes], c.label).toEqual([reported.get(c.label).n, reported.get(c.label).successes]);
  }, 180_000);
});

function own<T extends { label: string }>(cells: readonly T[], label: string): T {
  return cells.find((c) => c.label === label)!;
}
