/**
 * Policies: what turns observations into actions. A policy file is JSON, one of the kinds
 * (`{"kind": "params", "params": {...}}` tunes the scenario's controller, `{"kind": "code",
 * "source": "..."}` is a controller module run in the sandbox), validated against the scenario
 * where it enters arbor: a file, a researcher's proposal, a stored candidate.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { z } from 'zod';
import { CODE_LANGUAGES, compileCode, type CodeLanguage } from './code.ts';
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

export const CodePolicyFile = z.strictObject({
  /** A controller module run in the sandbox. */
  kind: z.literal('code'),
  /** The module's source: exports `act(obs)` and optionally `reset(obs)` (see codePolicyGuide). */
  source: z.string().min(1, 'must not be empty').max(200_000, 'must be at most 200000 characters'),
  /** `ts` (TypeScript, the default) or `js`. */
  language: z.enum(CODE_LANGUAGES).default('ts'),
});
export type CodePolicyFile = z.infer<typeof CodePolicyFile>;

export const PolicyFile = z.discriminatedUnion('kind', [ParamsPolicyFile, CodePolicyFile]);
export type PolicyFile = z.infer<typeof PolicyFile>;

/** The scenario's default parameters as a policy file (the baseline). */
export function defaultPolicy(scenario: LoadedScenario): ParamsPolicyFile {
  const params = Object.fromEntries(Object.entries(scenario.policy.params).map(([k, p]) => [k, p.default]));
  return { kind: 'params', params };
}

/** What a policy file looks like, for messages. */
const SHAPE_HINT = 'a policy file is {"kind": "params", "params": {"name": value, ...}} or {"kind": "code", "source": "export function act(obs) {...}"}';

/**
 * Checks a policy against the scenario and fills in defaults. Every unknown name or
 * out-of-range value is reported, with the range. Names are looked up as own properties only, so
 * `toString`, `constructor` or `__proto__` are unknown names, never members of Object.prototype.
 * A code policy must compile (its errors come with their lines).
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
      ...parsed.error.issues.map((i) => ({ file: source, path: i.path.join('.'), message: i.message, hint: SHAPE_HINT })),
    ]);
  }
  if (parsed.data.kind === 'code') {
    compileCode(parsed.data.source, parsed.data.language, source);
    return parsed.data;
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

/** Module files that are code policies themselves, by extension. */
const CODE_EXTENSIONS: Readonly<Record<string, CodeLanguage>> = { '.ts': 'ts', '.mts': 'ts', '.js': 'js', '.mjs': 'js' };

/** Reads a policy file (JSON, or a .ts/.js module that is a code policy) and resolves it against the scenario. */
export function loadPolicyFile(path: string, scenario: LoadedScenario): PolicyFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError([{ file: path, path: '', message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, hint: 'give the path of a policy JSON file or a .ts/.js policy module' }]);
  }
  const language = Object.hasOwn(CODE_EXTENSIONS, extname(path)) ? CODE_EXTENSIONS[extname(path)] : undefined;
  if (language) return resolvePolicy({ kind: 'code', source: text, language }, scenario, path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ValidationError([{ file: path, path: '', message: `cannot be read as JSON: ${(err as Error).message}`, hint: `${SHAPE_HINT}; a .ts or .js file is read as a code policy module` }]);
  }
  return resolvePolicy(value, scenario, path);
}
