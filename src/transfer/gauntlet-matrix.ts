/**
 * The tier × axis heatmap of a stored gauntlet: one row per tier (the nominal world first), one
 * column for the tier's own world (every axis drawn per seed), then one column per axis (that axis
 * alone at the tier's extremes). Each square is the worlds behind it, worst first, each with its
 * success, Wilson 95% interval, n, and the seeds it lost and gained against the nominal world.
 *
 * It is read from the store's records alone (the study's config holds the gauntlet's layout), so
 * the viewer draws a gauntlet whose scenario file has moved, and one still running.
 */
import { z } from 'zod';
import { mcnemarExact, wilson } from '../scoring/stats.ts';
import type { CandidateRecord, EpisodeRecord, StudyRecord } from '../store/schema.ts';
import type { Cell } from './gauntlet.ts';

/** One world of the gauntlet as its study's config records it. */
export const CellLayout = z.object({
  /** The world's label, its candidate's description after `gauntlet: `. */
  label: z.string(),
  /** The tier (tier worlds). */
  tier: z.string().optional(),
  /** The axis moved alone (one-axis worlds). */
  axis: z.string().optional(),
  /** The tiers whose extreme the one-axis value is. */
  extremeOf: z.array(z.string()).optional(),
});
export type CellLayout = z.infer<typeof CellLayout>;

/** The part of a gauntlet study's config the heatmap reads (older gauntlets recorded no `cells`). */
const GauntletConfig = z.object({
  gauntlet: z.object({
    tiers: z.array(z.string()).catch([]),
    cells: z.array(CellLayout).optional(),
    source: z.object({ study: z.string(), candidate: z.number() }).nullable().optional(),
  }),
});

/** A world's layout record, as `GauntletRecord` stores it in the study's config. */
export function cellLayout(cell: Cell): CellLayout {
  return { label: cell.label, tier: cell.tier, axis: cell.axis, extremeOf: cell.extremeOf };
}

/** One world of a heatmap square. */
export interface HeatCell {
  /** Its label: `nominal`, `T2`, `arm_kp=0.6`. */
  label: string;
  /** Its candidate (the viewer lists its episodes). */
  candidate: number;
  /** Episodes so far. */
  n: number;
  /** Successful episodes. */
  successes: number;
  /** successes / n (0 with no episodes). */
  successRate: number;
  /** Wilson 95% interval of the success rate ([0, 1] with no episodes). */
  interval: [number, number];
  /** Seeds that succeeded in the nominal world and failed here. */
  lost: number[];
  /** Seeds that failed in the nominal world and succeeded here. */
  gained: number[];
  /** McNemar's exact two-sided p of the paired difference to nominal. */
  p: number;
}

/** One row: a tier. */
export interface HeatRow {
  /** The tier, or `nominal` for the first row. */
  tier: string;
  /** One square per column: the worlds behind it, worst first; empty where nothing ran. */
  cells: HeatCell[][];
}

/** What `/api/studies/ID/gauntlet` serves. */
export interface GauntletMatrix {
  /** The gauntlet's study id. */
  study: string;
  /** Scenario name. */
  scenario: string;
  /** `running`, `done`, ... */
  status: string;
  /** The seeds of the nominal world's episodes so far (every world runs the same). */
  seeds: number[];
  /** The stored study whose best candidate it ran (`arbor gauntlet --study`), else null. */
  source: { study: string; candidate: number } | null;
  /** Column headings: `all axes`, then each axis in the scenario's order. */
  columns: string[];
  /** The nominal row, then each tier, widening. */
  rows: HeatRow[];
}

/** The heading of the tier's own world's column. */
export const ALL_AXES = 'all axes';

/** Whether a study is a gauntlet (what `arbor gauntlet` stores). */
export function isGauntlet(study: Pick<StudyRecord, 'researcher'>): boolean {
  return study.researcher === 'gauntlet';
}

/** The stored study whose best a gauntlet study ran (`arbor gauntlet --study`); null for other studies. */
export function gauntletSource(study: StudyRecord): { study: string; candidate: number } | null {
  return (isGauntlet(study) && GauntletConfig.safeParse(study.config).data?.gauntlet.source) || null;
}

/** The stored gauntlet of `study` as a tier × axis matrix; throws when the study is not one. */
export function gauntletMatrix(study: StudyRecord, candidates: readonly CandidateRecord[], episodes: readonly EpisodeRecord[]): GauntletMatrix {
  const config = GauntletConfig.safeParse(study.config);
  if (!isGauntlet(study) || !config.success) throw new Error(`Study ${study.id} is not a gauntlet (its researcher is ${study.researcher}); arbor gauntlet SCENARIO --study ${study.id} runs one on its best candidate.`);
  const { tiers, cells: layout, source } = config.data.gauntlet;
  const byLabel = new Map(candidates.map((c) => [c.description.replace(/^gauntlet: /, ''), c]));
  const worlds = layout ?? candidates.map((c) => guessLayout(c.description.replace(/^gauntlet: /, ''), tiers));
  const outcomes = (candidate: number) => new Map(episodes.filter((e) => e.candidateId === candidate).map((e) => [e.seed, e.status === 'ok' && e.success]));
  const nominalCandidate = byLabel.get('nominal');
  if (!nominalCandidate) throw new Error(`Gauntlet ${study.id} has no nominal world to compare its worlds with.`);
  const nominal = outcomes(nominalCandidate.id);
  const heat = (world: CellLayout): HeatCell | undefined => {
    const candidate = byLabel.get(world.label);
    return candidate && heatCell(world.label, candidate.id, outcomes(candidate.id), nominal);
  };

  const axes = [...new Set(worlds.flatMap((w) => (w.axis ? [w.axis] : [])))];
  const rowTiers = [...new Set(worlds.flatMap((w) => [...(w.tier ? [w.tier] : []), ...(w.extremeOf ?? [])]))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const rows: HeatRow[] = [{ tier: 'nominal', cells: [[heat({ label: 'nominal' })!], ...axes.map(() => [])] }];
  for (const tier of rowTiers) {
    const own = worlds.filter((w) => w.tier === tier).flatMap((w) => heat(w) ?? []);
    const sweeps = axes.map((axis) => worstFirst(worlds.filter((w) => w.axis === axis && w.extremeOf?.includes(tier)).flatMap((w) => heat(w) ?? [])));
    rows.push({ tier, cells: [own, ...sweeps] });
  }
  return {
    study: study.id, scenario: study.scenarioName, status: study.status, seeds: [...nominal.keys()].sort((a, b) => a - b),
    source: source ?? null, columns: [ALL_AXES, ...axes], rows,
  };
}

/** A world's success on its seeds, paired with the nominal world's. */
function heatCell(label: string, candidate: number, own: ReadonlyMap<number, boolean>, nominal: ReadonlyMap<number, boolean>): HeatCell {
  const n = own.size;
  const successes = [...own.values()].filter(Boolean).length;
  const lost: number[] = [];
  const gained: number[] = [];
  for (const [seed, ok] of own) {
    const before = nominal.get(seed);
    if (before === true && !ok) lost.push(seed);
    if (before === false && ok) gained.push(seed);
  }
  const { low, high } = wilson(successes, n);
  return { label, candidate, n, successes, successRate: n ? successes / n : 0, interval: [low, high], lost: lost.sort((a, b) => a - b), gained: gained.sort((a, b) => a - b), p: mcnemarExact(lost.length, gained.length) };
}

/** The worlds of a square, the one that costs most first. */
function worstFirst(cells: HeatCell[]): HeatCell[] {
  return cells.sort((a, b) => a.successRate - b.successRate || b.lost.length - a.lost.length);
}

/**
 * The layout of a world of a gauntlet stored before gauntlets recorded theirs: a tier by its
 * label, an axis value `name=value` swept (as they all were) at the widest tier, the last of
 * those it ran unless `--tiers` left that out.
 */
function guessLayout(label: string, tiers: readonly string[]): CellLayout {
  if (tiers.includes(label)) return { label, tier: label };
  const axis = /^([^=,]+)=[^,]+$/.exec(label)?.[1];
  return axis && tiers.length ? { label, axis, extremeOf: [tiers.at(-1)!] } : { label };
}
