/**
 * `arbor mcp` through the MCP SDK's own client over stdio: the client spawns `node bin/arbor.js
 * mcp`, lists the tools, and runs real episodes, an evaluation and a whole (small) study with them.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smallScenario } from './study-helpers.ts';

const { dir, file } = smallScenario({ candidates: 4, seeds: 2, validation: 2 });
const db = join(dir, 'mcp.db');
let client: Client;

beforeAll(async () => {
  client = new Client({ name: 'arbor-test', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: ['bin/arbor.js', 'mcp', '--db', db, '--root', '.', '--root', dir], stderr: 'ignore' }));
});
afterAll(() => client.close());

/** Calls a tool and parses its JSON text. */
async function call(name: string, args: Record<string, unknown>) {
  const result = await client.callTool({ name, arguments: args });
  const text = (result.content as { type: string; text: string }[])[0].text;
  return { error: result.isError === true, text, value: result.isError ? undefined : JSON.parse(text) };
}

describe('arbor mcp', () => {
  it('lists its tools with JSON Schemas of their inputs', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      ['best_policy', 'describe_scenario', 'evaluate', 'list_scenarios', 'read_episodes', 'read_results', 'resume_study', 'run_episode', 'start_study', 'stop_study', 'study_status'].sort(),
    );
    const evaluate = tools.find((t) => t.name === 'evaluate')!;
    expect(evaluate.inputSchema.required).toEqual(['scenario', 'seeds']);
  });

  it('lists and describes scenarios, runs an evaluation of a policy file and an episode of an inline code policy', async () => {
    const listed = await call('list_scenarios', {});
    expect(listed.value).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'pick-place', task: 'pick_place' })]));
    const described = await call('describe_scenario', { scenario: 'scenarios/pick-place.yaml' });
    expect(described.value.controller.params.grasp_offset_x.what).toMatch(/perception error/);
    expect(described.value.code_policy).toMatch(/arbor\.skill\.step/);

    const evaluation = await call('evaluate', { scenario: 'scenarios/pick-place.yaml', seeds: '1000..1001', policy: 'scenarios/pick-place.tuned.json', workers: 2 });
    expect(evaluation.value.success_rate).toBe(1);
    expect(evaluation.value.episodes.map((e: { seed: number }) => e.seed)).toEqual([1000, 1001]);

    const source = "export function act(obs: { position: number[] }) { return { position: obs.position, gripperWidth: 0.08, phase: 'still' }; }";
    const episode = await call('run_episode', { scenario: 'scenarios/pick-place.yaml', seed: 4, policy: { kind: 'code', source } });
    expect(episode.value).toMatchObject({ seed: 4, outcome: 'miss', success: false });
    expect(episode.value.summary.join('\n')).toMatch(/phases: still 0\.00 s/);

    const bad = await call('run_episode', { scenario: 'scenarios/pick-place.yaml', seed: 4, policy: { kind: 'params', params: { ik_gain: 7 } } });
    expect(bad.error).toBe(true);
    expect(bad.text).toMatch(/params\.ik_gain: = 7 is outside its range \[0\.05, 1\]/);
  });

  it('starts a study, follows it to the end, and reads its results, episodes and best policy', async () => {
    const started = await call('start_study', { scenario: file, researcher: 'random', seed: 3, workers: 2 });
    expect(started.error).toBe(false);
    const id = started.value.study as string;
    let status = (await call('study_status', { study: id })).value;
    for (let i = 0; i < 600 && status.status === 'running'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await call('study_status', { study: id })).value;
    }
    expect(status).toMatchObject({ status: 'done', stop_reason: 'budget-candidates' });
    const rows = (await call('read_results', { study: id })).value;
    expect(rows[0]).toMatchObject({ id: expect.any(Number), kind: 'params', status: 'keep' });
    const episodes = (await call('read_episodes', { study: id, candidate: rows[0].id, limit: 2 })).value;
    expect(episodes).toHaveLength(2);
    expect(episodes[0].summary.some((l: string) => l.startsWith('gripper:'))).toBe(true);
    const best = (await call('best_policy', { study: id })).value;
    expect(best.policy.kind).toBe('params');
    const missing = await call('study_status', { study: 'nope' });
    expect(missing.error).toBe(true);
    expect(missing.text).toMatch(/No study 'nope'/);
  });
});
