/**
 * Fuzzing the scenario and policy loaders: random mutations of the shipped files (seeded, so a
 * failure reproduces), bounded in count. Every outcome must be a clear error — a ValidationError
 * or MjcfError naming the file, or a sentence — or a valid scenario/policy that then runs an
 * episode; never a stack trace from deep inside (TypeError, RangeError...) and never a hang.
 * ARBOR_FUZZ_SEED=N explores other mutations (seeds 1..6 were tried clean).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { ValidationError } from '../src/scenario/validate.ts';
import { MjcfError } from '../src/sim/model-files.ts';
import { Rng } from '../src/scenario/rng.ts';
import { scenario } from './helpers.ts';

const root = resolve('.');
const dir = mkdtempSync(join(tmpdir(), 'arbor-fuzz-'));
const WEIRD = ['0', '-1', '1e308', '-1e308', '1e9', '.nan', '.inf', 'abc', '', 'null', '[1, 2]', '{}', '"7"', '0x10', '~', '&a', '*a'];
const PUNCTUATION = [':', '[', ']', '{', '}', '-', '#', '"', "'", '\t', '\n', ',', '&', '*', '!', '|', '>'];

/** One random edit of a text: a number made weird, a line dropped, doubled or swapped, a character lost or added. */
function mutate(text: string, rng: Rng): string {
  const lines = text.split('\n');
  const pick = (n: number) => Math.floor(rng.next() * n);
  const i = pick(lines.length);
  switch (pick(7)) {
    case 0: {
      const numbers = [...lines[i].matchAll(/-?\d+(\.\d+)?(e-?\d+)?/g)];
      if (numbers.length === 0) return mutate(text, rng);
      const m = numbers[pick(numbers.length)];
      lines[i] = lines[i].slice(0, m.index) + WEIRD[pick(WEIRD.length)] + lines[i].slice(m.index! + m[0].length);
      break;
    }
    case 1:
      lines.splice(i, 1);
      break;
    case 2:
      lines.splice(i, 0, lines[i]);
      break;
    case 3: {
      const j = pick(lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      break;
    }
    case 4: {
      const at = pick(lines[i].length + 1);
      lines[i] = lines[i].slice(0, at) + lines[i].slice(at + 1);
      break;
    }
    case 5: {
      const at = pick(lines[i].length + 1);
      lines[i] = lines[i].slice(0, at) + PUNCTUATION[pick(PUNCTUATION.length)] + lines[i].slice(at);
      break;
    }
    default: {
      // A key renamed by one letter.
      const key = /^(\s*)([a-z_]+):/.exec(lines[i]);
      if (!key) return mutate(text, rng);
      lines[i] = lines[i].replace(key[2], `${key[2]}x`);
    }
  }
  return lines.join('\n');
}

/** A clear error: arbor's own error types, or a plain Error whose message is a sentence about the input. */
function expectClear(error: unknown, what: string): void {
  if (error instanceof ValidationError || error instanceof MjcfError) {
    expect(error.message.length, what).toBeGreaterThan(10);
    return;
  }
  expect(error, what).toBeInstanceOf(Error);
  expect((error as Error).constructor, `${what}: ${(error as Error).stack}`).toBe(Error);
  expect((error as Error).message, what).not.toMatch(/undefined|Cannot read prop|is not a function|is not iterable/);
}

/** Runs one episode of each valid scenario or policy (at most `limit`), which must finish or fail with a clear error. */
async function runEpisodes(cases: { scenario: LoadedScenario; policy?: Parameters<EpisodeRunner['run']>[0]; what: string }[], limit: number): Promise<number> {
  let ran = 0;
  for (const c of cases.slice(0, limit)) {
    // An episode of the fuzzed length would be long: a short one proves the scenario runs.
    const short = { ...c.scenario, episode: { ...c.scenario.episode, duration: Math.min(c.scenario.episode.duration, 0.5) } };
    const runner = await EpisodeRunner.create(short).catch((e: unknown) => e);
    if (!(runner instanceof EpisodeRunner)) {
      expectClear(runner, c.what);
      continue;
    }
    try {
      const policy = c.policy ?? (await import('../src/policy/file.ts')).defaultPolicy(short);
      const result = await runner.run(policy, 3).catch((e: unknown) => e);
      if (result instanceof Error) expectClear(result, c.what);
      else ran++;
    } finally {
      await runner.close();
    }
  }
  return ran;
}

describe('fuzzing the loaders', () => {
  it('a mutated scenario is a clear error or a scenario that runs', { timeout: 240_000 }, async () => {
    const base = readFileSync('scenarios/pick-place.yaml', 'utf8').replace('robot: ../robots/', `robot: ${root}/robots/`).replace('world: ../sim/', `world: ${root}/sim/`);
    const rng = new Rng(Number(process.env.ARBOR_FUZZ_SEED ?? 20261127));
    const valid: { scenario: LoadedScenario; what: string }[] = [];
    let errors = 0;
    for (let k = 0; k < 150; k++) {
      let text = mutate(base, rng);
      if (rng.next() < 0.3) text = mutate(text, rng);
      const file = join(dir, `scenario-${k}.yaml`);
      writeFileSync(file, text);
      const loaded = await loadScenario(file).catch((e: unknown) => e);
      if (loaded instanceof Error) {
        expectClear(loaded, `mutant ${k}`);
        errors++;
      } else valid.push({ scenario: loaded as LoadedScenario, what: `mutant ${k}` });
    }
    // Both kinds of outcome occur, so the mutations probe the validation and the run.
    expect(errors).toBeGreaterThan(30);
    expect(valid.length).toBeGreaterThan(10);
    expect(await runEpisodes(valid, 12)).toBeGreaterThan(5);
  });

  it('a mutated policy file is a clear error or a policy that runs', { timeout: 240_000 }, async () => {
    const sc = await scenario();
    const base = JSON.stringify(JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8')), null, 2);
    const rng = new Rng(Number(process.env.ARBOR_FUZZ_SEED ?? 7));
    const valid: { scenario: LoadedScenario; policy: Parameters<EpisodeRunner['run']>[0]; what: string }[] = [];
    let errors = 0;
    for (let k = 0; k < 150; k++) {
      const file = join(dir, `policy-${k}.json`);
      writeFileSync(file, mutate(base, rng));
      try {
        valid.push({ scenario: sc, policy: loadPolicyFile(file, sc), what: `policy mutant ${k}` });
      } catch (error) {
        expect(error, `policy mutant ${k}`).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).problems.every((p) => p.file === file)).toBe(true);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(30);
    expect(valid.length).toBeGreaterThan(10);
    expect(await runEpisodes(valid, 12)).toBeGreaterThan(5);
  });
});
