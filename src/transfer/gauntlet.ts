/**
 * The gauntlet: one policy through the scenario's perturbation tiers and one-axis sweeps, every
 * world on the same seeds (common random numbers), so each tier and each axis is compared with
 * the nominal world seed by seed. It reports success with Wilson 95% intervals, the paired
 * difference to the nominal world with McNemar's exact p, how much each axis alone costs, and a
 * command that replays the first failure each axis caused.
 *
 * No claim here rests on one seed, on the nominal world alone, or on unpaired runs.
 */
import type { EpisodeResult, Evaluator } from '../evaluation/evaluator.ts';
import type { PolicyFile } from '../policy/file.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { nominalValue, type AxisValue, type Perturbations } from '../scenario/perturbation.ts';
import { drawValues, formatInline, rangeAt, tierFraction } from '../scenario/perturbation-draw.ts';
import { mcnemarExact, wilson } from '../scoring/stats.ts';

/** One world condition of a gauntlet: a tier, or one axis at one extreme. */
export interface Cell {
  /** How it is printed: `T2`, `cube_mass=2`. */
  label: string;
  /** The tier (tier cells). */
  tier?: string;
  /** The axis moved alone (sweep cells). */
  axis?: string;
  /** The tiers whose extreme this one-axis value is (sweep cells; several when tiers share it, e.g. a delay rounded to whole ticks). */
  extremeOf?: string[];
  /** The world of a seed. */
  world: (seed: number) => AxisValue[];
}

/** What a gauntlet reports of one cell (snake case: printed as JSON). */
export interface CellReport {
  /** The cell's label. */
  label: string;
  /** Episodes. */
  n: number;
  /** Successful episodes. */
  successes: number;
  /** successes / n. */
  success_rate: number;
  /** Wilson 95% interval of the success rate. */
  interval: [number, number];
  /** Success rate minus the nominal world's, seed by seed. */
  difference: number;
  /** Seeds that succeeded nominally and failed here. */
  lost: number;
  /** Seeds that failed nominally and succeeded here. */
  gained: number;
  /** McNemar's exact two-sided p of the paired difference. */
  p: number;
  /** The first seed that failed here (one that succeeded nominally, if any), as a command that replays it. */
  first_failure?: { seed: number; replay: string };
}

/** One axis of the sweep: its extremes at each swept tier, and what moving it alone costs. */
export interface AxisReport {
  /** The axis's name. */
  axis: string;
  /** Its kind. */
  kind: string;
  /** Its extremes (those that differ from nominal) at each swept tier, each a cell, with the tiers it is the extreme of. */
  extremes: (CellReport & { value: number; tiers: string[] })[];
  /** The largest success drop when only this axis moves (0 when it costs nothing). */
  sensitivity: number;
}

/** A gauntlet's findings. */
export interface GauntletReport {
  /** Scenario name. */
  scenario: string;
  /** The seeds every cell ran. */
  seeds: number[];
  /** The nominal world (T0), every other cell's pair. */
  nominal: CellReport;
  /** Each tier asked for, widening. */
  tiers: (CellReport & { tier: string; fraction: number })[];
  /** Each axis moved alone, most sensitive first. */
  axes: AxisReport[];
}

/** How to say a replay command. */
export interface ReplayContext {
  /** The scenario as the user named it. */
  scenarioArg: string;
  /** The policy file as the user named it (absent: the scenario defaults). */
  policyArg?: string;
}

/** The tiers a `--tiers` (or `--sweep-tiers`, `flag`) argument names: `T1..T3` (in the block's order) or `T0,T4`. */
export function parseTiers(block: Perturbations, text: string, flag = '--tiers'): string[] {
  const names = Object.keys(block.tiers);
  const range = /^(T\d)\.\.(T\d)$/.exec(text.trim());
  const picked = range ? names.slice(names.indexOf(range[1]), names.indexOf(range[2]) + 1) : text.split(',').map((t) => t.trim());
  if (range && (!names.includes(range[1]) || !names.includes(range[2]) || picked.length === 0)) {
    throw new Error(`${flag} ${text}: the scenario's tiers are ${names.join(', ')}; write e.g. ${names[0]}..${names.at(-1)}.`);
  }
  for (const t of picked) tierFraction(block, t);
  return picked;
}

/**
 * The cells of a gauntlet: the nominal world, each tier, then each axis alone at each extreme of
 * each tier of `sweepTiers` (none: no sweeps). A delay's extreme is rounded to whole ticks, as a
 * drawn one is (and as a replay command must give it); a value two tiers share is one cell.
 */
export function gauntletCells(block: Perturbations, tiers: readonly string[], sweepTiers: readonly string[]): Cell[] {
  const cells: Cell[] = [{ label: 'nominal', world: () => [] }];
  for (const tier of tiers) {
    const fraction = tierFraction(block, tier);
    cells.push({ label: tier, tier, world: (seed) => drawValues(block, fraction, seed) });
  }
  for (const [name, axis] of Object.entries(block.axes)) {
    const sweeps = new Map<string, Cell>();
    for (const tier of sweepTiers) {
      const ticks = axis.kind === 'command_delay' || axis.kind === 'observation_delay';
      // 12 digits: a tier's extreme as a person writes it (1.3, not 1.2999999999999998), in the label and the world alike.
      const extremes = rangeAt(axis, tierFraction(block, tier)).map((v) => (ticks ? Math.round(v) : Number(v.toPrecision(12))));
      for (const value of new Set(extremes)) {
        if (value === nominalValue(axis)) continue;
        const values: AxisValue[] = [{ name, axis, value }];
        const label = formatInline(values);
        const known = sweeps.get(label);
        if (known) known.extremeOf!.push(tier);
        else sweeps.set(label, { label, axis: name, extremeOf: [tier], world: () => values });
      }
    }
    cells.push(...sweeps.values());
  }
  return cells;
}

/**
 * Runs `policy` through every cell on `seeds` with `evaluator`, one cell at a time (only one
 * cell's traces are held at once); `onResult` sees each episode with its cell (to store it, to
 * show progress).
 */
export async function runGauntlet(
  policy: PolicyFile,
  cells: readonly Cell[],
  seeds: readonly number[],
  evaluator: Evaluator,
  onResult: (cell: number, result: EpisodeResult) => void = () => undefined,
): Promise<boolean[][]> {
  const outcomes: boolean[][] = [];
  for (const [index, cell] of cells.entries()) {
    const jobs = seeds.map((seed) => ({ policy, seed, perturbation: cell.world(seed) }));
    const results = await evaluator.evaluate(jobs, (r) => onResult(index, r));
    outcomes.push(results.map((r) => r.ok && r.success));
  }
  return outcomes;
}

/** The report of a gauntlet's outcomes (`outcomes[cell][seed index]`, cells as `gauntletCells` made them). */
export function gauntletReport(scenario: LoadedScenario, cells: readonly Cell[], seeds: readonly number[], outcomes: readonly boolean[][], replay: ReplayContext): GauntletReport {
  const block = scenario.perturbations!;
  const nominal = outcomes[0];
  const cellReport = (i: number): CellReport => summarize(cells[i], seeds, outcomes[i], nominal, replay);
  const tiers = cells.flatMap((c, i) => (c.tier ? [{ ...cellReport(i), tier: c.tier, fraction: block.tiers[c.tier] }] : []));
  const axes = Object.entries(block.axes).map(([name, axis]): AxisReport => {
    const extremes = cells.flatMap((c, i) => (c.axis === name ? [{ ...cellReport(i), value: c.world(0)[0].value, tiers: c.extremeOf ?? [] }] : []));
    return { axis: name, kind: axis.kind, extremes, sensitivity: Math.max(0, ...extremes.map((e) => -e.difference)) };
  });
  axes.sort((a, b) => b.sensitivity - a.sensitivity);
  return { scenario: scenario.name, seeds: [...seeds], nominal: cellReport(0), tiers, axes };
}

function summarize(cell: Cell, seeds: readonly number[], own: readonly boolean[], nominal: readonly boolean[], replay: ReplayContext): CellReport {
  const n = own.length;
  const successes = own.filter(Boolean).length;
  let lost = 0;
  let gained = 0;
  own.forEach((ok, i) => {
    if (nominal[i] && !ok) lost++;
    if (!nominal[i] && ok) gained++;
  });
  // The failure this cell caused (nominal succeeded) says most; any failure otherwise.
  const failed = own.findIndex((ok, i) => !ok && nominal[i]);
  const index = failed >= 0 ? failed : own.findIndex((ok) => !ok);
  const { low, high } = wilson(successes, n);
  const report: CellReport = {
    label: cell.label, n, successes, success_rate: n ? successes / n : 0, interval: [low, high],
    difference: n ? (gained - lost) / n : 0, lost, gained, p: mcnemarExact(lost, gained),
  };
  if (index >= 0) report.first_failure = { seed: seeds[index], replay: replayCommand(replay, seeds[index], cell.world(seeds[index])) };
  return report;
}

/** The `arbor episode` command that replays seed `seed` in world `values`. */
function replayCommand(replay: ReplayContext, seed: number, values: readonly AxisValue[]): string {
  const policy = replay.policyArg ? ` --policy ${replay.policyArg}` : '';
  const perturb = values.length ? ` --perturb '${formatInline(values)}'` : '';
  return `arbor episode ${replay.scenarioArg} --seed ${seed}${policy}${perturb}`;
}
