/** Loads a scenario file with its robot, resolving paths relative to the scenario. */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { namesFiles } from './paths.ts';
import { loadRobot, type RobotConfig } from './robot.ts';
import { Scenario, type ScenarioSpec } from './schema.ts';
import { loadValidated } from './validate.ts';

/** A validated scenario with its robot loaded and its paths made absolute. */
export type LoadedScenario = ScenarioSpec & {
  /** Absolute path of the scenario file. */
  file: string;
  /** Absolute path of the MJCF world. */
  worldPath: string;
  /** The robot, loaded from `robot`. */
  robotConfig: RobotConfig;
};

export function loadScenario(file: string): LoadedScenario {
  const path = resolve(file);
  const dir = dirname(path);
  const files = namesFiles<ScenarioSpec>(dir, { robot: 'the robot.yaml (relative to the scenario)', world: 'the MJCF world file (relative to the scenario)' });
  const spec = loadValidated(Scenario.superRefine(files), path);
  return {
    ...spec,
    file: path,
    worldPath: resolve(dir, spec.world),
    robotConfig: loadRobot(resolve(dir, spec.robot)),
  };
}

/** The JSON Schema of scenario files, for editors and LLM researchers. */
export function scenarioJsonSchema(): object {
  return z.toJSONSchema(Scenario, { io: 'input', unrepresentable: 'any' });
}
