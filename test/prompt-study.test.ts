/**
 * Studies over prompt configs, offline: `arbor run` with the hillclimb researcher in a child
 * process, and the Claude researcher proposing a prompt config in-process, both against Messages
 * API servers on 127.0.0.1 whose replies depend on the prompt (test/fixtures/planner-model.ts), so
 * configs really differ in outcome. Real MuJoCo episodes in worker threads, real SQLite.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { dollars, priceOf } from '../src/llm/prices.ts';
import { PromptPolicyFile } from '../src/policy/file.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { defaultStudyConfig } from '../src/study/config.ts';
import { createStudy, runStudy } from '../src/study/study.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';
import { startMessagesServer, type MessagesServer, type RecordedRequest } from './fixtures/messages-server.ts';
import { plannerModel } from './fixtures/planner-model.ts';
import { SORT_SCENARIO, sortScenario } from './fixtures/prompt-study.ts';

const execFileAsync = promisify(execFile);
const shipped = await loadScenario(SORT_SCENARIO);
const [VAGUE, , CAREFUL] = shipped.policy.prompt!.choices.system!;
const ALL_FACTS = ['colour', 'size', 'position', 'distance'];

let server: MessagesServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('a study over prompt configs', () => {
  it('is refused before a study exists when the planner could not reach its model', async () => {
    const { dir, file } = sortScenario({ seeds: 4, validation: 4, candidates: 3, patience: 1 });
    const env = { ...process.env };
    delete env.ANTHROPIC_API_KEY;
    const error = await execFileAsync(process.execPath, ['bin/arbor.js', 'run', file, '--db', join(dir, 'k.db')], { env }).catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toMatch(/A prompt policy calls the Anthropic Messages API and needs an API key, but ANTHROPIC_API_KEY is not set\..* give its address as base_url in the config\./);
    expect(existsSync(join(dir, 'k.db'))).toBe(false);
  });

  it('arbor run with hillclimb completes, keeps the better config, and records tokens, dollars and latency per episode', async () => {
    const { dir, file } = sortScenario({
      seeds: 12, validation: 8, candidates: 9, patience: 2, batch: 4,
      choices: { system: [VAGUE, CAREFUL], scene_facts: [['colour'], ALL_FACTS], replan: [false, true], model: ['claude-haiku-4-5', 'claude-sonnet-4-6'] },
    });
    server = await startMessagesServer(plannerModel());
    const db = join(dir, 'arbor.db');
    const env = { ...process.env, ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url };
    const { stdout } = await execFileAsync(process.execPath, ['bin/arbor.js', 'run', file, '--db', db, '--workers', '2', '--json'], { env, maxBuffer: 1 << 24 });
    const summary = JSON.parse(stdout) as { study: string; status: string; best: { candidate: number; success_rate: number }; validation: { success_rate: number }; baseline: { success_rate: number }; cost_usd: number };
    expect(summary.status).toBe('done');

    const store = Store.open(db, { readonly: true });
    try {
      const candidates = store.candidates(summary.study);
      const [baseline] = candidates;
      const best = candidates.find((c) => c.id === summary.best.candidate)!;
      // The vague baseline answers in prose: nothing succeeds. The best is a kept config that
      // asks for JSON and says not to guess, and it does better on fresh seeds too.
      expect(baseline.kind).toBe('prompt');
      expect(summary.baseline.success_rate).toBe(0);
      expect(best.status).toBe('keep');
      expect(best.id).not.toBe(baseline.id);
      const config = PromptPolicyFile.parse(best.body).config;
      expect(config.system).toBe(CAREFUL);
      expect(summary.validation.success_rate).toBeGreaterThan(0.5);
      expect(candidates.filter((c) => c.status === 'keep').length).toBeGreaterThanOrEqual(2);

      // Every episode of every candidate has its planner's bill: calls, tokens, dollars, seconds.
      const episodes = store.episodes({ studyId: summary.study });
      const price = priceOf('claude-haiku-4-5')!;
      let spent = 0;
      for (const e of episodes) {
        const m = e.metrics as Record<string, number>;
        expect(m.llm_calls + m.cached_calls).toBeGreaterThanOrEqual(1);
        expect(m.input_tokens).toBeGreaterThan(0);
        expect(m.output_tokens).toBeGreaterThan(0);
        expect(m.context_tokens).toBeGreaterThan(0);
        expect(m.context_tokens).toBeLessThanOrEqual(m.input_tokens + m.cache_read_tokens + m.cache_write_tokens);
        expect(m.planner_usd).toBeGreaterThan(0);
        expect(m.planner_s).toBeGreaterThan(0);
        const model = PromptPolicyFile.parse(candidates.find((c) => c.id === e.candidateId)!.body).config.model;
        if (model === 'claude-haiku-4-5' && m.replans === 0) {
          expect(m.planner_usd).toBeCloseTo(dollars({ input: m.input_tokens, output: m.output_tokens, cacheWrite: m.cache_write_tokens, cacheRead: m.cache_read_tokens }, price), 12);
        }
        spent += m.cost_usd;
      }
      // What the study spent is what its episodes spent; the calls the cache answered were free.
      expect(summary.cost_usd).toBeCloseTo(spent, 9);
      expect(store.study(summary.study)!.costUsd).toBeCloseTo(spent, 9);
      // ... and what the server billed for the calls it answered, each at its model's price.
      const billed = server.usages.reduce((sum, u) => sum + dollars({ input: u.input_tokens, output: u.output_tokens, cacheWrite: u.cache_creation_input_tokens, cacheRead: u.cache_read_input_tokens }, priceOf(u.model)!), 0);
      expect(spent).toBeCloseTo(billed, 9);
      expect(server.requests.length).toBe(episodes.reduce((n, e) => n + (e.metrics.llm_calls as number), 0));
      const cachedEpisodes = episodes.filter((e) => (e.metrics.cached_calls as number) > 0);
      expect(cachedEpisodes.length).toBeGreaterThan(0);
      for (const e of cachedEpisodes) if (e.metrics.llm_calls === 0) expect(e.metrics.cost_usd).toBe(0);
      // A config that sends the same prompts as another (re-planning that never re-plans) cost nothing.
      const replanOnly = candidates.find((c) => c.generation === 1 && /replan false → true/.test(c.description));
      if (replanOnly) expect(replanOnly.costUsd).toBe(0);
      expect(readdirSync(join(dir, 'artifacts', summary.study, 'replies')).length).toBeGreaterThan(0);
    } finally {
      store.close();
    }
  }, 240_000);

  it('takes a prompt config from the Claude researcher, checks it against the baseline config and keeps it when it is better', async () => {
    const { dir, file } = sortScenario({ seeds: 8, validation: 4, candidates: 2, patience: 1, batch: 1 });
    const planner = plannerModel();
    const proposal = { kind: 'prompt', config: { system: CAREFUL, scene: { format: 'json', facts: ALL_FACTS } }, rationale: 'Ask for JSON, say never to guess, and give every fact.' };
    let researcherRequest: RecordedRequest | undefined;
    server = await startMessagesServer((request, index) => {
      // The researcher's calls carry its tools; the planner's carry none.
      if (!request.body.tools?.length) return planner(request, index);
      researcherRequest = request;
      return { kind: 'message', content: [{ type: 'tool_use', id: 'tu_1', name: 'propose', input: { candidates: [proposal] } }], usage: { input_tokens: 5000, output_tokens: 400 } };
    });
    const env = { key: process.env.ANTHROPIC_API_KEY, url: process.env.ANTHROPIC_BASE_URL };
    process.env.ANTHROPIC_API_KEY = 'test-key';
    process.env.ANTHROPIC_BASE_URL = server.url;
    const store = Store.open(join(dir, 'arbor.db'));
    try {
      const scenario = await loadScenario(file);
      const study = createStudy(store, scenario, defaultStudyConfig(scenario, { researcher: 'claude', model: 'claude-haiku-4-5', kinds: ['prompt'] }));
      const pool = await EvaluatorPool.create(scenario.file, { workers: 2, cacheDir: join(store.dir, 'artifacts', study.id, 'replies') });
      const summary = await runStudy(store, study.id, scenario, pool).finally(() => pool.close());
      const system = JSON.stringify(researcherRequest!.body.system);
      expect(system).toContain('Prompt policies:');
      expect(system).toContain('{\\"steps\\": [...]}');
      expect(system).toContain('baseline_config');
      const [, proposed] = store.candidates(study.id);
      expect(proposed).toMatchObject({ kind: 'prompt', status: 'keep', rationale: proposal.rationale });
      // Fields it left out came from the baseline config.
      expect(PromptPolicyFile.parse(proposed.body).config).toMatchObject({ system: CAREFUL, model: 'claude-haiku-4-5', replan: false, scene: { format: 'json', facts: ALL_FACTS, units: 'cm' } });
      expect(summary.best.candidate).toBe(proposed.id);
      // The study's dollars: the researcher's call and every planner call.
      const researcherUsd = dollars({ input: 5000, output: 400, cacheWrite: 0, cacheRead: 0 }, priceOf('claude-haiku-4-5')!);
      const plannerUsd = store.episodes({ studyId: study.id }).reduce((sum, e) => sum + (e.metrics.cost_usd as number), 0);
      expect(summary.cost_usd).toBeCloseTo(researcherUsd + plannerUsd, 9);
      expect(existsSync(join(dir, 'artifacts', study.id, 'replies'))).toBe(true);
    } finally {
      store.close();
      process.env.ANTHROPIC_API_KEY = env.key;
      process.env.ANTHROPIC_BASE_URL = env.url;
      if (env.key === undefined) delete process.env.ANTHROPIC_API_KEY;
      if (env.url === undefined) delete process.env.ANTHROPIC_BASE_URL;
    }
  }, 240_000);
});
