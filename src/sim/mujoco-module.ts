/**
 * Where this process imports mujoco-js from. The package is one 11 MB JavaScript file with its
 * WebAssembly inlined as a base64 string, so every process and worker thread that imported it
 * parsed 11 MB of source and decoded the string: about a second of CPU at each start, paid by
 * every `arbor` command, pool worker and test file.
 *
 * The first import splits the file once into a cache folder: the same JavaScript without the
 * string (its `findWasmBinary` returns the `wasmBinary` the caller passes, an Emscripten module
 * option) and the wasm bytes beside it. Later imports load those. Every byte of code and of the
 * wasm is mujoco-js's own, so episodes are the same to the bit. When the file is not the shape
 * this expects (another mujoco-js build) or no cache folder can be written, mujoco-js loads as
 * it is.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type loadModule from 'mujoco-js';

/** The module factory mujoco-js exports. */
export type MujocoFactory = typeof loadModule;

/** The factory and, when it was split, the wasm bytes to pass it as `wasmBinary`. */
export interface MujocoModule {
  factory: MujocoFactory;
  wasmBinary?: Uint8Array;
}

/** The one function that holds the inlined wasm, as Emscripten writes it. */
const INLINED = /function findWasmBinary\(\) \{\s*return base64Decode\('([A-Za-z0-9+/=]+)'\);\s*\}/;

/** Imports mujoco-js, from the split copy when there is one or one can be made. */
export async function importMujoco(): Promise<MujocoModule> {
  const split = splitCopy();
  if (!split) return { factory: (await import('mujoco-js')).default };
  const factory = ((await import(pathToFileURL(split.js).href)) as { default: MujocoFactory }).default;
  return { factory, wasmBinary: readFileSync(split.wasm) };
}

/** The split copy's two files, made on first use; undefined when mujoco-js must load as it is. */
function splitCopy(): { js: string; wasm: string } | undefined {
  const require = createRequire(import.meta.url);
  const original = require.resolve('mujoco-js');
  const { size, mtimeMs } = statSync(original);
  const version = String((require('mujoco-js/package.json') as { version?: unknown }).version);
  const name = `mujoco-js-${version}-${size}-${Math.round(mtimeMs)}`;
  for (const root of cacheRoots(original)) {
    const dir = join(root, name);
    // .mjs: an ES module wherever the folder is (a .js file is one only under a package.json that says so).
    const files = { js: join(dir, 'mujoco_wasm.mjs'), wasm: join(dir, 'mujoco_wasm.wasm') };
    if (exists(files.js) && exists(files.wasm)) return files;
    try {
      return writeSplit(original, dir, files);
    } catch {
      // Not writable here (a read-only install): try the next folder.
    }
  }
  return undefined;
}

/** node_modules/.cache/arbor beside the package (as other tools keep their caches), then the temp folder. */
function cacheRoots(original: string): string[] {
  const nodeModules = dirname(dirname(dirname(original)));
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return [join(nodeModules, '.cache', 'arbor'), join(tmpdir(), `arbor-cache-${uid}`)];
}

/** Writes the split copy; each file is written whole under a temporary name first, so a concurrent start never reads half a file. */
function writeSplit(original: string, dir: string, files: { js: string; wasm: string }): { js: string; wasm: string } | undefined {
  const source = readFileSync(original, 'utf8');
  const match = INLINED.exec(source);
  if (!match) return undefined;
  mkdirSync(dir, { recursive: true });
  const js = source.slice(0, match.index) + 'function findWasmBinary() {\n  return wasmBinary;\n}' + source.slice(match.index + match[0].length);
  const temp = `.${process.pid}-${Math.random().toString(36).slice(2)}`;
  // The wasm first: a copy whose JavaScript is there always has its wasm.
  writeFileSync(files.wasm + temp, Buffer.from(match[1], 'base64'));
  renameSync(files.wasm + temp, files.wasm);
  writeFileSync(files.js + temp, js);
  renameSync(files.js + temp, files.js);
  return files;
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
