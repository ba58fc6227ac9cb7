/**
 * The Claude researcher end to end, offline: `arbor run --researcher claude` in a child process
 * against a Messages API server on 127.0.0.1 (test/fixtures/messages-server.ts) that answers with
 * scripted replies chosen by generation and turn. Real MuJoCo episodes, real SQLite, real sandbox.
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { dollars, priceOf } from '../src/llm/prices.ts';
import { Store } from '../src/store/store.ts';
import { requestText, startMessagesServer, type MessagesServer, type RecordedRequest, type ScriptedReply } from './fixtures/messages-server.ts';
import { smallScenario } from './study-helpers.ts';

const execFileAsync = promisify(execFile);
const MODEL = 'claude-haiku-4-5';
const TUNED = JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8')).params as Record<string, number>;
const TUNED_CODE = readFileSync('scenarios/pick-place.tuned.ts', 'utf8');
const THROWS = "export function act(obs: { time: number }) { if (obs.time > 0.2) throw new Error('lost track of the cube'); return { position: [0, 0, 0, 0, 0, 0], gripperWidth: 0.08 }; }";
const LOOPS = 'export function act() { for (;;) {} }';

/** A copy of the small scenario whose researcher is Claude, proposing params and code. */
function claudeScenario(candidates: number): { dir: string; file: string } {
  const { dir, file } = smallScenario({ candidates, seeds: 4, validation: 8 });
  writeFileSync(file, `${readFileSync(file, 'utf8')}researcher:\n  name: claude\n  model: ${MODEL}\n  batch: 3\n  probes: 2\n  kinds: [params, code]\n`);
  return { dir, file };
}

/** Which generation a request asks for, and its turn (assistant messages so far). */
function where(request: RecordedRequest): { generation: number; turn: number } {
  const first = request.body.messages[0]?.content as { text?: string }[] | string;
  const text = typeof first === 'string' ? first : (first?.[0]?.text ?? '');
  return { generation: Number(/^Generation (\d+)\./.exec(text)?.[1] ?? -1), turn: request.body.messages.filter((m) => m.role === 'assistant').length };
}

const call = (id: string, name: string, input: unknown) => ({ type: 'tool_use' as const, id, name, input });
const message = (...content: ReturnType<typeof call>[]): ScriptedReply => ({ kind: 'message', content, usage: { input_tokens: 1200, output_tokens: 300, cache_creation_input_tokens: 0, cache_read_input_tokens: 4000 } });

/** Runs arbor with the server as the API. */
function arborEnv(server: MessagesServer): NodeJS.ProcessEnv {
  return { ...process.env, ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url };
}

/** The expected dollars of everything the server answered. */
function answeredDollars(server: MessagesServer): number {
  const price = priceOf(MODEL)!;
  return server.usages.reduce((sum, u) => sum + dollars({ input: u.input_tokens, output: u.output_tokens, cacheWrite: u.cache_creation_input_tokens, cacheRead: u.cache_read_input_tokens }, price), 0);
}

let server: MessagesServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('--researcher claude', () => {
  it('fails at once without ANTHROPIC_API_KEY, saying how to set it, and creates no study', async () => {
    const { dir, file } = claudeScenario(10);
    const env = { ...process.env };
    delete env.ANTHROPIC_API_KEY;
    const error = await execFileAsync(process.execPath, ['bin/arbor.js', 'run', file, '--db', join(dir, 'k.db')], { env }).catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toMatch(/--researcher claude calls the Anthropic Messages API and needs an API key, but ANTHROPIC_API_KEY is not set\. Set it in the environment \(export ANTHROPIC_API_KEY=/);
    const unpriced = await execFileAsync(process.execPath, ['bin/arbor.js', 'run', file, '--db', join(dir, 'k.db'), '--model', 'gpt-5'], { env: { ...env, ANTHROPIC_API_KEY: 'x' } }).catch((e) => e);
    expect(unpriced.stderr).toMatch(/Model 'gpt-5' has no price in src\/llm\/prices\.ts/);
  });

  it('runs a whole study: tools, a repaired input, a retried 529, empty and cut-off replies, code that works, throws and hangs; costs add up', async () => {
    const { dir, file } = claudeScenario(10);
    const seen = new Set<string>();
    server = await startMessagesServer((request) => {
      const { generation, turn } = where(request);
      const key = `${generation}/${turn}`;
      const first = !seen.has(key);
      seen.add(key);
      const id = (k: number) => `tu_${generation}_${turn}_${k}`;
      if (generation === 1) {
        if (turn === 0 && first) return { kind: 'error', status: 529, type: 'overloaded_error' };
        if (turn === 0) return message(call(id(0), 'read_results', {}), call(id(1), 'read_episodes', { candidate: 1, failed_only: true, limit: 2 }));
        if (turn === 1) return message(call(id(0), 'probe', { policy: { kind: 'params', params: { grasp_depth: 0.02 } }, episodes: 1 }));
        // Out of range and no rationale: sent back for repair.
        if (turn === 2) return message(call(id(0), 'propose', { candidates: [{ kind: 'params', params: { grasp_depth: 0.5 } }] }));
        return message(call(id(0), 'propose', {
          candidates: [
            { kind: 'params', params: TUNED, rationale: 'grasp deeper and correct the 2.5 cm offset seen at every grasp' },
            { kind: 'code', source: TUNED_CODE, rationale: 'the skill phases in order, as code' },
            { kind: 'code', source: THROWS, rationale: 'a controller that gives up' },
          ],
        }));
      }
      if (generation === 2) {
        if (turn === 0) return { kind: 'message', content: [] };
        if (turn === 1) return { kind: 'message', content: [{ type: 'text', text: 'Let me write a long controller: export function act(obs) { const' }], stopReason: 'max_tokens' };
        return message(call(id(0), 'read_scenario', {}), call(id(1), 'propose', {
          candidates: [
            { kind: 'code', source: LOOPS, rationale: 'think forever' },
            { kind: 'params', params: { ...TUNED, transport_speed: 0.6 }, rationale: 'carry slower' },
          ],
        }));
      }
      // Generation 3: the same invalid input every time, until the repairs run out.
      return message(call(id(0), 'propose', { candidates: [{ kind: 'params', params: { lift_height: 9 }, rationale: 'lift very high' }] }));
    });
    const db = join(dir, 'claude.db');
    const { stdout } = await execFileAsync(process.execPath, ['bin/arbor.js', 'run', file, '--db', db, '--workers', '2', '--json'], { env: arborEnv(server), maxBuffer: 1 << 24 });
    const out = JSON.parse(stdout);
    expect(out.status).toBe('done');
    expect(out.stop_reason).toBe('budget-candidates');

    const store = Store.open(db, { readonly: true });
    const candidates = store.candidates(out.study);
    const byRationale = (text: string) => candidates.find((c) => c.rationale.includes(text))!;
    // Every kind and every verdict.
    expect(new Set(candidates.map((c) => c.kind))).toEqual(new Set(['params', 'code']));
    expect(byRationale('correct the 2.5 cm offset').status).toBe('keep');
    const code = byRationale('as code');
    expect(code.kind).toBe('code');
    expect(code.successRate).toBe(1);
    expect(byRationale('gives up')).toMatchObject({ status: 'crash', note: expect.stringMatching(/threw Error: lost track of the cube/) });
    expect(byRationale('think forever')).toMatchObject({ status: 'crash', note: expect.stringMatching(/ran over its limit of 100 ms/) });
    expect(byRationale('lift very high')).toMatchObject({ status: 'invalid', note: expect.stringMatching(/lift_height: = 9 is outside its range/) });
    expect(store.episodes({ candidateId: byRationale('lift very high').id })).toHaveLength(0);

    // The conversation: the 529 was retried, the bad input came back as a tool error and was repaired,
    // the empty and the cut-off replies were nudged, and generation 3 gave up after 3 repairs.
    const requests = server.requests.map(where);
    expect(requests.filter((r) => r.generation === 1 && r.turn === 0)).toHaveLength(2);
    const texts = server.requests.map(requestText);
    expect(texts.some((t) => /The input of propose does not validate: .*rationale.*Fix it and call propose again/s.test(t))).toBe(true);
    expect(texts.some((t) => /Your reply was empty\. Call propose/.test(t))).toBe(true);
    expect(texts.some((t) => /cut off at the output token limit/.test(t))).toBe(true);
    expect(requests.filter((r) => r.generation === 3)).toHaveLength(4);
    // Evidence and reflection reached the model: the baseline's failures in generation 1, the per-term outcomes in 2.
    expect(texts[0]).toMatch(/grasp began at [\d.]+ s with the tool point [\d.]+ cm from the cube centre/);
    expect(texts.find((_, i) => requests[i].generation === 2)).toMatch(/score terms \(mean\): success 1, place_error/);
    // The probe ran and its evidence came back; the hidden calibration error never reached the model.
    expect(texts.some((t) => /"outcome":"\w+".*"summary":\["phases:/.test(t))).toBe(true);
    const systems = JSON.stringify(server.requests.map((r) => r.body.system));
    expect(/object_offset|object_jitter/.test(systems)).toBe(false);
    // The stable prefix is cached: the system text and the last tool carry cache_control.
    expect(server.requests[0].body.system).toEqual([expect.objectContaining({ cache_control: { type: 'ephemeral' } })]);
    expect(server.requests[0].body.tools?.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(server.requests[0].body.model).toBe(MODEL);

    // Costs add up: the study's dollars are what the server's replies cost, and the candidates share them.
    const expected = answeredDollars(server);
    expect(expected).toBeGreaterThan(0);
    expect(out.cost_usd).toBeCloseTo(expected, 9);
    expect(store.study(out.study)!.costUsd).toBeCloseTo(expected, 9);
    expect(candidates.reduce((sum, c) => sum + c.costUsd, 0)).toBeCloseTo(expected, 9);
    store.close();

    const shown = await execFileAsync(process.execPath, ['bin/arbor.js', 'show', out.study, '--db', db]);
    expect(shown.stdout).toMatch(/candidate\s+gen\s+score\s+success\s+episodes\s+status\s+cost\s+description/);
    const best = await execFileAsync(process.execPath, ['bin/arbor.js', 'best', out.study, '--db', db]);
    expect(JSON.parse(best.stdout).params.grasp_offset_x).toBe(TUNED.grasp_offset_x);
  });

  it('killed with SIGKILL in the middle of a generation, resumes without asking the model again for anything it answered', async () => {
    const { dir, file } = claudeScenario(5);
    let killed: () => void = () => {};
    const heldUp = new Promise<void>((resolve) => (killed = resolve));
    let holding = true;
    server = await startMessagesServer((request) => {
      const { generation, turn } = where(request);
      const id = `tu_${generation}_${turn}`;
      if (generation === 2 && turn === 1 && holding) {
        killed();
        return { kind: 'hold' };
      }
      if (turn === 0) return message(call(id, 'read_episodes', { candidate: 1, limit: 1 }));
      return message(call(id, 'propose', { candidates: [{ kind: 'params', params: { ...TUNED, lift_height: 0.1 + generation / 100 }, rationale: `generation ${generation}` }] }));
    });
    const db = join(dir, 'kill.db');
    const child = spawn(process.execPath, ['bin/arbor.js', 'run', file, '--db', db, '--workers', '2'], { env: arborEnv(server), stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await heldUp;
    child.kill('SIGKILL');
    await exited;
    const before = Store.open(db, { readonly: true });
    const id = before.studies()[0].id;
    const episodesBefore = before.episodes({ studyId: id }).length;
    const costBefore = before.study(id)!.costUsd;
    before.close();
    // Generation 2's first reply was answered and booked before the kill.
    expect(costBefore).toBeCloseTo(answeredDollars(server), 9);

    holding = false;
    const requestsBefore = server.requests.length;
    const { stdout } = await execFileAsync(process.execPath, ['bin/arbor.js', 'resume', id, '--db', db, '--workers', '2', '--json'], { env: arborEnv(server), maxBuffer: 1 << 24 });
    const out = JSON.parse(stdout);
    expect(out.status).toBe('done');
    const resumed = server.requests.slice(requestsBefore).map(where);
    // The resume asked only for what had no answer: generation 2's held turn.
    expect(resumed[0]).toEqual({ generation: 2, turn: 1 });
    expect(resumed.filter((r) => r.generation === 1)).toHaveLength(0);
    const answeredKeys = server.requests.map(where).map((r) => `${r.generation}/${r.turn}`);
    expect(answeredKeys.filter((k) => k === '2/1')).toHaveLength(2);
    expect(server.answered).toBe(server.requests.length - 1);
    // Nothing lost: every episode from before is still there, and the dollars add up over both runs.
    const after = Store.open(db, { readonly: true });
    expect(after.episodes({ studyId: id }).length).toBeGreaterThanOrEqual(episodesBefore);
    expect(after.candidates(id).map((c) => c.rationale)).toEqual(expect.arrayContaining(['generation 1', 'generation 2']));
    expect(out.cost_usd).toBeCloseTo(answeredDollars(server), 9);
    after.close();
  });
});
