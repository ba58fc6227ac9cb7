/**
 * The sandbox code policies run in: QuickJS compiled to WebAssembly (quickjs-emscripten), one
 * runtime per episode in a wasm instance of its own, with a memory limit (the size of that
 * instance's memory), a stack limit and a deadline per call.
 *
 * Why QuickJS in wasm and not isolated-vm (measured for issue 9, figures in bench/sandbox.ts and
 * the README): it needs no native build (isolated-vm 5.0.x compiles with node-gyp on every fresh
 * `npm ci`, 2 min 20 s on this 2-core machine) and no `--no-node-snapshot` flag on Node 20; the
 * code runs in a second engine inside the wasm memory, so an escape needs a QuickJS bug *and* a
 * wasm-engine bug; memory and CPU limits are per runtime and deterministic. The price is speed per
 * call (about 50 µs against isolated-vm's 17 µs for a JSON round trip), which a 50 Hz controller
 * does not feel next to the physics.
 *
 * Inside there is no `require`, `import()`, `process`, file system, network, timers or `Date`:
 * QuickJS has none of them unless a host adds them, and this host adds only `__host(name, json)`,
 * the bridge to the functions it is given. Values cross as JSON text, so no host object leaks in;
 * a call is one crossing each way, which is what the per-call overhead is mostly made of.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { QuickJSFFI } from '@jitl/quickjs-wasmfile-release-sync/ffi';
import {
  QuickJSWASMModule, shouldInterruptAfterDeadline,
  type EmscriptenModuleLoader, type QuickJSContext, type QuickJSEmscriptenModule, type QuickJSHandle, type QuickJSRuntime,
} from 'quickjs-emscripten-core';

/** What a sandbox may use. */
export interface SandboxLimits {
  /**
   * Heap of the runtime (bytes): everything it allocates (its own structures, the helper API, the
   * policy's objects, the strings of each call) together, enforced by the size of its wasm memory.
   */
  memoryBytes: number;
  /** Stack of the runtime (bytes): deep recursion ends in a RangeError. */
  stackBytes: number;
  /** Wall-clock milliseconds one call (`act`, `reset`) may take. */
  callMs: number;
  /** Wall-clock milliseconds the module's top level may take when it is loaded. */
  loadMs: number;
}

/**
 * The stack is kept well under what the host's own stack allows for QuickJS's interpreter frames
 * (512 kB let V8 overflow first on the main thread, at a recursion depth of about 2600): so QuickJS
 * reports the overflow itself, at a depth of about 1300, and the runtime stays sound.
 */
export const DEFAULT_LIMITS: SandboxLimits = { memoryBytes: 32 << 20, stackBytes: 256 << 10, callMs: 100, loadMs: 1000 };

/** How a call into the sandbox failed. */
export type SandboxFailure = 'timeout' | 'memory' | 'exception' | 'missing';

/** A failure inside the sandbox; the host is unharmed and the episode ends as a crash with this reason. */
export class SandboxError extends Error {
  constructor(
    /** Which way it failed. */
    readonly failure: SandboxFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}

/** Host functions the sandboxed code may call, by name: JSON-able arguments in, JSON-able result out. */
export type HostFunctions = Readonly<Record<string, (...args: unknown[]) => unknown>>;

/**
 * The QuickJS build every sandbox instantiates (quickjs-emscripten's release-sync variant): its
 * wasm compiled once per thread, and where in a fresh instance's memory the heap starts.
 */
interface Engine {
  wasm: WebAssembly.Module;
  /** Emscripten's loader (the CommonJS build: the ES one imports `node:module` on every call). */
  load: EmscriptenModuleLoader<QuickJSEmscriptenModule>;
  /** Address of the first block malloc hands out: below it are the static data and the C stack. */
  heapStart: number;
  /** The memory the module declares it needs at least (16 MB, heap included), in pages. */
  minPages: number;
}

const PAGE = 65536;
/** The most the build's Emscripten glue lets its memory grow to (2 GB), in pages. */
const MAX_PAGES = 32768;

let engine: Promise<Engine> | undefined;

/**
 * Compiles the wasm and measures one throwaway instance (once per thread, about 25 ms).
 *
 * Why every sandbox gets an instance of its own, sized to its limit: QuickJS's own memory limit
 * (`setMemoryLimit`) counts allocations with malloc_usable_size, which is 0 under Emscripten, so it
 * only refuses a single allocation larger than the limit; 64 arrays of 1 MB passed a 16 MB limit,
 * and a bomb grew the process by 2 GB (the wasm memory's ceiling) in ~7 s before it was stopped,
 * the interrupt handler being polled too rarely to stop it at 100 ms. A memory that cannot grow
 * is a cumulative limit that malloc itself enforces: past it malloc returns NULL and QuickJS
 * throws its out-of-memory error, at the same allocation on every run.
 */
function loadEngine(): Promise<Engine> {
  engine ??= (async () => {
    const require = createRequire(import.meta.url);
    const wasm = await WebAssembly.compile(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
    const load = require('@jitl/quickjs-wasmfile-release-sync/emscripten-module') as EmscriptenModuleLoader<QuickJSEmscriptenModule>;
    const probe = await load({ instantiateWasm: instantiate(wasm) });
    const heapStart = probe._malloc(1);
    return { wasm, load, heapStart, minPages: probe.HEAPU8.length / PAGE };
  })();
  engine.catch(() => (engine = undefined));
  return engine;
}

/** A QuickJS module with a memory of its own, hosting one sandbox at a time. */
interface Instance {
  module: QuickJSWASMModule;
  memoryBytes: number;
  /** Emscripten's malloc and free, as they were: malloc returns 0 when the heap is full. */
  malloc: (size: number) => number;
  free: (at: number) => void;
  /** The largest block malloc hands out while the heap is empty: that it still does shows the heap is empty again. */
  largest: number;
  /**
   * Set when an allocation found the heap full, in QuickJS or in the host's calls into it: the
   * sandbox fails with the memory error and stops, and the instance is not used again.
   */
  ranOut: boolean;
}

/** Thrown in place of the address 0 that malloc returns to the host's calls when the heap is full. */
class HeapFull extends Error {}

/**
 * Instances whose sandbox was freed completely, kept for the next sandbox of the same limit: a new
 * one costs 6 to 10 ms (instantiation, and the garbage collections its memory brings on), a
 * reused one nothing, and an episode of a code policy takes 90 to 140 ms. A kept instance holds
 * the pages its last runtime touched, at most its limit.
 */
const idle: Instance[] = [];
const IDLE_MAX = 2;

/** An instance for a sandbox of `memoryBytes`: an idle one, else a new one. */
async function takeInstance(memoryBytes: number): Promise<Instance> {
  const at = idle.findIndex((i) => i.memoryBytes === memoryBytes);
  return at >= 0 ? idle.splice(at, 1)[0] : newInstance(memoryBytes);
}

/**
 * Keeps `instance` for the next sandbox when all its heap is free again, as it was new: the next
 * runtime then allocates at the same addresses, and runs out of memory at the same allocation, as
 * in a fresh instance. Else (it ran out, or something leaked) it is dropped.
 */
function releaseInstance(instance: Instance): void {
  if (instance.ranOut || idle.length >= IDLE_MAX || !emptyHeap(instance, instance.largest)) return;
  idle.push(instance);
}

/** True when malloc hands out a block of `size` bytes (which is then freed). */
function emptyHeap(instance: Pick<Instance, 'malloc' | 'free'>, size: number): boolean {
  const block = instance.malloc(size);
  if (!block) return false;
  instance.free(block);
  return true;
}

/**
 * A QuickJS module of its own whose heap holds `memoryBytes` and not a byte more (to 64 kB). Its
 * memory is allocated at its full size and cannot grow: pages the runtime never touches cost
 * address space, not resident memory. The module needs at least 16 MB, of which the heap is what
 * lies past `heapStart`; a smaller limit is made exact by a reserve malloc'd (never written, so
 * never resident) before the runtime exists. This builds the module as quickjs-emscripten's
 * `newQuickJSWASMModuleFromVariant` does but without its four dynamic `import()`s, which cost about
 * 2 ms each under tsx's loader hooks.
 */
async function newInstance(memoryBytes: number): Promise<Instance> {
  const { wasm, load, heapStart, minPages } = await loadEngine();
  const pages = Math.min(Math.max(Math.ceil((heapStart + memoryBytes) / PAGE), minPages), MAX_PAGES);
  const wasmMemory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const emscripten = await load({ wasmMemory, instantiateWasm: instantiate(wasm) });
  const { _malloc: malloc, _free: free } = emscripten;
  const instance: Omit<Instance, 'module'> = { memoryBytes, malloc, free, largest: 0, ranOut: false };
  // Emscripten asks the memory to grow when malloc finds no room in it; it cannot, and this notes it.
  wasmMemory.grow = () => {
    instance.ranOut = true;
    throw new RangeError('The sandbox memory is at its limit.');
  };
  const reserve = pages * PAGE - heapStart - memoryBytes;
  if (reserve > 0 && !malloc(reserve)) throw new Error(`The sandbox could not reserve ${reserve} bytes of its own memory.`);
  // Bisects on the empty heap (the blocks are never written, so this touches no memory). The
  // failed mallocs matter as much as the size: dlmalloc gives up on a contiguous heap after its
  // first failed sbrk, which changes how much it fits from then on, so every instance goes through
  // the same failures before its runtime exists and starts alike.
  let fails = pages * PAGE;
  while (fails - instance.largest > 8) {
    const size = instance.largest + Math.ceil((fails - instance.largest) / 16) * 8;
    if (emptyHeap(instance, size)) instance.largest = size;
    else fails = size;
  }
  instance.ranOut = false;
  // quickjs-emscripten writes strings and argument arrays where its malloc points without a check:
  // on a full heap that is address 0, QuickJS's own static data. It gets an exception instead.
  emscripten._malloc = (size) => {
    const at = malloc(size);
    if (at) return at;
    instance.ranOut = true;
    throw new HeapFull('The sandbox memory is full.');
  };
  emscripten.type = 'sync';
  return Object.assign(instance, { module: new QuickJSWASMModule(emscripten, new QuickJSFFI(emscripten)) });
}

/** Emscripten's `instantiateWasm` hook over the compiled `wasm`. */
function instantiate(wasm: WebAssembly.Module): NonNullable<Parameters<EmscriptenModuleLoader<QuickJSEmscriptenModule>>[0]>['instantiateWasm'] {
  return (imports, done) => {
    const instance = new WebAssembly.Instance(wasm, imports);
    done(instance);
    return instance.exports;
  };
}

/**
 * Runs in the VM after the script: the one entry point the host calls, so a call is one crossing
 * each way (a JSON string in, a JSON string out). JSON is captured before the policy's code runs.
 */
const INVOKE = `(() => {
  const exports = globalThis.__exports ?? {};
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  globalThis.__invoke = (name, args) => {
    const result = exports[name](...parse(args));
    return result === undefined ? 'null' : stringify(result);
  };
  return Object.keys(exports).filter((k) => typeof exports[k] === 'function');
})()`;

export class Sandbox {
  private disposed = false;
  /** The engine failed under this sandbox: its memory cannot be trusted, so it is dropped, not freed. */
  private broken = false;
  /** The memory failure that stopped the sandbox: later calls fail with it too. */
  private stopped: SandboxError | undefined;

  private constructor(
    private readonly instance: Instance,
    private readonly runtime: QuickJSRuntime,
    private readonly context: QuickJSContext,
    private readonly limits: SandboxLimits,
    /** The VM's `__invoke(name, argsJson) → resultJson`, set once the script is loaded. */
    private invoke: QuickJSHandle | undefined,
    /** Names of the functions the script exported. */
    private readonly exported: Set<string>,
  ) {}

  /**
   * Loads `script` (plain JavaScript, run once at the top level) into a fresh runtime after
   * `prelude`; the script leaves the functions the host may call on `globalThis.__exports`.
   * Throws `SandboxError` when the script fails, runs too long or takes too much memory.
   */
  static async create(script: string, host: HostFunctions, options: { prelude?: string; limits?: Partial<SandboxLimits>; filename?: string } = {}): Promise<Sandbox> {
    const limits = { ...DEFAULT_LIMITS, ...options.limits };
    const instance = await takeInstance(limits.memoryBytes);
    const runtime = instance.module.newRuntime();
    // Only refuses a single allocation larger than the limit (see loadEngine); the memory's size is the limit.
    runtime.setMemoryLimit(limits.memoryBytes);
    runtime.setMaxStackSize(limits.stackBytes);
    // No Date: a policy must act on the observation's time, so episodes stay deterministic.
    const context = runtime.newContext({ intrinsics: { BaseObjects: true, Eval: true, StringNormalize: true, RegExp: true, JSON: true, Proxy: true, MapSet: true, TypedArrays: true, Promise: true } });
    const sandbox = new Sandbox(instance, runtime, context, limits, undefined, new Set());
    let what = 'helper API';
    try {
      sandbox.installHost(host);
      runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.loadMs));
      if (options.prelude) sandbox.dumped(context.evalCode(options.prelude, 'prelude.js'), what);
      what = 'module top level';
      sandbox.dumped(context.evalCode(script, options.filename ?? 'policy.js'), what);
      const names = sandbox.dumped(context.evalCode(INVOKE, 'invoke.js'), what);
      for (const name of Array.isArray(names) ? names : []) sandbox.exported.add(String(name));
      sandbox.invoke = context.getProp(context.global, '__invoke');
      sandbox.checkMemory(what);
    } catch (err) {
      throw sandbox.trapped(err, what, true);
    }
    return sandbox;
  }

  /** True when the loaded script exported a function `name`. */
  has(name: string): boolean {
    return this.exported.has(name);
  }

  /**
   * Calls exported function `name` with JSON-able arguments and returns its JSON-able result,
   * within the per-call deadline. Throws `SandboxError` on an exception, a timeout or a memory
   * blow-up inside; the host process is never at risk. A call that finds the memory full (even if
   * the policy caught QuickJS's error) fails with the memory error, and so does every later call.
   */
  call(name: string, ...args: unknown[]): unknown {
    if (this.stopped) throw this.stopped;
    if (this.disposed || !this.invoke) throw new SandboxError('missing', `The sandbox is disposed; ${name}() cannot be called.`);
    if (!this.exported.has(name)) throw new SandboxError('missing', `The module exports no function ${name}().`);
    const { context } = this;
    const what = `${name}()`;
    let nameHandle: QuickJSHandle | undefined;
    let argsHandle: QuickJSHandle | undefined;
    try {
      nameHandle = context.newString(name);
      argsHandle = context.newString(JSON.stringify(args));
      this.runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + this.limits.callMs));
      const result = context.callFunction(this.invoke, context.undefined, nameHandle, argsHandle);
      this.checkMemory(what);
      if (result.error) throw this.failure(result.error, what);
      try {
        const json = context.getString(result.value);
        this.checkMemory(what);
        return JSON.parse(json);
      } finally {
        if (!this.broken) result.value.dispose();
      }
    } catch (err) {
      throw this.trapped(err, what);
    } finally {
      if (!this.broken) {
        nameHandle?.dispose();
        argsHandle?.dispose();
      }
    }
  }

  /** Frees the runtime, and passes its instance on to the next sandbox; safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.broken) return;
    try {
      this.invoke?.dispose();
      this.context.dispose();
      this.runtime.dispose();
      releaseInstance(this.instance);
    } catch {
      // A runtime that blew up may not free cleanly; its module is this sandbox's alone and goes with it.
    }
  }

  /** Exposes `__host(name, argsJson) → resultJson` and nothing else of the host. */
  private installHost(host: HostFunctions): void {
    const { context } = this;
    const bridge = context.newFunction('__host', (nameHandle, argsHandle) => {
      const name = context.getString(nameHandle);
      const fn = Object.hasOwn(host, name) ? host[name] : undefined;
      if (!fn) return { error: context.newError(`There is no helper '${name}'.`) };
      try {
        const args = JSON.parse(context.getString(argsHandle)) as unknown[];
        return context.newString(JSON.stringify(fn(...args) ?? null));
      } catch (err) {
        return { error: context.newError((err as Error)?.message ?? String(err)) };
      }
    });
    context.setProp(context.global, '__host', bridge);
    bridge.dispose();
  }

  /** The value of a top-level evaluation (through the VM's JSON), or a `SandboxError` naming `what`. */
  private dumped(result: ReturnType<QuickJSContext['evalCode']>, what: string): unknown {
    this.checkMemory(what);
    if (result.error) throw this.failure(result.error, what);
    try {
      const value = this.context.dump(result.value);
      this.checkMemory(what);
      return value;
    } finally {
      if (!this.broken) result.value.dispose();
    }
  }

  /**
   * Throws the memory error when an allocation found the heap full during `what`. What QuickJS
   * and quickjs-emscripten hand back after that is not read: on a full heap QuickJS throws null
   * rather than an error object, and the host's handles may be address 0. The sandbox stops
   * there and its module is dropped, not freed or reused.
   */
  private checkMemory(what: string): void {
    if (!this.instance.ranOut) return;
    this.broken = true;
    this.stopped ??= new SandboxError('memory', outOfMemory(what, this.limits));
    throw this.stopped;
  }

  /**
   * An error out of the engine: a trap of the wasm module, or the host's own stack overflowing
   * under it, leaves the module in an unknown state, so it is dropped with this sandbox (every
   * sandbox has a module of its own) and the error becomes a `SandboxError`; so does any error
   * once the heap was found full (see `checkMemory`). `dispose` frees the sandbox as well.
   */
  private trapped(err: unknown, what: string, dispose = false): unknown {
    let result: unknown;
    try {
      this.checkMemory(what);
      const engineFailed = err instanceof WebAssembly.RuntimeError || err instanceof RangeError;
      if (engineFailed) this.broken = true;
      result = engineFailed ? new SandboxError('exception', `The sandbox engine itself failed (${(err as Error).message}); the policy was stopped.`) : err;
    } catch (stopped) {
      result = stopped;
    }
    if (dispose || this.broken) this.dispose();
    return result;
  }

  /** A VM exception as a `SandboxError` (the handle is freed). */
  private failure(handle: QuickJSHandle, what: string): SandboxError {
    const error = this.context.dump(handle) as unknown;
    handle.dispose();
    return classify(error, what, this.limits);
  }
}

/** The message of a memory failure of `what`. */
function outOfMemory(what: string, limits: SandboxLimits): string {
  return `The policy's ${what} ran out of its ${limits.memoryBytes >> 20} MB of memory and was stopped.`;
}


/** A VM error as a `SandboxError` that names the failure and the fix. */
function classify(thrown: unknown, what: string, limits: SandboxLimits): SandboxError {
  // A thrown string, number, null...: a message with no name or stack.
  const error = typeof thrown === 'object' && thrown !== null ? (thrown as { name?: string; message?: string; stack?: string }) : String(thrown);
  const name = typeof error === 'string' ? 'Error' : (error.name ?? 'Error');
  const message = typeof error === 'string' ? error : (error.message ?? String(error));
  if (name === 'InternalError' && /interrupted/.test(message)) {
    const ms = what === 'module top level' || what === 'helper API' ? limits.loadMs : limits.callMs;
    return new SandboxError('timeout', `The policy's ${what} ran over its limit of ${ms} ms (an endless loop?) and was stopped.`);
  }
  if (/out of memory/i.test(message)) return new SandboxError('memory', outOfMemory(what, limits));
  if (/stack overflow|call stack size/i.test(message)) {
    return new SandboxError('memory', `The policy's ${what} overflowed its ${limits.stackBytes >> 10} kB stack (endless recursion?) and was stopped.`);
  }
  const stack = typeof error === 'string' ? '' : (error.stack ?? '').split('\n').filter((l) => l.trim()).slice(0, 3).join(' | ');
  return new SandboxError('exception', `The policy's ${what} threw ${name}: ${message}${stack ? ` (at ${stack.trim()})` : ''}`);
}
