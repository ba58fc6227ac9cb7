// Lets this process (or worker thread) import the TypeScript sources: tsx, and in front of it the
// hook that hands mujoco-js's prebuilt module to Node unchanged (see plain-modules.mjs).
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

export function registerTypeScript() {
  register();
  // Hooks registered later run first: this one sees mujoco-js before tsx does.
  registerHooks('./plain-modules.mjs', import.meta.url);
}
