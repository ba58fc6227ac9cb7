/**
 * Researchers propose candidates and learn from their scores (ask-and-tell, like Optuna's
 * samplers). They see the parameter space and their own told results, never the store; their
 * state is plain JSON so a study can be resumed after a crash or a kill.
 */
import type { ParamSpec } from '../scenario/schema.ts';

/** One proposed candidate. */
export interface Proposal {
  /** Parameter values by name, inside the space's bounds. */
  params: Record<string, number>;
  /** Why this candidate, in a sentence. */
  rationale: string;
}

/** What the study tells a researcher about one proposal. */
export interface Told {
  /** The proposal, as proposed. */
  proposal: Proposal;
  /** Mean episode score on the generation's seeds (crashes count 0). Higher is better. */
  score: number;
}

export interface Researcher {
  /** Name stored with the study (`cmaes`, `random`, ...). */
  readonly name: string;
  /** The next generation of proposals. Called again after a restore, it proposes the same ones. */
  ask(): Proposal[];
  /** Results of the last generation asked, in the order asked. */
  tell(results: Told[]): void;
  /** JSON state from which `restore` continues exactly. */
  state(): unknown;
}

/** The parameter space as the researchers see it: names in a fixed order with bounds. */
export interface Space {
  /** Parameter names, in the scenario's order. */
  names: string[];
  /** Lower bounds, by index. */
  lower: number[];
  /** Upper bounds, by index. */
  upper: number[];
  /** Defaults (the baseline), by index. */
  defaults: number[];
}

export function spaceOf(params: Record<string, ParamSpec>): Space {
  const names = Object.keys(params);
  return {
    names,
    lower: names.map((n) => params[n].min),
    upper: names.map((n) => params[n].max),
    defaults: names.map((n) => params[n].default),
  };
}

/** Point (by index) → named parameters, rounded to 6 significant digits for readable logs. */
export function toParams(space: Space, x: readonly number[]): Record<string, number> {
  return Object.fromEntries(space.names.map((n, i) => [n, Number(x[i].toPrecision(6))]));
}

/** A one-line description of how `params` differ from the defaults, for results tables. */
export function describeChange(space: Space, params: Record<string, number>): string {
  const changed = space.names
    .map((n, i) => ({ n, from: space.defaults[i], to: params[n], span: space.upper[i] - space.lower[i] }))
    .filter((c) => Math.abs(c.to - c.from) > 0.02 * c.span)
    .sort((a, b) => Math.abs(b.to - b.from) / b.span - Math.abs(a.to - a.from) / a.span);
  if (changed.length === 0) return 'defaults';
  const shown = changed.slice(0, 3).map((c) => `${c.n} ${fmt(c.from)}→${fmt(c.to)}`);
  return changed.length > 3 ? `${shown.join(', ')} (+${changed.length - 3} more)` : shown.join(', ');
}

function fmt(v: number): string {
  return Number(v.toPrecision(3)).toString();
}
