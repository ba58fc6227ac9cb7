/**
 * The one place that loads the mujoco-js WebAssembly module. Everything else in src/sim asks
 * `loadMujoco()` for the shared instance (one per thread: each worker has its own).
 */
import { createRequire } from 'node:module';
import type { MainModule } from 'mujoco-js';
import { importMujoco } from './mujoco-module.ts';

export type Mujoco = MainModule;

let instance: Promise<Mujoco> | undefined;
/** Lines MuJoCo printed to stderr since the last `takeMujocoStderr()`: its only word on XML parse errors. */
const stderrLines: string[] = [];

/** The shared MuJoCo module of this thread (imported and instantiated once, when first asked for). */
export function loadMujoco(): Promise<Mujoco> {
  instance ??= importMujoco().then(({ factory, wasmBinary }) =>
    factory({
      printErr: (line: string) => stderrLines.push(line),
      print: (line: string) => stderrLines.push(line),
      ...(wasmBinary ? { wasmBinary } : {}),
    }) as Promise<Mujoco>,
  );
  return instance;
}

/** Returns and forgets what MuJoCo printed since the last call. */
export function takeMujocoStderr(): string[] {
  return stderrLines.splice(0, stderrLines.length);
}

/**
 * MuJoCo throws C++ exceptions (mjXError) whose JS face carries only `excPtr`. The exception
 * object starts with its message as a C string, so we read it from wasm memory ourselves:
 * mujoco-js exports no HEAPU8, but any buffer view shares the module's memory.
 */
export function cppExceptionMessage(mj: Mujoco, error: unknown): string | undefined {
  const ptr = (error as { excPtr?: unknown } | null)?.excPtr;
  if (typeof ptr !== 'number') return undefined;
  const probe = new mj.DoubleBuffer(1);
  try {
    const heap = new Uint8Array(probe.GetView().buffer);
    let end = ptr;
    while (end < heap.length && heap[end] !== 0 && end - ptr < 2000) end++;
    return new TextDecoder().decode(heap.subarray(ptr, end)).trim();
  } finally {
    probe.delete();
  }
}

/** The MuJoCo build episodes run on: the mujoco-js package and the engine inside it. */
export interface MujocoBuild {
  /** Version of the mujoco-js npm package. */
  mujocoJs: string;
  /** MuJoCo's own version string (`mj_versionString()`), e.g. `3.3.8`. */
  mujoco: string;
}

/** The MuJoCo build of this process: remote workers must run the same one for episodes to match. */
export async function mujocoBuild(): Promise<MujocoBuild> {
  const mj = await loadMujoco();
  const pkg = createRequire(import.meta.url)('mujoco-js/package.json') as { version?: unknown };
  return { mujocoJs: String(pkg.version), mujoco: mj.mj_versionString() };
}
