/**
 * Policies: what turns observations into actions. A policy file is JSON, one of the kinds
 * (`{"kind": "params", "params": {...}}` tunes the scenario's controller), validated against the
 * scenario where it enters arbor: a file, a researcher's proposal, a stored candidate.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Action, Observation } from '../robot/link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { ValidationError, type Problem } from '../scenario/validate.ts';
import type { Kinematics } from '../sim/kinematics.ts';

export interface Policy {
  /** Called with the first observation of an episode (a planner may think here). */
  reset(observation: Observation): void | Promise<void>;
  /** The action for this control tick. */
  act(observation: Observation): Action | Promise<Action>;
  /** The controller's current phase, for traces and people. */
  readonly phase: string;
  /** True once the policy has nothing more to do. */
  readonly done: boolean;
  /** Measurements of the policy itself (calls, tokens, cost), merged into the episode's metrics. */
  metrics?(): Record<string, number>;
  /** Frees what the policy holds (a sandbox); called once the episode ends, whatever happened. */
  dispose?(): void;
}

/** What a policy needs besides its parameters. */
export interface PolicyContext {
  /** The scenario (task, robot). */
  scenario: LoadedScenario;
  /** Kinematics of the robot's tool site, for inverse kinematics. */
  kinematics: Kinematics;
  /** Control period in seconds. */
  controlPeriod: number;
}

export const ParamsPolicyFile = z.strictObject({
  /** A tuned built-in controller. */
  kind: z.literal('params'),
  /** Parameter values by name; missing ones take the scenario's defaults. */
  params: z.record(z.string(), z.number().refine(Number.isFinite, 'must be a finite number')),
});
export type ParamsPolicyFile = z.infer<typeof ParamsPolicyFile>;

export const PolicyFile = z.discriminatedUnion('kind', [ParamsPolicyFile]);
export type PolicyFile = z.infer<typeof PolicyFile>;

/** The scenario's default parameters as a policy file (the baseline). */
export function defaultPolicy(scenario: LoadedScenario): ParamsPolicyFile {
  const params = Object.fromEntries(Object.entries(scenario.policy.params).map(([k, p]) => [k, p.default]));
  return { kind: 'params', params };
}

/**
 * Checks a policy against the scenario and fills in defaults. Every unknown name or
 * out-of-range value is reported, with the range. Names are looked up as own properties only, so
 * `toString`, `constructor` or `__proto__` are unknown names, never members of Object.prototype.
 */
export function resolvePolicy(value: unknown, scenario: LoadedScenario, source = 'policy'): PolicyFile {
  const rawParams = (value as { params?: unknown } | null)?.params;
  const problems: Problem[] = [];
  // zod drops a `__proto__` key silently: look at the raw keys first.
  if (rawParams && typeof rawParams === 'object' && Object.hasOwn(rawParams, '__proto__')) {
    problems.push({ file: source, path: 'params.__proto__', message: `is not a parameter of scenario '${scenario.name}'`, hint: `known: ${Object.keys(scenario.policy.params).join(', ')}` });
  }
  const parsed = PolicyFile.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError([
      ...problems,
      ...parsed.error.issues.map((i) => ({ file: source, path: i.path.join('.'), message: i.message, hint: 'a policy file is {"kind": "params", "params": {"name": value, ...}}' })),
    ]);
  }
  const space = scenario.policy.params;
  for (const [name, v] of Object.entries(parsed.data.params)) {
    const spec = Object.hasOwn(space, name) ? space[name] : undefined;
    if (!spec) {
      problems.push({
        file: source,
        path: `params.${name}`,
        message: `is not a parameter of scenario '${scenario.name}'`,
        hint: `known: ${Object.keys(space).join(', ')}`,
      });
    } else if (v < spec.min || v > spec.max) {
      problems.push({
        file: source,
        path: `params.${name}`,
        message: `= ${v} is outside its range [${spec.min}, ${spec.max}]`,
        hint: `pick a value in range, or widen the range in ${scenario.file}`,
      });
    }
  }
  if (problems.length) throw new ValidationError(problems);
  return { kind: 'params', params: { ...defaultPolicy(scenario).params, ...parsed.data.params } };
}

/** Reads a policy JSON file and resolves it against the scenario. */
export function loadPolicyFile(path: string, scenario: LoadedScenario): PolicyFile {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ValidationError([
      { file: path, path: '', message: `cannot be read as JSON: ${(err as Error).message}`, hint: 'a policy file is {"kind": "params", "params": {...}}' },
    ]);
  }
  return resolvePolicy(value, scenario, path);
}
