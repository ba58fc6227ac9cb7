/**
 * A hostile client against `arbor mcp` (issue 16, "Must show"), bounded in count and time: every
 * tool gets random and boundary arguments (wrong types, empty and huge strings, device files,
 * paths out of the project, option-like operands, seed ranges of every size, policies that loop
 * forever), several calls at a time, each cancelled when it runs over 4 s. Throughout, tools/list
 * is answered within 1 s and the server's memory stays under a stated bound; afterwards it still
 * works. The PRNG is seeded: a failure reproduces.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Rng } from '../src/scenario/rng.ts';
import { rssMb, sleep, startMcp, timed, type McpSession } from './mcp-helpers.ts';
import { smallScenario } from './study-helpers.ts';

/** Calls per tool. */
const CALLS_PER_TOOL = 10;
/** Calls in flight at once. */
const CONCURRENCY = 4;
/** A call running longer is cancelled (notifications/cancelled). */
const CALL_TIMEOUT_MS = 4000;
/** The server's resident memory may not pass this (MB): itself, plus the episodes of --max-runs 2 calls. */
const RSS_BOUND_MB = 1500;

const { dir } = smallScenario();
let server: McpSession;

beforeAll(async () => {
  // Its defaults: one study and two runs at once, files under the current folder.
  server = await startMcp(['--db', join(dir, 'hostile.db')]);
});
afterAll(() => server?.client.close());


const STRINGS = [
  '', '-', '--help', '-h', `--db=${join(dir, 'other.db')}`, '/dev/zero', '/dev/urandom', '/proc/self/environ', '/etc/shadow', '../../../../etc/passwd',
  'scenarios/pick-place.yaml', 'scenarios/pick-place.tuned.json', 'scenarios', '.', 'package.json', '.git/config', 'nope', 'x'.repeat(100_000),
  '\u0000', 'a\nb', '💥', '0..99999', '5..1', '0..0', '0..100000', '-1..3', '1e9..1e9+1', 'random', 'claude',
];
const NUMBERS = [0, -1, 1, 2, 0.5, 64, 65, 2 ** 31, 2 ** 53, -(2 ** 53), 1e308, -1e308, 4294967295];
const OTHERS: unknown[] = [
  null, true, false, [], {}, [1, 'a'],
  { kind: 'code', source: 'export function act(o) { for (;;) {} }' },
  { kind: 'code', source: 'export function act(o) { return o; }' },
  { kind: 'params', params: { ik_gain: 1e308 } },
  { kind: 'prompt', config: {} },
  JSON.parse('{"a":'.repeat(200) + '1' + '}'.repeat(200)),
];

/** Values that make a call do real work, given often so that episodes, evaluations and studies really run and get cancelled. */
const REAL: Record<string, unknown[]> = {
  scenario: ['scenarios/pick-place.yaml'],
  seeds: ['0..1', '0..99999', '7..7'],
  policy: ['scenarios/pick-place.tuned.json', { kind: 'code', source: 'export function act(o) { for (;;) {} }' }],
  seed: [0, 3],
};

/** A value for property `name` of JSON Schema type `type`: often a real one, usually of that type (boundaries included), sometimes anything. */
function valueFor(name: string, type: unknown, random: () => number): unknown {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  if (REAL[name] && random() < 0.4) return pick(REAL[name]);
  if (random() < 0.25) return pick([...STRINGS, ...NUMBERS, ...OTHERS]);
  if (type === 'string') return pick(STRINGS);
  if (type === 'number' || type === 'integer') return pick(NUMBERS);
  if (type === 'boolean') return random() < 0.5;
  return pick([...STRINGS, ...OTHERS]);
}

it('survives random and boundary arguments to every tool, answering tools/list within 1 s and staying under its memory bound', async () => {
  const { tools } = await server.client.listTools();
  const rng = new Rng(16); // seeded: the same calls on every run
  const random = () => rng.next();
  const calls = tools.flatMap((tool) =>
    Array.from({ length: CALLS_PER_TOOL }, () => {
      const props = (tool.inputSchema.properties ?? {}) as Record<string, { type?: unknown }>;
      const args: Record<string, unknown> = {};
      for (const [name, schema] of Object.entries(props)) if (random() < 0.8) args[name] = valueFor(name, schema.type, random);
      if (random() < 0.1) args.unexpected = valueFor('unexpected', undefined, random);
      return { name: tool.name, args };
    }),
  );
  // Shuffled: the tools' calls interleave.
  for (let i = calls.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [calls[i], calls[j]] = [calls[j], calls[i]];
  }

  let done = false;
  /** The calls in flight, so a slow probe can say what it waited behind. */
  const inFlight = new Set<(typeof calls)[number]>();
  let slowest = { ms: 0, behind: '' };
  let probes = 0;
  const rss: number[] = [];
  const watch = (async () => {
    while (!done) {
      const behind = [...inFlight].map((c) => `${c.name} ${JSON.stringify(c.args).slice(0, 120)}`).join('; ');
      const ms = await timed(() => server.client.listTools());
      probes++;
      if (ms > slowest.ms) slowest = { ms, behind };
      rss.push(rssMb(server.pid));
      await sleep(200);
    }
  })();

  const outcomes = { result: 0, error: 0, cancelled: 0 };
  const queue = [...calls];
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let call = queue.shift(); call; call = queue.shift()) {
      inFlight.add(call);
      try {
        const result = await server.client.callTool({ name: call.name, arguments: call.args }, undefined, { timeout: CALL_TIMEOUT_MS });
        outcomes[result.isError ? 'error' : 'result']++;
      } catch (err) {
        // A protocol error (arguments the schema refuses) or our own time-out: either way, an answer.
        outcomes[/timed out/i.test((err as Error).message) ? 'cancelled' : 'error']++;
      } finally {
        inFlight.delete(call);
      }
    }
  }));
  done = true;
  await watch;

  console.log(`hostile mcp: ${calls.length} calls (${JSON.stringify(outcomes)}), tools/list max ${Math.round(slowest.ms)} ms over ${probes} probes, rss max ${Math.round(Math.max(...rss))} MB`);
  expect(calls.length).toBe(tools.length * CALLS_PER_TOOL);
  expect(slowest.ms, `tools/list waited behind: ${slowest.behind}`).toBeLessThan(1000);
  expect(Math.max(...rss)).toBeLessThan(RSS_BOUND_MB);

  // Still serving: a real episode, once the cancelled calls have let go of their slots.
  await sleep(1000);
  const episode = await server.client.callTool({ name: 'run_episode', arguments: { scenario: 'scenarios/pick-place.yaml', seed: 2 } });
  expect(episode.isError, JSON.stringify(episode.content)).toBeFalsy();
}, 180_000);
