/**
 * Drawing the world of one seed from a perturbation block: every axis gets one value, at a tier
 * (a fraction of its widest range), deterministically by seed. The draw of a seed uses the same
 * uniform number per axis at every tier (common random numbers), so a seed's T1 world is its T4
 * world shrunk toward the nominal one, and tiers compare paired.
 */
import { existsSync } from 'node:fs';
import { loadPerturbationFile } from './load.ts';
import type { LoadedScenario } from './load.ts';
import { axisRange, nominalValue, type Axis, type AxisValue, type Perturbations } from './perturbation.ts';
import { Rng } from './rng.ts';

/** A stream of its own, so perturbing a world leaves the task's draws of the same seed as they were. */
const PERTURB_STREAM = 0x7e12_b0a5;

/** The range of `axis` at `fraction` of its widest one: nominal at 0, all of it at 1. */
export function rangeAt(axis: Axis, fraction: number): [number, number] {
  const nominal = nominalValue(axis);
  const [lo, hi] = axisRange(axis);
  return [nominal + fraction * (lo - nominal), nominal + fraction * (hi - nominal)];
}

/**
 * The values of seed `seed` at `fraction` of every range. Axes left at their nominal value are
 * left out: a T0 world is exactly the nominal one (its episodes bit for bit those of no perturbation).
 */
export function drawValues(block: Perturbations, fraction: number, seed: number): AxisValue[] {
  const rng = new Rng((seed ^ PERTURB_STREAM) >>> 0);
  const out: AxisValue[] = [];
  // Names in a fixed order, so adding an axis to a block keeps the draws of the others only if
  // it is added last; the order of the file is that order.
  for (const [name, axis] of Object.entries(block.axes)) {
    const u = rng.next();
    const [lo, hi] = rangeAt(axis, fraction);
    let value = lo + u * (hi - lo);
    if (axis.kind === 'command_delay' || axis.kind === 'observation_delay') value = Math.round(value);
    if (value !== nominalValue(axis)) out.push({ name, axis, value });
  }
  return out;
}

/** The fraction of tier `tier`; throws naming the tiers there are. */
export function tierFraction(block: Perturbations, tier: string): number {
  if (!Object.hasOwn(block.tiers, tier)) throw new Error(`There is no tier '${tier}'; the tiers are ${Object.keys(block.tiers).join(', ')}.`);
  return block.tiers[tier];
}

/** The widest tier (the last, the one whose fraction is largest). */
export function widestTier(block: Perturbations): string {
  const names = Object.keys(block.tiers);
  return names[names.length - 1];
}

/**
 * Fixed values as a `--perturb` argument: `name=value,name=value` (axes of the scenario's block),
 * each number in full so the replay is the same world, bit for bit.
 */
export function formatInline(values: readonly AxisValue[]): string {
  return values.map((v) => `${v.name}=${v.value}`).join(',');
}

/** Where each episode's perturbation comes from: a seed gives its world. */
export type PerturbSource = (seed: number) => AxisValue[];

/**
 * What `--perturb` names: a perturbation file (each seed draws its world from the file's widest
 * tier; an axis fixed to one value is that value), or `name=value,...` fixing axes of the
 * scenario's `perturbations:` block (what the gauntlet's replay commands print).
 */
export function perturbSource(arg: string, scenario: LoadedScenario): PerturbSource {
  if (existsSync(arg)) {
    const block = loadPerturbationFile(arg, scenario.robotConfig);
    const fraction = block.tiers[widestTier(block)];
    return (seed) => drawValues(block, fraction, seed);
  }
  const values = parseInline(arg, scenario);
  return () => values;
}

/** Parses `name=value,...` against the scenario's axes; throws naming the problem and the fix. */
function parseInline(arg: string, scenario: LoadedScenario): AxisValue[] {
  const axes = scenario.perturbations?.axes ?? {};
  const known = Object.keys(axes).join(', ') || 'none: the scenario has no perturbations: block';
  if (!/=/.test(arg)) throw new Error(`--perturb '${arg}' is neither a file nor name=value pairs; give a perturbation file, or fix axes of the scenario's perturbations: block (${known}).`);
  return arg.split(',').map((pair) => {
    const [name, text] = pair.split('=').map((p) => p.trim());
    if (!Object.hasOwn(axes, name)) throw new Error(`--perturb: '${name}' is not an axis of ${scenario.file}; its axes are ${known}.`);
    const value = Number(text);
    const axis = axes[name];
    if (text === '' || !Number.isFinite(value)) throw new Error(`--perturb: ${name}=${text} needs a number.`);
    if ('scale' in axis && !(value > 0)) throw new Error(`--perturb: ${name}=${text} is a scale and must be greater than 0.`);
    if ('ticks' in axis && !(Number.isInteger(value) && value >= 0)) throw new Error(`--perturb: ${name}=${text} is a delay in control ticks: a whole number, 0 or more.`);
    if ('std' in axis && !(value >= 0)) throw new Error(`--perturb: ${name}=${text} is a noise's standard deviation and cannot be negative.`);
    return { name, axis, value };
  });
}
