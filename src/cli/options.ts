/**
 * Option parsers and helpers every `arbor` command shares: numbers with their ranges, seeds,
 * policies, and how an error is printed. Each refusal names the option, the value and the fix.
 */
import { InvalidArgumentError } from 'commander';
import { baselinePolicy, loadPolicyFile, type PolicyFile } from '../policy/file.ts';
import { checkPlannerReachable } from '../policy/prompt-planner.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { SEED_MAX } from '../scenario/schema.ts';
import { ValidationError, formatProblem } from '../scenario/validate.ts';

/** A parser for a whole number in [min, max] (commander names the option in its message). */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`'${text}' must be a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** A parser for a finite number in [min, max]. */
export function number(min: number, max: number): (text: string) => number {
  return (text) => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`'${text}' must be a number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** Seeds: whole numbers in 0..SEED_MAX (the generator keeps 32 bits; larger ones would alias). */
export const seed = integer(0, SEED_MAX);

/** Parses `A..B` (inclusive) into the list of seeds. */
export function parseSeedRange(text: string): number[] {
  const match = /^(\d+)\.\.(\d+)$/.exec(text.trim());
  if (!match) throw new InvalidArgumentError(`'${text}' must look like A..B, e.g. 0..63.`);
  const [a, b] = [Number(match[1]), Number(match[2])];
  if (a > SEED_MAX || b > SEED_MAX) throw new InvalidArgumentError(`'${text}': seeds must be whole numbers from 0 to ${SEED_MAX}.`);
  if (b < a) throw new InvalidArgumentError(`'${text}': the end ${b} is before the start ${a}; write ${b}..${a}.`);
  if (b - a >= 100_000) throw new InvalidArgumentError(`'${text}' asks for ${b - a + 1} episodes; use at most 100000.`);
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** The policy of `--policy FILE`, or the scenario's baseline; a prompt policy must be able to reach its model. */
export function choosePolicy(file: string | undefined, scenario: LoadedScenario): PolicyFile {
  const policy = file ? loadPolicyFile(file, scenario) : baselinePolicy(scenario);
  if (policy.kind === 'prompt') checkPlannerReachable(policy.config);
  return policy;
}

/** An error as the command line prints it: one line per problem of a validation error. */
export function describeError(error: unknown): string {
  if (error instanceof ValidationError) return error.problems.map(formatProblem).join('\n');
  return error instanceof Error ? error.message : String(error);
}
