/**
 * Prompt policies end to end, offline: real MuJoCo episodes of the instructed-sorting task whose
 * planner talks to a Messages API server on 127.0.0.1 (test/fixtures/messages-server.ts) through
 * src/llm/. A good plan is carried out; a malformed plan, an unsafe plan and a refusal are each
 * handled and scored as the issue says, never a crash; calls, tokens, dollars and latency come
 * out as episode metrics; the reply cache answers a repeated call for free; a failed step is
 * reported to the model for a new plan.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dollars, priceOf } from '../src/llm/prices.ts';
import { resolvePolicy, type PolicyFile } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { drawEpisode } from '../src/tasks/sort-instructed/draw.ts';
import type { SortInstructedSpec } from '../src/tasks/sort-instructed/schema.ts';
import { objectPoseTopic } from '../src/trace/topics.ts';
import { requestText, startMessagesServer, type MessagesServer, type ScriptedReply } from './fixtures/messages-server.ts';
import { plannerModel } from './fixtures/planner-model.ts';

const MODEL = 'claude-haiku-4-5';
const sc = await loadScenario('scenarios/sort-instructed.yaml');
const spec = sc.task as SortInstructedSpec;
const systems = sc.policy.prompt!.choices.system!;

/** The first seed whose instruction has `goal`. */
function seedOf(goal: string): number {
  for (let seed = 0; seed < 1000; seed++) if (drawEpisode(spec, seed).instruction.goal === goal) return seed;
  throw new Error(`no seed draws ${goal}`);
}

/** A reply with the given text and usage. */
const say = (text: string, usage = { input_tokens: 640, output_tokens: 30 }, stopReason?: 'max_tokens'): ScriptedReply => ({ kind: 'message', content: [{ type: 'text', text }], usage, ...(stopReason ? { stopReason } : {}) });
const planOf = (steps: unknown[]) => `Here is the plan:\n\`\`\`json\n${JSON.stringify({ steps })}\n\`\`\``;

/** A prompt policy for scenario `s` talking to `server`. */
function policy(server: MessagesServer, config: Record<string, unknown> = {}, s: LoadedScenario = sc): PolicyFile {
  return resolvePolicy({ kind: 'prompt', config: { base_url: server.url, system: systems[2], scene: { format: 'json', facts: ['colour', 'size', 'position'], units: 'm' }, ...config } }, s);
}

/** How far each cube ended from where it started (m). */
function moved(run: Awaited<ReturnType<EpisodeRunner['run']>>): number[] {
  return Object.keys(spec.cubes).map((name) => {
    const x = run.trace.column(objectPoseTopic(name), 'position.x');
    const y = run.trace.column(objectPoseTopic(name), 'position.y');
    return Math.hypot(x[x.length - 1] - x[0], y[y.length - 1] - y[0]);
  });
}

let runner: EpisodeRunner;
let server: MessagesServer | undefined;
beforeAll(async () => {
  process.env.ANTHROPIC_API_KEY = 'test-key';
  runner = await EpisodeRunner.create(sc);
});
afterAll(() => runner.close());
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('a prompt policy', () => {
  it('carries out a good plan, and reports calls, tokens, dollars, latency and context as episode metrics', async () => {
    const seed = seedOf('largest_to_zone');
    const want = drawEpisode(spec, seed).instruction.expected.moves;
    const [cube, zone] = Object.entries(want)[0];
    const usage = { input_tokens: 712, output_tokens: 41, cache_creation_input_tokens: 0, cache_read_input_tokens: 1300 };
    server = await startMessagesServer([say(planOf([{ skill: 'pick', object: cube }, { skill: 'place', at: zone }]), usage)]);
    const started = performance.now();
    const run = await runner.run(policy(server, { model: MODEL, examples: [{ request: 'Instruction: x', reply: '{"steps": []}' }] }), seed);
    const wall = (performance.now() - started) / 1000;
    expect(run).toMatchObject({ success: true, outcome: 'success' });
    const cost = dollars({ input: 712, output: 41, cacheWrite: 0, cacheRead: 1300 }, priceOf(MODEL)!);
    expect(run.metrics).toMatchObject({ llm_calls: 1, cached_calls: 0, input_tokens: 712, output_tokens: 41, cache_read_tokens: 1300, cache_write_tokens: 0, context_tokens: 2012, replans: 0, plan_steps: 2 });
    expect(run.metrics.cost_usd).toBeCloseTo(cost, 15);
    expect(run.metrics.planner_usd).toBeCloseTo(cost, 15);
    expect(run.metrics.planner_s).toBeGreaterThan(0);
    expect(run.metrics.planner_s).toBeLessThan(wall);
    expect(run.terms.cost).toBeCloseTo(1 - cost / spec.score.cost_scale, 12);
    // What the model was sent: the config's model, sampling and system text, the example as
    // earlier turns, then the instruction and the scene with the facts asked for.
    const { body } = server.requests[0];
    expect(body).toMatchObject({ model: MODEL, max_tokens: 512, temperature: 0 });
    expect(JSON.stringify(body.system)).toContain('never guess');
    expect(body.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    const asked = (body.messages[2].content as { text: string }[])[0].text;
    expect(asked).toContain(`Instruction: ${drawEpisode(spec, seed).instruction.text}`);
    const scene = JSON.parse(asked.slice(asked.indexOf('Scene: ') + 7));
    expect(scene.objects.find((o: { name: string }) => o.name === cube)).toMatchObject({ colour: spec.cubes[cube].colour, size: expect.any(Number), position: expect.any(Array) });
    expect(scene.places.map((p: { name: string }) => p.name)).toEqual(Object.keys(spec.zones));
    expect(run.trace.meta.policy).toMatchObject({ decision: { plan: [{ skill: 'pick', object: cube }, { skill: 'place', at: zone }], notes: [] } });
  });

  it.each([
    ['prose', say('The robot should pick up the red cube and put it in the blue zone.'), /malformed plan: the reply holds no JSON object/],
    ['an unknown skill', say(planOf([{ skill: 'grab', object: 'cube_1' }])), /malformed plan: the plan does not fit the plan language: steps\.0\.skill/],
    ['a place before any pick', say(planOf([{ skill: 'place', at: 'zone_a' }])), /malformed plan: step 1 \(place\) places at zone_a with nothing in the hand/],
    ['a reply cut off at max_tokens', say('{"steps": [{"skill": "pick", "obj', { input_tokens: 600, output_tokens: 16 }, 'max_tokens'), /malformed plan: the reply was cut off at max_tokens = 512/],
    ['a target outside the workspace', say(planOf([{ skill: 'move', to: [1.5, 0] }])), /unsafe plan: step 1 \(move\): target \(1\.5, 0\) m is outside the robot's workspace \(x -0\.3\.\.0\.95 m, y -0\.75\.\.0\.75 m\)/],
    ['an object the scene does not hold', say(planOf([{ skill: 'pick', object: 'cube_9' }])), /unsafe plan: step 1 \(pick\) names object 'cube_9', which the scene does not hold \(it holds cube_1, cube_2, cube_3\)/],
  ])('ends the episode as a planner failure on %s, before anything moves', async (_, reply, reason) => {
    server = await startMessagesServer([reply]);
    const seed = seedOf('colour_to_zone');
    const run = await runner.run(policy(server), seed);
    expect(run).toMatchObject({ success: false, outcome: 'planner_failure', metrics: { planner_failure: expect.stringMatching(reason), cubes_moved: 0, llm_calls: 1 } });
    expect(Math.max(...moved(run))).toBeLessThan(0.002);
    // Over in the settling time after the plan, not the episode's 15 s.
    expect(run.trace.topic(objectPoseTopic('cube_1')).stamps.at(-1)).toBeLessThan(1);
    expect(run.score).toBeLessThan(0.5);
  });

  it('is right to refuse an ambiguous instruction, and wrong to refuse one it can carry out', async () => {
    const refusal = say(planOf([{ skill: 'refuse', reason: 'Two cubes are red; which one?' }]));
    server = await startMessagesServer([refusal, refusal]);
    const ambiguous = await runner.run(policy(server), seedOf('ambiguous_colour'));
    expect(ambiguous).toMatchObject({ success: true, outcome: 'refused', metrics: { refused: true, cubes_moved: 0 } });
    expect(ambiguous.trace.meta.policy).toMatchObject({ decision: { refused: 'Two cubes are red; which one?' } });
    const feasible = await runner.run(policy(server), seedOf('colour_to_zone'));
    expect(feasible).toMatchObject({ success: false, outcome: 'wrong_refusal' });
    const mixed = await startMessagesServer([say(planOf([{ skill: 'pick', object: 'cube_1' }, { skill: 'refuse', reason: 'no' }]))]);
    try {
      const run = await runner.run(policy(mixed), seedOf('ambiguous_colour'));
      expect(run).toMatchObject({ outcome: 'planner_failure', metrics: { planner_failure: 'malformed plan: a refuse step must be the whole plan' } });
    } finally {
      await mixed.close();
    }
  });

  it('answers a repeated call at temperature 0 from the study cache, free and said so, and never above 0', async () => {
    server = await startMessagesServer(plannerModel());
    const cacheDir = join(mkdtempSync(join(tmpdir(), 'arbor-replies-')), 'replies');
    const cached = await EpisodeRunner.create(sc, undefined, undefined, { cacheDir });
    try {
      const seed = seedOf('sort_by_colour');
      const first = await cached.run(policy(server), seed);
      const again = await cached.run(policy(server), seed);
      expect(server.requests).toHaveLength(1);
      expect(first.metrics).toMatchObject({ llm_calls: 1, cached_calls: 0 });
      expect(again.metrics).toMatchObject({ llm_calls: 0, cached_calls: 1, cost_usd: 0 });
      expect(first.metrics.cost_usd).toBeGreaterThan(0);
      // The config's price and latency stay its own; the same plan ran the same episode.
      for (const k of ['planner_usd', 'planner_s', 'input_tokens', 'output_tokens', 'context_tokens']) expect(again.metrics[k]).toBe(first.metrics[k]);
      expect(again.score).toBe(first.score);
      expect(readdirSync(cacheDir).length).toBe(1);
      const warm = await cached.run(policy(server, { temperature: 0.5 }), seed);
      const warmAgain = await cached.run(policy(server, { temperature: 0.5 }), seed);
      expect([warm.metrics.cached_calls, warmAgain.metrics.cached_calls]).toEqual([0, 0]);
      expect(server.requests).toHaveLength(3);
    } finally {
      await cached.close();
    }
  });

  it('reports a failed step to the model with the scene as it is, and asks again at most twice', async () => {
    // A skill that grasps 3 cm above the cubes closes on nothing, every time.
    const dir = mkdtempSync(join(tmpdir(), 'arbor-sort-'));
    const file = join(dir, 'sort.yaml');
    writeFileSync(
      file,
      readFileSync('scenarios/sort-instructed.yaml', 'utf8')
        .replace('../robots/', `${resolve('robots')}/`)
        .replace('../sim/', `${resolve('sim')}/`)
        .replace(/grasp_depth: +\{[^}]*\}/, 'grasp_depth: { min: -0.05, max: 0.08, default: -0.03 }'),
    );
    const shallow = await loadScenario(file);
    const shallowRunner = await EpisodeRunner.create(shallow);
    server = await startMessagesServer(plannerModel());
    try {
      const seed = seedOf('colour_to_zone');
      const replanning = await shallowRunner.run(policy(server, { replan: true }, shallow), seed);
      expect(replanning.metrics).toMatchObject({ llm_calls: 3, replans: 2 });
      const notes = (replanning.trace.meta.policy as { decision: { notes: string[] } }).decision.notes;
      expect(notes.filter((n) => /^step \d \(pick cube_\d\) failed: the gripper closed on nothing$/.test(n))).toHaveLength(3);
      const last = requestText(server.requests[2]);
      expect(last).toMatch(/step 2 \(pick cube_\d\) failed: the gripper closed on nothing\. The scene now: \{"units":"m"/);
      expect(last).toContain('Reply with a new plan for what is left of the instruction.');
      const once = await shallowRunner.run(policy(server, { replan: false }, shallow), seed);
      expect(once.metrics).toMatchObject({ llm_calls: 1, replans: 0 });
      expect(once.outcome).toBe('misplaced');
    } finally {
      await shallowRunner.close();
    }
  });

  it('reaches a server of its own without an API key, and needs a key for Anthropic', async () => {
    server = await startMessagesServer(plannerModel());
    const key = process.env.ANTHROPIC_API_KEY;
    delete process.env.ANTHROPIC_API_KEY;
    try {
      const run = await runner.run(policy(server), seedOf('missing_zone'));
      expect(run.outcome).toBe('refused');
      const { headers } = server.requests[0];
      expect(headers['x-api-key'] ?? headers.authorization).toMatch(/none$/);
      const anthropic = resolvePolicy({ kind: 'prompt', config: { system: systems[1] } }, sc);
      await expect(runner.run(anthropic, 1)).rejects.toThrow(/A prompt policy calls the Anthropic Messages API and needs an API key, but ANTHROPIC_API_KEY is not set/);
    } finally {
      process.env.ANTHROPIC_API_KEY = key;
    }
  });

  it('refuses a config whose model has no price, unless it gives one', () => {
    expect(() => resolvePolicy({ kind: 'prompt', config: { model: 'llama-3.1-8b' } }, sc)).toThrow(/config\.model: 'llama-3\.1-8b' has no price in src\/llm\/prices\.ts.*give config\.price \{input, output\}/);
    const local = resolvePolicy({ kind: 'prompt', config: { model: 'llama-3.1-8b', price: { input: 0, output: 0 } } }, sc);
    expect(local).toMatchObject({ kind: 'prompt', config: { model: 'llama-3.1-8b', system: sc.policy.prompt!.config.system, scene: sc.policy.prompt!.config.scene } });
    expect(() => resolvePolicy({ kind: 'prompt', config: { temperature: 3 } }, sc)).toThrow(/config\.temperature: must be at most 1 \(temperature\)/);
  });
});
