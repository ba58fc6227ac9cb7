/**
 * The operator's terminal answers only what a person typed after seeing the question: input that
 * waited before a prompt (a stray `r⏎` while the sim gate ran, answers piped in advance) is dropped,
 * also when it still sat in the OS pipe while this thread was busy. `arbor run --operator` refuses a
 * stdin that is no terminal unless `--scripted-answers` says the answers are scripted. Real OS
 * pipes (a `cat` child) and real `arbor` processes.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { TerminalOperator } from '../src/cli/operator-console.ts';
import type { EpisodePlan } from '../src/evaluation/link-evaluator.ts';
import { ARBOR } from './sim-serve-helpers.ts';

const plan: EpisodePlan = { job: { policy: { kind: 'params', params: {} }, seed: 3 }, candidate: 1, index: 1, total: 2, backend: 'rosbridge', manualReset: false };

/** A real pipe from this process back to itself, through `cat`: what is written arrives as a terminal's keys would. */
function pipeThroughCat(): ChildProcessWithoutNullStreams {
  return spawn('cat', [], { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Blocks this thread, as the sim gate's stepping does: nothing is read from any pipe meanwhile. */
function busy(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Resolves once `text` has been written to `output`. */
function shown(output: PassThrough, text: string): Promise<void> {
  let seen = '';
  return new Promise((done) => output.on('data', (d: Buffer) => (seen += d.toString()).includes(text) && done()));
}

let cat: ChildProcessWithoutNullStreams | undefined;
afterEach(() => {
  cat?.kill();
  cat = undefined;
});

describe('the operator terminal', () => {
  it('drops answers typed before the question, even those still in the pipe, and takes the one typed after', async () => {
    cat = pipeThroughCat();
    const output = new PassThrough();
    const operator = new TerminalOperator(cat.stdout, output);
    cat.stdin.write('r\n'); // typed while the sim gate runs...
    busy(300); // ...which keeps this thread from reading it
    const asked = shown(output, '[r]un, [s]kip or [q] stop the study? ');
    const answer = operator.confirm(plan);
    await asked;
    await new Promise((done) => setTimeout(done, 200));
    cat.stdin.write('s\n');
    expect(await answer).toBe('skip');
    operator.close();
  });

  it('drops input typed before the scene-reset prompt', async () => {
    cat = pipeThroughCat();
    const output = new PassThrough();
    const operator = new TerminalOperator(cat.stdout, output);
    cat.stdin.write('\n');
    busy(300);
    let reset = false;
    const asked = shown(output, 'then press Enter');
    const done = operator.sceneReset(plan).then(() => (reset = true));
    await asked;
    await new Promise((wait) => setTimeout(wait, 200));
    expect(reset).toBe(false);
    cat.stdin.write('\n');
    await done;
    operator.close();
  });

  it('reads scripted answers in order, as given', async () => {
    const input = new PassThrough();
    const operator = new TerminalOperator(input, new PassThrough(), true);
    input.write('r\ns\n');
    expect(await operator.confirm(plan)).toBe('run');
    expect(await operator.confirm(plan)).toBe('skip');
    operator.close();
  });
});

describe('arbor run --operator', () => {
  function arbor(args: string[], stdin: string): Promise<{ code: number | null; stderr: string }> {
    return new Promise((done) => {
      const child = execFile(process.execPath, [...ARBOR, ...args], { timeout: 60_000 }, (error, _stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }));
      child.stdin!.end(stdin);
    });
  }

  it('refuses answers on a pipe unless --scripted-answers says they are scripted, before any study exists', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'arbor-op-console-')), 'op.db');
    const [ran, stray] = await Promise.all([
      arbor(['run', 'scenarios/pick-place.yaml', '--backend', 'rosbridge://127.0.0.1:9', '--operator', '--budget-candidates', '1', '--db', db], 'r\nr\nr\nr\n'),
      arbor(['run', 'scenarios/pick-place.yaml', '--scripted-answers', '--db', db], ''),
    ]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain('--operator asks a person at a terminal before every episode, and stdin is not a terminal');
    expect(ran.stderr).toContain('pass --scripted-answers');
    expect(stray.code).toBe(1);
    expect(stray.stderr).toContain('--scripted-answers says the operator');
    expect(existsSync(db)).toBe(false);
  }, 60_000);
});
