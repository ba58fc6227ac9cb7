/**
 * The scorer's preflight (`arbor check`): before a study trusts a scenario's scorer, it must tell
 * a policy from none. A policy that holds the arm at home runs on 16 seeds, and
 * - an episode already successful at reset (its first control period scores a success) is a bug
 *   in the scenario: the goal holds before the robot moves (a zone around the cube's start);
 * - a success of the held arm means the scorer rewards doing nothing.
 * A study of such a scenario would "reach 100%" and prove nothing. Both findings name the seed
 * and why; the episodes run on an `Evaluator` (the pool), as a study's would.
 */
import type { CodePolicyFile } from '../policy/file.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { Score } from '../tasks/task.ts';
import { scoreTrace } from './episode.ts';
import type { EpisodeResult, Evaluator } from './evaluator.ts';

/** The seeds the preflight runs: enough that a zone reached by a quarter of the draws shows up. */
export const PREFLIGHT_SEEDS = Array.from({ length: 16 }, (_, i) => i);

/** One reason the scorer cannot be trusted. */
export interface PreflightProblem {
  /** The seed that shows it. */
  seed: number;
  /** `reset`: successful before any action; `hold`: the held arm succeeds; `crash`: the held arm's episode failed. */
  kind: 'reset' | 'hold' | 'crash';
  /** A sentence naming the seed and why. */
  message: string;
}

/**
 * A code policy that holds the arm at the robot's home pose and the gripper where the episode
 * began: what a robot that was never told anything does.
 */
export function holdHomePolicy(scenario: LoadedScenario): CodePolicyFile {
  const source = [
    `const HOME = ${JSON.stringify(scenario.robotConfig.home)};`,
    'let width = 0;',
    'export function reset(obs) { width = obs.gripperWidth; }',
    'export function act() { return { position: HOME, gripperWidth: width }; }',
  ].join('\n');
  return { kind: 'code', language: 'js', source };
}

/** Runs the preflight on `evaluator` (built on `scenario`); resolves with every problem found, none when the scorer can be trusted. */
export async function preflightScorer(scenario: LoadedScenario, evaluator: Evaluator, seeds: readonly number[] = PREFLIGHT_SEEDS): Promise<PreflightProblem[]> {
  const policy = holdHomePolicy(scenario);
  const results = await evaluator.evaluate(seeds.map((seed) => ({ policy, seed })));
  return results.flatMap((r) => judgeHeld(scenario, r));
}

/** What each kind of problem means and how to fix it, said once for all its seeds. */
export const PREFLIGHT_ADVICE: Readonly<Record<PreflightProblem['kind'], string>> = {
  reset: "The scenario's goal holds in its starting state (a zone or target around where the object starts?), so success measures nothing: a bug in the scenario. Fix the task's zone or randomization.",
  hold: 'The scorer rewards doing nothing, so a study would keep any candidate. Tighten the success criteria.',
  crash: 'The preflight cannot judge the scorer until an arm held at home runs.',
};

/** What one held-arm episode says about the scorer. */
function judgeHeld(scenario: LoadedScenario, result: EpisodeResult): PreflightProblem[] {
  const { seed } = result;
  if (!result.ok) return [{ seed, kind: 'crash', message: `seed ${seed}: the episode of an arm held at home failed: ${result.reason}` }];
  const period = Number(result.trace.meta.controlPeriod) || 1 / scenario.episode.control_rate;
  const first = result.trace.topics.values().next().value?.stamps[0] ?? 0;
  // The first control period: the reset state and one tick of holding still, enough to score.
  const { scored: atReset } = scoreTrace(result.trace.until(first + period * 1.5), scenario.taskDef, scenario);
  if (atReset.success) return [{ seed, kind: 'reset', message: `seed ${seed}: the episode is already a success at reset, before the robot moves (${why(atReset)})` }];
  if (result.success) return [{ seed, kind: 'hold', message: `seed ${seed}: a policy that holds the arm at home succeeds (${why(result)})` }];
  return [];
}

/** The score's outcome and its first numeric metrics: what the scorer saw. */
function why(score: Score): string {
  const numbers = Object.entries(score.metrics)
    .filter(([, v]) => typeof v === 'number')
    .slice(0, 4)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : Number(v).toPrecision(3)}`);
  return [`outcome ${score.outcome}, score ${score.score.toFixed(3)}`, ...numbers].join(', ');
}
