/**
 * Loads a scenario file with its robot and its task: paths resolve relative to the scenario, the
 * task plug-ins load first (built-ins and the scenario's own `plugins:`), then the whole file is
 * validated at once, the `task:` section by its kind's schema and `policy.params` against the
 * controller it tunes, so every problem comes back with its line.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { allTasks, getTask, loadTasks, taskKinds } from '../tasks/registry.ts';
import type { Task, TaskSpec } from '../tasks/task.ts';
import { namesFiles } from './paths.ts';
import { Perturbations, axisRange, checkAxisJoints, type AxisValue } from './perturbation.ts';
import { loadRobot, type RobotConfig } from './robot.ts';
import { Scenario, checkCameraTopics, type ScenarioSpec } from './schema.ts';
import { ValidationError, validateText } from './validate.ts';

/**
 * What the scenario schema gains from the perturbation vocabulary (kept out of schema.ts, which
 * the vocabulary builds on).
 */
const SimToReal = {
  /** The axes a gauntlet or robust study varies, and their tiers (absent: none). */
  perturbations: Perturbations.optional(),
  /** A calibration file (fixed axis values, relative to the scenario): the sim is loaded with them. */
  calibration: z.string().min(1).optional(),
};

/** A validated scenario with its robot loaded and its paths made absolute. */
export type LoadedScenario = Omit<ScenarioSpec, 'task'> & {
  /** The axes a gauntlet or robust study varies, and their tiers (absent: none). */
  perturbations?: Perturbations;
  /** The calibration the sim is loaded with: its file and its fixed values (absent: the nominal model). */
  calibration?: { file: string; values: AxisValue[] };
  /** The task section, validated by its kind's schema (defaults filled in). */
  task: TaskSpec & Record<string, unknown>;
  /** Absolute path of the scenario file. */
  file: string;
  /** Absolute path of the MJCF world. */
  worldPath: string;
  /** The robot, loaded from `robot`. */
  robotConfig: RobotConfig;
  /**
   * The task of `task.kind`, bound where the scenario loads: the rest of arbor reaches the task
   * through the scenario and never looks a kind up in the registry.
   */
  taskDef: Task;
};

/** Reads, validates and resolves a scenario file; throws `ValidationError` naming every problem. */
export async function loadScenario(file: string): Promise<LoadedScenario> {
  const path = resolve(file);
  const text = readText(path);
  const dir = dirname(path);
  await loadTasks(pluginsOf(text, path).map((p) => resolve(dir, p)));
  const result = validateText(fullSchema(dir), text, path);
  if (!result.ok) throw new ValidationError(result.problems);
  const { calibration, ...spec } = result.value;
  const robotConfig = loadRobot(resolve(dir, spec.robot));
  const loaded: LoadedScenario = { ...spec, file: path, worldPath: resolve(dir, spec.world), robotConfig, taskDef: getTask(spec.task.kind) };
  return calibration ? withCalibration(loaded, resolve(dir, calibration)) : loaded;
}

/**
 * The scenario with the calibration of `file` (a perturbation file whose every axis is fixed):
 * the world loads with those values (`--calibration` overrides the scenario's own).
 */
export function withCalibration(scenario: LoadedScenario, file: string): LoadedScenario {
  const block = loadPerturbationFile(file, scenario.robotConfig);
  const values = Object.entries(block.axes).map(([name, axis]): AxisValue => {
    const [lo, hi] = axisRange(axis);
    if (lo !== hi) {
      throw new ValidationError([{ file, path: `axes.${name}`, message: `is a range [${lo}, ${hi}]; a calibration fixes each axis to one value`, hint: 'give the fitted value alone, e.g. scale: 0.8' }]);
    }
    return { name, axis, value: lo };
  });
  return { ...scenario, calibration: { file, values } };
}

/** Reads a `--perturb` or calibration file, checked against the robot (every joint it names must be an arm joint). */
export function loadPerturbationFile(file: string, robot: RobotConfig): Perturbations {
  const path = resolve(file);
  const joints = robot.joints.map((j) => j.name);
  const result = validateText(Perturbations.superRefine((block, ctx) => checkAxisJoints(block, joints, ctx, [])), readText(path, 'a perturbation file (axes: and tiers:)'), path);
  if (!result.ok) throw new ValidationError(result.problems);
  return result.value;
}

/**
 * The scenario schema with the task section of every registered kind, the check of the parameters
 * against the controller, and the files the scenario names (relative to `dir`).
 */
function fullSchema(dir: string) {
  const files = namesFiles<ScenarioSpec & { calibration?: string }>(dir, {
    robot: 'the robot.yaml (relative to the scenario)',
    world: 'the MJCF world file (relative to the scenario)',
    calibration: 'a calibration file (relative to the scenario), or leave calibration out',
  });
  return Scenario.extend({
    ...SimToReal,
    task: z.looseObject({ kind: z.string().min(1) }).transform((section, ctx) => {
      if (!taskKinds().includes(section.kind)) {
        ctx.addIssue({
          code: 'custom',
          path: ['kind'],
          message: `'${section.kind}' is not a known task kind`,
          params: { hint: `use one of: ${taskKinds().join(', ')}, or list your task's plug-in under plugins:` },
        });
        return z.NEVER;
      }
      const parsed = getTask(section.kind).schema.safeParse(section);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.addIssue({ ...issue } as z.core.$ZodRawIssue);
        return z.NEVER;
      }
      return parsed.data as TaskSpec & Record<string, unknown>;
    }),
  }).superRefine(files).superRefine(checkCameraTopics).superRefine((scenario, ctx) => {
    if (scenario.perturbations) checkAxisJoints(scenario.perturbations, robotJoints(resolve(dir, scenario.robot)), ctx, ['perturbations']);
  }).superRefine((scenario, ctx) => {
    const problem = robustProblem(scenario.perturbations, scenario.budget.robust, scenario.budget.keep_if);
    if (problem) ctx.addIssue({ code: 'custom', path: ['budget', problem.field], message: problem.message, params: { hint: problem.hint } });
  }).superRefine((scenario, ctx) => {
    const task = getTask(scenario.task.kind);
    const family = Object.hasOwn(task.controllers, scenario.policy.controller) ? task.controllers[scenario.policy.controller] : undefined;
    if (!family) {
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'controller'],
        message: `'${scenario.policy.controller}' is not a controller of task '${task.kind}'`,
        params: { hint: `use one of: ${Object.keys(task.controllers).join(', ')}` },
      });
      return;
    }
    if (scenario.policy.kind === 'prompt' && !family.skill?.steps) {
      ctx.addIssue({
        code: 'custom',
        path: ['policy', 'controller'],
        message: `controller '${scenario.policy.controller}' has no skill a planner can aim, so kind prompt cannot drive it`,
        params: { hint: `use a controller whose skill declares plan steps${Object.entries(task.controllers).some(([, f]) => f.skill?.steps) ? `: ${Object.entries(task.controllers).filter(([, f]) => f.skill?.steps).map(([n]) => n).join(', ')}` : ' (this task has none)'}` },
      });
    }
    for (const name of Object.keys(scenario.policy.params)) {
      if (!Object.hasOwn(family.params, name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['policy', 'params', name],
          message: `is not a parameter of controller '${scenario.policy.controller}'`,
          params: { hint: `its parameters: ${Object.keys(family.params).join(', ')}` },
        });
      }
    }
    for (const name of Object.keys(family.params)) {
      if (!Object.hasOwn(scenario.policy.params, name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['policy', 'params'],
          message: `lacks '${name}' (${family.params[name]})`,
          params: { hint: `give it a range and a default: ${name}: { min: ..., max: ..., default: ... }` },
        });
      }
    }
  });
}

/**
 * Why a robust study's settings do not fit the scenario's perturbation block, or undefined: the
 * tier must be one of its tiers, and `no_tier_regresses` needs a tier to check. `arbor check`
 * reports it with file and line; `--robust` on `arbor run` gets the same words.
 */
export function robustProblem(block: Perturbations | undefined, tier: string | undefined, keepIf: string | undefined): { field: 'robust' | 'keep_if'; message: string; hint: string } | undefined {
  if (tier !== undefined && !block) {
    return { field: 'robust', message: `is ${tier}, but the scenario has no perturbations: block to draw its worlds from`, hint: 'add a perturbations: block (axes: and tiers:, see docs/sim-to-real.md), or leave robust out' };
  }
  if (tier !== undefined && block && !Object.hasOwn(block.tiers, tier)) {
    return { field: 'robust', message: `'${tier}' is not a tier of the perturbations: block`, hint: `use one of its tiers: ${Object.keys(block.tiers).join(', ')}` };
  }
  if (keepIf === 'no_tier_regresses' && tier === undefined) {
    return { field: 'keep_if', message: 'no_tier_regresses compares the nominal world with the robust tier, and the study has no robust tier', hint: 'set budget.robust (e.g. robust: T2), or leave keep_if out' };
  }
  return undefined;
}

/**
 * Imports the built-in task modules ahead of any scenario: a server calls it before serving, so
 * no request waits behind their first import. (The registry is reached only from this file.)
 */
export async function preloadTasks(): Promise<void> {
  await loadTasks();
}

/** The JSON Schema of scenario files (every registered task kind), for editors and LLM researchers. */
export async function scenarioJsonSchema(): Promise<object> {
  await loadTasks();
  const tasks = allTasks().map((t) => t.schema);
  const task = tasks.length === 1 ? tasks[0] : z.union(tasks);
  return z.toJSONSchema(Scenario.extend({ task, ...SimToReal }), { io: 'input', unrepresentable: 'any' });
}

/** The arm joints of the robot.yaml at `file`; none when it does not load (its own problems are reported where it is loaded). */
function robotJoints(file: string): string[] {
  try {
    return loadRobot(file).joints.map((j) => j.name);
  } catch {
    return [];
  }
}

function readText(path: string, what = 'a scenario YAML file'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot be read (${(err as Error).message})`;
    throw new ValidationError([{ file: path, path: '', message: why, hint: `give the path of ${what}` }]);
  }
}

/** The `plugins:` list, read before validation (the task section needs its plug-in). */
function pluginsOf(text: string, path: string): string[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch {
    return []; // validateText reports the YAML error with its line.
  }
  const plugins = (raw as { plugins?: unknown } | null)?.plugins;
  if (plugins === undefined) return [];
  if (!Array.isArray(plugins) || !plugins.every((p) => typeof p === 'string')) {
    throw new ValidationError([{ file: path, path: 'plugins', message: 'must be a list of module paths', hint: 'plugins: [./my-task/index.ts]' }]);
  }
  return plugins;
}
