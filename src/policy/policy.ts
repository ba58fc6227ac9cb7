/**
 * Policies: what turns observations into actions. A policy file is JSON,
 * `{"kind": "params", "params": {...}}`, validated against the scenario's parameter space.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Action, Observation } from '../robot/link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { Kinematics } from '../sim/kinematics.ts';
import { ValidationError, type Problem } from '../scenario/validate.ts';

export interface Policy {
  /** Called with the first observation of an episode. */
  reset(observation: Observation): void;
  /** The action for this control tick. */
  act(observation: Observation): Action;
  /** The controller's current phase, for traces and people. */
  readonly phase: string;
  /** True once the policy has nothing more to do. */
  readonly done: boolean;
}

/** What a policy needs besides its parameters. */
export interface PolicyContext {
  /** The scenario (task, robot, zone). */
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
export const PolicyFile = z.discriminatedUnion('kind', [ParamsPolicyFile]);
export type PolicyFile = z.infer<typeof PolicyFile>;

/** The scenario's default parameters as a policy file (the baseline). */
export function defaultPolicy(scenario: LoadedScenario): PolicyFile {
  const params = Object.fromEntries(Object.entries(scenario.policy.params).map(([k, p]) => [k, p.default]));
  return { kind: 'params', params };
}

/**
 * Checks a policy file against the scenario's parameter space and fills in defaults. Every
 * unknown name or out-of-range value is reported, with the range.
 */
export function resolvePolicy(value: unknown, scenario: LoadedScenario, source = 'policy'): PolicyFile {
  const parsed = PolicyFile.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((i) => ({ file: source, path: i.path.join('.'), message: i.message })),
    );
  }
  const space = scenario.policy.params;
  const problems: Problem[] = [];
  for (const [name, v] of Object.entries(parsed.data.params)) {
    const spec = space[name];
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
