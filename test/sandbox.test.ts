import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileCode } from '../src/policy/code.ts';
import { loadPolicyFile, resolvePolicy, type PolicyFile } from '../src/policy/file.ts';
import { Sandbox, SandboxError } from '../src/policy/sandbox.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { ValidationError } from '../src/scenario/validate.ts';
import { SCENARIO_PATH, scenario, tunedPolicy } from './helpers.ts';

const sc = await scenario();

/** A sandbox running `source` (TypeScript) with no helpers. */
function sandboxOf(source: string, limits = {}) {
  return Sandbox.create(compileCode(source, 'ts'), {}, { limits });
}

/** A code policy file. */
const code = (source: string): PolicyFile => ({ kind: 'code', source, language: 'ts' });

describe('the sandbox', () => {
  it('stops an endless loop within its per-call limit, and the host goes on', async () => {
    const box = await sandboxOf('export function act() { for (;;) {} }', { callMs: 50 });
    const started = performance.now();
    expect(() => box.call('act')).toThrow(/ran over its limit of 50 ms/);
    // The deadline is checked by the interpreter itself: it stops close to the limit, not at a guard far later.
    expect(performance.now() - started).toBeLessThan(2000);
    box.dispose();
    const next = await sandboxOf('export function act(x: number) { return x + 1; }');
    expect(next.call('act', 41)).toBe(42);
    next.dispose();
  });

  it('stops a memory bomb and a runaway recursion', async () => {
    const bomb = await sandboxOf('const keep: number[][] = []; export function act() { for (;;) keep.push(new Array(1e5).fill(1)); }', { memoryBytes: 16 << 20 });
    expect(() => bomb.call('act')).toThrow(SandboxError);
    expect(() => bomb.call('act')).toThrow(/ran out of its 16 MB of memory/);
    bomb.dispose();
    const deep = await sandboxOf('function f(n: number): number { return f(n + 1) + 1; } export function act() { return f(0); }');
    expect(() => deep.call('act')).toThrow(/overflowed its 256 kB stack/);
    deep.dispose();
    // A top-level bomb is stopped while the module loads.
    await expect(sandboxOf('const a: number[][] = []; for (;;) a.push(new Array(1e5).fill(0)); export function act() {}', { memoryBytes: 8 << 20 })).rejects.toThrow(
      /module top level ran out of its 8 MB/,
    );
  });

  it('counts every allocation against the memory limit, and stops a bomb at it within a moment', async () => {
    // 64 arrays of 1 MB, each far under the limit, together four times it.
    const hoard = await sandboxOf('export function act() { const a: Float64Array[] = []; for (let i = 0; i < 64; i++) a.push(new Float64Array(1 << 17)); return a.length; }', { memoryBytes: 16 << 20 });
    expect(() => hoard.call('act')).toThrow(/act\(\) ran out of its 16 MB of memory and was stopped/);
    hoard.dispose();
    // The deadline is far off: the memory limit alone stops it, before the process has grown by much more than the limit.
    for (const item of ['new Float64Array(1 << 17)', '{ n: keep.length }']) {
      const bomb = await sandboxOf(`const keep: unknown[] = []; export function act() { for (;;) keep.push(${item}); } export function ping() { return 1; }`, { memoryBytes: 16 << 20, callMs: 5000 });
      const rss = process.memoryUsage().rss;
      const started = performance.now();
      expect(() => bomb.call('act'), item).toThrow(/act\(\) ran out of its 16 MB of memory/);
      expect(performance.now() - started, item).toBeLessThan(1500);
      expect(process.memoryUsage().rss - rss, item).toBeLessThan(48 << 20);
      // Stopped: later calls fail the same way rather than run on a full heap.
      expect(() => bomb.call('ping', 'x'.repeat(1 << 20))).toThrow(/act\(\) ran out of its 16 MB of memory/);
      bomb.dispose();
    }
    // QuickJS throws null when even its error object does not fit; a policy's own `throw null` is an exception.
    const thrower = await sandboxOf('export function act() { throw null; }');
    expect(() => thrower.call('act')).toThrow(/act\(\) threw Error: null/);
    thrower.dispose();
  });

  it('runs out at the same allocation every time, under a limit smaller than the engine itself', async () => {
    let held = 0;
    const host = { note: (n: unknown) => void (held = n as number) };
    const script = compileCode(
      `declare const __host: (name: string, args: string) => string;
      const keep: Float64Array[] = [];
      export function act() { for (;;) { keep.push(new Float64Array(1024)); __host('note', JSON.stringify([keep.length])); } }
      export function light() { return Array.from({ length: 1000 }, (_, i) => ({ i })).length; }`,
      'ts',
    );
    const limits = { memoryBytes: 8 << 20, callMs: 5000 };
    const counts: number[] = [];
    const bomb = async () => {
      const box = await Sandbox.create(script, host, { limits });
      expect(() => box.call('act')).toThrow(/act\(\) ran out of its 8 MB of memory/);
      box.dispose();
      counts.push(held);
    };
    // Sandboxes kept open hold every engine instance a disposed one left: the first bomb gets a new one.
    const open = await Promise.all([0, 1, 2].map(() => Sandbox.create(script, host, { limits })));
    for (const box of open) expect(box.call('light')).toBe(1000);
    await bomb();
    // A sandbox that ends cleanly leaves its instance to the next one: these bombs run in used ones.
    for (const box of open) box.dispose();
    await bomb();
    await bomb();
    expect(counts).toEqual([counts[0], counts[0], counts[0]]);
    // 8 kB each: the 8 MB, less what QuickJS itself takes, and no more.
    expect(counts[0]).toBeGreaterThan(900);
    expect(counts[0]).toBeLessThan(1024);
  });

  it('has no require, process, import(), fetch, timers or Date, and constructor tricks reach only the sandbox', async () => {
    const box = await sandboxOf(`
      let imported = 'never';
      export function act() {
        const g = globalThis as any;
        const viaConstructor = (({}).constructor.constructor('return this'))();
        let viaFunction: string;
        try { viaFunction = typeof (Function('return process')()); } catch (e) { viaFunction = 'threw ' + (e as Error).name; }
        const spec = 'node:' + 'fs';
        try { (0, eval)('import(spec)').then(() => { imported = 'loaded'; }, () => { imported = 'rejected'; }); } catch (e) { imported = 'threw'; }
        return {
          require: typeof g.require, process: typeof g.process, fetch: typeof g.fetch, setTimeout: typeof g.setTimeout,
          setInterval: typeof g.setInterval, queueMicrotask: typeof g.queueMicrotask, Date: typeof g.Date, host: typeof g.__host,
          constructorGlobalHasProcess: typeof viaConstructor.process, viaFunction, os: typeof g.os, std: typeof g.std,
        };
      }
      export function later() { return imported; }
    `);
    expect(box.call('act')).toEqual({
      require: 'undefined', process: 'undefined', fetch: 'undefined', setTimeout: 'undefined', setInterval: 'undefined',
      queueMicrotask: 'undefined', Date: 'undefined', host: 'function', constructorGlobalHasProcess: 'undefined', viaFunction: 'threw ReferenceError',
      os: 'undefined', std: 'undefined',
    });
    // No module loader and no job queue run: a dynamic import never loads anything.
    expect(box.call('later')).not.toBe('loaded');
    box.dispose();
  });

  it('refuses imports, syntax errors and a module without act() when the policy is resolved, naming the line', () => {
    expect(() => resolvePolicy(code("import { readFileSync } from 'node:fs';\nexport function act() { return readFileSync('/etc/passwd'); }"), sc, 'p.ts')).toThrow(
      /p\.ts: source: does not compile at line 1, column \d+: Could not resolve "node:fs" \(a policy cannot import anything/,
    );
    expect(() => resolvePolicy(code('export function act( {'), sc, 'p.ts')).toThrow(/does not compile at line 1/);
    expect(() => resolvePolicy(code('export function reset() {}'), sc, 'p.ts')).toThrow(/exports no act\(\) \(it exports: reset\)/);
    expect(() => resolvePolicy(code("const spec = 'fs'; export async function act() { await import(spec); }"), sc, 'p.ts')).not.toThrow();
    expect(() => resolvePolicy({ kind: 'code', source: '' }, sc, 'p.ts')).toThrow(ValidationError);
    const ok = resolvePolicy({ kind: 'code', source: 'export const act = (o: any) => o;' }, sc);
    expect(ok).toEqual({ kind: 'code', source: 'export const act = (o: any) => o;', language: 'ts' });
  });
});

describe('code policies in episodes', () => {
  let runner: EpisodeRunner;
  beforeAll(async () => {
    runner = await EpisodeRunner.create(sc);
  });
  afterAll(() => runner.close());

  it('a module sequencing the skill primitives acts exactly as the params policy, bit for bit', async () => {
    const policy = loadPolicyFile('scenarios/pick-place.tuned.ts', sc);
    expect(policy.kind).toBe('code');
    for (const seed of [3, 1001]) {
      const a = await runner.run(tunedPolicy(), seed);
      const b = await runner.run(policy, seed);
      expect(b.score).toBe(a.score);
      expect(b.terms).toEqual(a.terms);
      for (const [name, topic] of a.trace.topics) {
        expect(Buffer.from(b.trace.topic(name).data.buffer).equals(Buffer.from(topic.data.buffer)), name).toBe(true);
      }
      // The phases it stepped are the trace's phase marks, as the params controller's are.
      expect(b.trace.meta.phases).toEqual(expect.arrayContaining([expect.objectContaining({ phase: 'grasp' }), expect.objectContaining({ phase: 'release' })]));
    }
  });

  it('uses the IK helpers, and turns a throw, a hang or a bad action into an episode error with the reason', async () => {
    const reach = code(`
      let q0: number[] = [];
      export function reset(obs: any) { q0 = obs.position; }
      export function act(obs: any) {
        const target = arbor.fk(q0).pos;
        return { position: arbor.ikStep({ pos: [target[0], target[1], target[2] - 0.05] }, obs.position, { gain: 0.5 }), gripperWidth: arbor.gripper.open, phase: 'hover' };
      }
      declare const arbor: any;`);
    const run = await runner.run(resolvePolicy(reach, sc), 2);
    // It hovers, never touching the cube: a miss, scored like any other episode.
    expect(run.outcome).toBe('miss');
    expect(run.trace.meta.phases).toEqual([expect.objectContaining({ t: 0, phase: 'hover' })]);
    await expect(runner.run(code('export function act(obs: any) { if (obs.time > 0.5) throw new Error("lost the cube"); return { position: obs.position, gripperWidth: 0 }; }'), 1)).rejects.toThrow(
      /act\(\) threw Error: lost the cube/,
    );
    await expect(runner.run(code('export function act() { while (true) {} }'), 1)).rejects.toThrow(/act\(\) ran over its limit of 100 ms/);
    await expect(runner.run(code('export function act() { return { position: [1, 2], gripperWidth: 0 }; }'), 1)).rejects.toThrow(/position must list 6 joint targets/);
    await expect(runner.run(code('export function act() { return arbor.skill.step("dance"); } declare const arbor: any;'), 1)).rejects.toThrow(
      /'dance' is not a phase of the pick-and-place skill/,
    );
    // The runner is unharmed.
    expect((await runner.run(tunedPolicy(), 3)).success).toBe(true);
  });
});

describe('code policies in the evaluator pool', () => {
  it('a hung or throwing candidate becomes a crash result with its reason, and the workers go on', async () => {
    const pool = await EvaluatorPool.create(SCENARIO_PATH, { workers: 2 });
    try {
      const tuned = readFileSync('scenarios/pick-place.tuned.ts', 'utf8');
      const results = await pool.evaluate([
        { policy: code('export function act() { for (;;) {} }'), seed: 1 },
        { policy: code('export function act() { throw new TypeError("no"); }'), seed: 2 },
        { policy: code(tuned), seed: 3 },
      ]);
      expect(results.map((r) => r.ok)).toEqual([false, false, true]);
      expect(!results[0].ok && results[0].reason).toMatch(/ran over its limit/);
      expect(!results[1].ok && results[1].reason).toMatch(/threw TypeError: no/);
      expect(results[2].ok && results[2].success).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
