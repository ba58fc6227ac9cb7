/**
 * Policy files: JSON, one of the kinds (`{"kind": "params", "params": {...}}` tunes the scenario's
 * controller, `{"kind": "code", "source": "..."}` is a controller module run in the sandbox,
 * `{"kind": "prompt", "config": {...}}` a language planner), validated against the scenario where
 * they enter arbor: a file, a researcher's proposal, a probe.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { z } from 'zod';
import { priceOf, pricedModels } from '../llm/prices.ts';
import { PromptConfig } from '../scenario/prompt.ts';
import { CODE_LANGUAGES, compileCode, type CodeLanguage } from './code.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { ValidationError, type Problem } from '../scenario/validate.ts';

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

export const PromptPolicyFile = z.strictObject({
  /** A language planner whose plans the task's skill carries out. */
  kind: z.literal('prompt'),
  /** Its config; a proposal's missing fields take the scenario's baseline config (`policy.prompt.config`). */
  config: PromptConfig,
});
export type PromptPolicyFile = z.infer<typeof PromptPolicyFile>;

export const PolicyFile = z.discriminatedUnion('kind', [ParamsPolicyFile, CodePolicyFile, PromptPolicyFile]);
export type PolicyFile = z.infer<typeof PolicyFile>;

/** The scenario's default parameters as a policy file. */
export function defaultPolicy(scenario: LoadedScenario): ParamsPolicyFile {
  const params = Object.fromEntries(Object.entries(scenario.policy.params).map(([k, p]) => [k, p.default]));
  return { kind: 'params', params };
}

/** A study's first candidate: the baseline prompt config of a prompt scenario, else the default parameters. */
export function baselinePolicy(scenario: LoadedScenario): PolicyFile {
  const prompt = scenario.policy.prompt;
  return scenario.policy.kind === 'prompt' && prompt ? { kind: 'prompt', config: structuredClone(prompt.config) } : defaultPolicy(scenario);
}

/** What a policy file looks like, for messages. */
const SHAPE_HINT =
  'a policy file is {"kind": "params", "params": {"name": value, ...}}, {"kind": "code", "source": "export function act(obs) {...}"} ' +
  'or {"kind": "prompt", "config": {"model": ..., "system": ..., ...}}';

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
  const parsed = PolicyFile.safeParse(withBaselineConfig(value, scenario));
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
  if (parsed.data.kind === 'prompt') {
    const { model, price } = parsed.data.config;
    if (!price && !priceOf(model)) {
      throw new ValidationError([{ file: source, path: 'config.model', message: `'${model}' has no price in src/llm/prices.ts, so what it costs could not be counted`, hint: `use one of ${pricedModels().join(', ')}, or give config.price {input, output} in dollars per million tokens (0 for a local model)` }]);
    }
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

/**
 * A prompt proposal's config over the scenario's baseline config: the fields it gives replace the
 * baseline's (the scene's one by one), so a researcher may propose only what it changes.
 */
function withBaselineConfig(value: unknown, scenario: LoadedScenario): unknown {
  const base = scenario.policy.prompt?.config;
  const file = value as { kind?: unknown; config?: unknown } | null;
  if (!base || file?.kind !== 'prompt' || !isRecord(file.config)) return value;
  const config = file.config;
  return { ...file, config: { ...base, ...config, scene: { ...base.scene, ...(isRecord(config.scene) ? config.scene : {}) } } };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
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
    // Only where: JSON.parse quotes the text it choked on, and a mistaken path (a key file, a
    // password file) must not come back in an error that an MCP client or a log then holds.
    const at = /at position (\d+)/.exec((err as Error).message)?.[1];
    const where = at === undefined ? '' : ` (at character ${at})`;
    throw new ValidationError([{ file: path, path: '', message: `is not valid JSON${where}`, hint: `${SHAPE_HINT}; a .ts or .js file is read as a code policy module` }]);
  }
  return resolvePolicy(value, scenario, path);
}
