/**
 * A module hook that loads mujoco-js's prebuilt JavaScript as it is, ahead of tsx. tsx scans every
 * JavaScript module it loads for dynamic imports and writes a source map for those that have
 * one; mujoco_wasm.js is 11 MB (the WebAssembly inlined) with one `import(`, which cost about a
 * second of CPU on every start of arbor and of every worker thread. Node runs it unchanged.
 * (src/sim/mujoco-module.ts normally imports a split copy without the inlined wasm; this covers
 * the package's own file, which loads when no such copy can be written.)
 */
import { readFile } from 'node:fs/promises';

const PREBUILT = /\/node_modules\/mujoco-js\/dist\/[^/]+\.js$/;

export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && PREBUILT.test(url)) return { format: 'module', source: await readFile(new URL(url)), shortCircuit: true };
  return nextLoad(url, context);
}
