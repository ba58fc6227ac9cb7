/**
 * The task registry: task kinds by name. A task is a folder: every `src/tasks/<folder>/index.ts`
 * default-exports its `Task` and is found here by looking, so adding a task edits nothing outside
 * its folder. A scenario may also name plug-in modules of its own (`plugins:`), loaded the same
 * way, in every process and worker thread that loads the scenario.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Task } from './task.ts';

const tasks = new Map<string, Task>();
const loadedModules = new Map<string, Promise<void>>();
const TASKS_DIR = dirname(fileURLToPath(import.meta.url));

/** Loads the built-in tasks (once) and the given plug-in modules (absolute paths, each once). */
export async function loadTasks(plugins: readonly string[] = []): Promise<void> {
  const builtin = readdirSync(TASKS_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(TASKS_DIR, entry.name, 'index.ts')))
    .map((entry) => join(TASKS_DIR, entry.name, 'index.ts'));
  await Promise.all([...builtin, ...plugins.map((p) => resolve(p))].map(loadModule));
}

function loadModule(path: string): Promise<void> {
  let loading = loadedModules.get(path);
  if (!loading) {
    loading = (async () => {
      if (!existsSync(path)) throw new Error(`The task plug-in ${path} does not exist; check the scenario's \`plugins:\` list.`);
      const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
      registerTask(checkTask(module.default, path));
    })();
    loadedModules.set(path, loading);
  }
  return loading;
}

/** Registers a task kind; a second task of the same kind is refused (two plug-ins disagree). */
export function registerTask(task: Task): void {
  const existing = tasks.get(task.kind);
  if (existing && existing !== task) {
    throw new Error(`Two tasks claim kind '${task.kind}'; rename one of them (task kinds are unique).`);
  }
  tasks.set(task.kind, task);
}

/** The task of a kind; throws naming the known kinds. Call `loadTasks` first (loadScenario does). */
export function getTask(kind: string): Task {
  const task = tasks.get(kind);
  if (!task) {
    throw new Error(`There is no task kind '${kind}'. Known kinds: ${taskKinds().join(', ') || 'none'}; a task of your own is a plug-in listed under the scenario's \`plugins:\`.`);
  }
  return task;
}

/** Every registered kind, sorted. */
export function taskKinds(): string[] {
  return [...tasks.keys()].sort();
}

/** Every registered task, by kind order. */
export function allTasks(): Task[] {
  return taskKinds().map((kind) => tasks.get(kind)!);
}

/** A plug-in's default export must look like a Task; say what is missing otherwise. */
function checkTask(value: unknown, path: string): Task {
  const task = value as Partial<Task> | undefined;
  const missing: string[] = [];
  if (typeof task?.kind !== 'string' || task.kind === '') missing.push('kind (a string)');
  if (typeof task?.schema?.safeParse !== 'function') missing.push('schema (a zod schema)');
  if (typeof task?.objects !== 'function') missing.push('objects(spec)');
  if (typeof task?.scene !== 'function') missing.push('scene(world, spec, scenario)');
  if (typeof task?.score !== 'function') missing.push('score(trace, spec, scenario)');
  if (typeof task?.controllers !== 'object' || task.controllers === null) missing.push('controllers');
  if (missing.length) {
    throw new Error(`The task plug-in ${path} must default-export a Task; it lacks ${missing.join(', ')}. See docs/tasks.md.`);
  }
  return task as Task;
}
