/**
 * mujoco-js loaded from its split copy (src/sim/mujoco-module.ts): the same wasm bytes as the
 * base64 inlined in the package's file, JavaScript without that string, and a MuJoCo that runs.
 * (test/golden.test.ts pins whole episodes on it.)
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { importMujoco } from '../src/sim/mujoco-module.ts';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('mujoco-js split copy', () => {
  it("holds the package's own wasm bytes, and its factory instantiates MuJoCo from them", async () => {
    const original = readFileSync(createRequire(import.meta.url).resolve('mujoco-js'), 'utf8');
    const inlined = /return base64Decode\('([A-Za-z0-9+/=]+)'\)/.exec(original);
    expect(inlined, 'mujoco-js no longer inlines its wasm: src/sim/mujoco-module.ts loads it as it is').not.toBeNull();
    const { factory, wasmBinary } = await importMujoco();
    expect(wasmBinary).toBeDefined();
    expect(sha(wasmBinary!)).toBe(sha(Buffer.from(inlined![1], 'base64')));
    const mj = await factory({ wasmBinary, print: () => {}, printErr: () => {} });
    expect(mj.mj_versionString()).toMatch(/^3\.\d+\.\d+/);
  }, 60_000);
});
