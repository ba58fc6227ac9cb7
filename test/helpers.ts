/** Shared test fixtures: the real scenario, a runner on it, and a tuned policy. */
import { readFileSync } from 'node:fs';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import type { ParamsPolicyFile } from '../src/policy/file.ts';
import type { PickPlaceSpec } from '../src/tasks/pick-place/schema.ts';

export const SCENARIO_PATH = 'scenarios/pick-place.yaml';

export function scenario(): Promise<LoadedScenario> {
  return loadScenario(SCENARIO_PATH);
}

/** The pick-and-place task section of a scenario. */
export function pickPlace(sc: LoadedScenario): PickPlaceSpec {
  return sc.task as PickPlaceSpec;
}

export function tunedPolicy(): ParamsPolicyFile {
  return JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8')) as ParamsPolicyFile;
}
