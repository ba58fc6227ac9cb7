/** Shared test fixtures: the real scenario, a runner on it, and a tuned policy. */
import { readFileSync } from 'node:fs';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import type { PolicyFile } from '../src/policy/policy.ts';

export const SCENARIO_PATH = 'scenarios/pick-place.yaml';

export function scenario(): LoadedScenario {
  return loadScenario(SCENARIO_PATH);
}

export function tunedPolicy(): PolicyFile {
  return JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8')) as PolicyFile;
}
