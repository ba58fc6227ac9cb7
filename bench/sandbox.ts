/**
 * Code policies: what the sandbox costs. (1) act() per call: the same controller logic as plain JS
 * in the host and as a module in the QuickJS sandbox, on the observations of a real episode, and
 * the cost of one helper call across the boundary. (2) Episodes: the tuned pick-and-place policy as
 * params and as the code module that steps the same skill phases (scenarios/pick-place.tuned.ts),
 * interleaved seed by seed on one runner, so both see the same machine load. Ends with a grep-able
 * `key: value` block.
 */
import { compileCode } from '../src/policy/code.ts';
import { loadPolicyFile } from '../src/policy/file.ts';
import { Sandbox } from '../src/policy/sandbox.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import type { Observation } from '../src/robot/link.ts';
import { loadScenario } from '../src/scenario/load.ts';

const EPISODES = Number(process.env.ARBOR_BENCH_SANDBOX_EPISODES ?? 12);

/** A small controller: a P step of each joint toward a target that follows the object, and a grip phase. */
const LOGIC = `
let start = 0;
let target = [0, 0, 0, 0, 0, 0];
export function reset(obs) { start = obs.time; target = obs.position.slice(); }
export function act(obs) {
  const box = obs.objects.box.position;
  const q = obs.position;
  const out = new Array(q.length);
  for (let i = 0; i < q.length; i++) {
    target[i] += 0.01 * (box[i % 3] - target[i]);
    out[i] = q[i] + 0.5 * (target[i] - q[i]);
  }
  const closing = obs.time - start > 1.5;
  return { position: out, gripperWidth: closing ? 0 : 0.08, phase: closing ? 'grip' : 'reach' };
}
export function helper() { return stub(1); }
export function nothing() { return 1; }
`;

const scenario = await loadScenario('scenarios/pick-place.yaml');
const runner = await EpisodeRunner.create(scenario);
const params = loadPolicyFile('scenarios/pick-place.tuned.json', scenario);
const code = loadPolicyFile('scenarios/pick-place.tuned.ts', scenario);

// The observations of one real episode, as plain JSON (what act() receives either way).
const observations: unknown[] = [];
{
  const link = runner.link;
  let obs: Observation = await link.reset(3);
  for (let tick = 0; tick < 300; tick++) {
    observations.push({ time: obs.time, position: Array.from(obs.position), velocity: Array.from(obs.velocity), effort: Array.from(obs.effort), gripperWidth: obs.gripperWidth, touch: obs.touch, wrench: Array.from(obs.wrench), objects: obs.objects });
    obs = await link.act({ position: obs.position, gripperWidth: 0.08 });
  }
  await link.stop();
}

/** Microseconds per call of `act` over the observations, best of 5 passes (after a warm-up pass). */
function perCall(act: (obs: unknown) => unknown): number {
  let best = Infinity;
  for (let pass = 0; pass < 6; pass++) {
    const started = performance.now();
    for (let k = 0; k < 4; k++) for (const obs of observations) act(obs);
    const us = ((performance.now() - started) * 1000) / (4 * observations.length);
    if (pass > 0) best = Math.min(best, us);
  }
  return best;
}

// Plain JS: the same source compiled the same way, evaluated in the host.
const script = compileCode(LOGIC, 'js');
const plainModule = new Function('stub', `${script}; return globalThis.__exports;`)(() => 1) as { reset(o: unknown): void; act(o: unknown): unknown };
plainModule.reset(observations[0]);
const plainUs = perCall((o) => plainModule.act(o));

const sandbox = await Sandbox.create(script, { stub: () => 1 }, { prelude: 'globalThis.stub = (x) => JSON.parse(__host("stub", JSON.stringify([x])));' });
sandbox.call('reset', observations[0]);
const sandboxUs = perCall((o) => sandbox.call('act', o));
const helperUs = perCall(() => sandbox.call('helper')) - perCall(() => sandbox.call('nothing'));
sandbox.dispose();

console.log(`act() per call: plain JS ${plainUs.toFixed(2)} µs, sandboxed ${sandboxUs.toFixed(1)} µs (overhead ${(sandboxUs - plainUs).toFixed(1)} µs); one helper call across the boundary ≈ ${helperUs.toFixed(1)} µs`);

// Episodes, interleaved: params, code, params, code... on the same seeds; the first pair warms up.
const times = { params: [] as number[], code: [] as number[] };
for (let seed = 0; seed <= EPISODES; seed++) {
  for (const [name, policy] of [['params', params], ['code', code]] as const) {
    const started = performance.now();
    const run = await runner.run(policy, seed);
    if (seed > 0) times[name].push(performance.now() - started);
    if (!run.success && seed > 0) console.log(`  (seed ${seed}: ${name} ${run.outcome})`);
  }
}
await runner.close();
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const ratios = times.params.map((p, i) => p / times.code[i]).sort((a, b) => a - b);
const ratio = sum(times.params) / sum(times.code);
console.log(`episodes (${EPISODES} each, interleaved): params ${(sum(times.params) / EPISODES).toFixed(0)} ms, code ${(sum(times.code) / EPISODES).toFixed(0)} ms per episode`);
console.log('---');
console.log(`act_plain_us: ${plainUs.toFixed(3)}`);
console.log(`act_sandbox_us: ${sandboxUs.toFixed(2)}`);
console.log(`act_overhead_us: ${(sandboxUs - plainUs).toFixed(2)}`);
console.log(`helper_call_us: ${helperUs.toFixed(2)}`);
console.log(`episode_params_ms: ${(sum(times.params) / EPISODES).toFixed(1)}`);
console.log(`episode_code_ms: ${(sum(times.code) / EPISODES).toFixed(1)}`);
console.log(`code_speed_vs_params: ${ratio.toFixed(3)}   (range per seed ${ratios[0].toFixed(2)}..${ratios.at(-1)!.toFixed(2)}; target >= 0.5)`);
