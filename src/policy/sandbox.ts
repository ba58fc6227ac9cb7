/**
 * The sandbox code policies run in: QuickJS compiled to WebAssembly (quickjs-emscripten), one
 * runtime per episode with a memory limit, a stack limit and a deadline per call.
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
import releaseSync from '@jitl/quickjs-wasmfile-release-sync';
import {
  newQuickJSWASMModuleFromVariant, shouldInterruptAfterDeadline,
  type QuickJSContext, type QuickJSHandle, type QuickJSRuntime, type QuickJSWASMModule,
} from 'quickjs-emscripten-core';

/** What a sandbox may use. */
export interface SandboxLimits {
  /** Heap of the runtime (bytes). */
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

let engine: Promise<QuickJSWASMModule> | undefined;

/** The QuickJS wasm module, loaded once per thread (about 30 ms). */
function loadEngine(): Promise<QuickJSWASMModule> {
  engine ??= newQuickJSWASMModuleFromVariant(releaseSync);
  return engine;
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

  private constructor(
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
    const module = await loadEngine();
    const runtime = module.newRuntime();
    runtime.setMemoryLimit(limits.memoryBytes);
    runtime.setMaxStackSize(limits.stackBytes);
    // No Date: a policy must act on the observation's time, so episodes stay deterministic.
    const context = runtime.newContext({ intrinsics: { BaseObjects: true, Eval: true, StringNormalize: true, RegExp: true, JSON: true, Proxy: true, MapSet: true, TypedArrays: true, Promise: true } });
    const sandbox = new Sandbox(runtime, context, limits, undefined, new Set());
    try {
      sandbox.installHost(host);
      runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.loadMs));
      if (options.prelude) sandbox.dumped(context.evalCode(options.prelude, 'prelude.js'), 'helper API');
      sandbox.dumped(context.evalCode(script, options.filename ?? 'policy.js'), 'module top level');
      const names = sandbox.dumped(context.evalCode(INVOKE, 'invoke.js'), 'module top level');
      for (const name of Array.isArray(names) ? names : []) sandbox.exported.add(String(name));
      sandbox.invoke = context.getProp(context.global, '__invoke');
    } catch (err) {
      throw sandbox.trapped(err, true);
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
   * blow-up inside; the host process is never at risk.
   */
  call(name: string, ...args: unknown[]): unknown {
    if (this.disposed || !this.invoke) throw new SandboxError('missing', `The sandbox is disposed; ${name}() cannot be called.`);
    if (!this.exported.has(name)) throw new SandboxError('missing', `The module exports no function ${name}().`);
    const { context } = this;
    const nameHandle = context.newString(name);
    const argsHandle = context.newString(JSON.stringify(args));
    try {
      this.runtime.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + this.limits.callMs));
      const result = context.callFunction(this.invoke, context.undefined, nameHandle, argsHandle);
      if (result.error) throw this.failure(result.error, `${name}()`);
      try {
        return JSON.parse(context.getString(result.value));
      } finally {
        result.value.dispose();
      }
    } catch (err) {
      throw this.trapped(err);
    } finally {
      if (!this.broken) {
        nameHandle.dispose();
        argsHandle.dispose();
      }
    }
  }

  /** Frees the runtime; safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.broken) return;
    try {
      this.invoke?.dispose();
      this.context.dispose();
      this.runtime.dispose();
    } catch {
      // A runtime that blew up may not free cleanly: load a fresh module next time rather than reuse it.
      engine = undefined;
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
    if (result.error) throw this.failure(result.error, what);
    try {
      return this.context.dump(result.value);
    } finally {
      result.value.dispose();
    }
  }

  /**
   * An error out of the engine: a trap of the wasm module, or the host's own stack overflowing
   * under it, leaves the module in an unknown state, so it is dropped (the next sandbox loads a
   * fresh one) and the error becomes a `SandboxError`. `dispose` frees the sandbox as well.
   */
  private trapped(err: unknown, dispose = false): unknown {
    const engineFailed = err instanceof WebAssembly.RuntimeError || err instanceof RangeError;
    if (engineFailed) {
      this.broken = true;
      engine = undefined;
    }
    if (dispose || engineFailed) this.dispose();
    if (!engineFailed) return err;
    return new SandboxError('exception', `The sandbox engine itself failed (${(err as Error).message}); the policy was stopped.`);
  }

  /** A VM exception as a `SandboxError` (the handle is freed). */
  private failure(handle: QuickJSHandle, what: string): SandboxError {
    const error = this.context.dump(handle) as { name?: string; message?: string; stack?: string } | string;
    handle.dispose();
    return classify(error, what, this.limits);
  }
}


/** A VM error as a `SandboxError` that names the failure and the fix. */
function classify(error: { name?: string; message?: string; stack?: string } | string, what: string, limits: SandboxLimits): SandboxError {
  const name = typeof error === 'string' ? 'Error' : (error.name ?? 'Error');
  const message = typeof error === 'string' ? error : (error.message ?? String(error));
  if (name === 'InternalError' && /interrupted/.test(message)) {
    const ms = what === 'module top level' || what === 'helper API' ? limits.loadMs : limits.callMs;
    return new SandboxError('timeout', `The policy's ${what} ran over its limit of ${ms} ms (an endless loop?) and was stopped.`);
  }
  if (/out of memory/i.test(message)) {
    return new SandboxError('memory', `The policy's ${what} ran out of its ${limits.memoryBytes >> 20} MB of memory and was stopped.`);
  }
  if (/stack overflow|call stack size/i.test(message)) {
    return new SandboxError('memory', `The policy's ${what} overflowed its ${limits.stackBytes >> 10} kB stack (endless recursion?) and was stopped.`);
  }
  const stack = typeof error === 'string' ? '' : (error.stack ?? '').split('\n').filter((l) => l.trim()).slice(0, 3).join(' | ');
  return new SandboxError('exception', `The policy's ${what} threw ${name}: ${message}${stack ? ` (at ${stack.trim()})` : ''}`);
}
