/**
 * The sources type-check (src, test, bench, bin). A test file rather than a step before vitest so
 * that tsc, which uses one core, runs beside the other test files instead of ahead of them.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

it('tsc --noEmit finds no type error', async () => {
  const result = await run(process.execPath, [tsc, '--noEmit', '--pretty', 'false'], { maxBuffer: 64 * 2 ** 20 }).catch((error: { code?: number; stdout?: string }) => error);
  // On failure tsc prints every error on stdout: show them, not only the exit code.
  expect('code' in result ? result.stdout : '', 'tsc --noEmit reported errors').toBe('');
}, 300_000);
