/**
 * Sim-core benchmark: physics steps/s of the pick-and-place world in mujoco-js; the same with
 * the controller and topic recording; episodes/s; and native MuJoCo on the same MJCF.
 * Figures, never pass/fail: `npm run bench` prints them side by side.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { defaultPolicy } from '../src/policy/policy.ts';
import { createPolicy } from '../src/policy/create.ts';
import { EpisodeRunner } from '../src/research/episode.ts';
import { SimLink } from '../src/robot/sim-link.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { World } from '../src/sim/world.ts';
import { loadMujoco } from '../src/sim/mujoco.ts';

const STEPS = 20_000;
const REPEATS = 7;
const scenario = await loadScenario('scenarios/pick-place.yaml');
const home = scenario.robotConfig.home;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The native protocol, in mujoco-js: arm at home, ctrl 0, 1000 warm-up steps, then timed steps. */
async function wasmStepper(): Promise<{ rate(): number; dispose(): void }> {
  const world = await World.load(scenario.worldPath);
  return {
    rate() {
      world.resetData();
      (world.data.qpos as Float64Array).set(home, 0);
      world.forward();
      world.step(1000);
      const t0 = performance.now();
      world.step(STEPS);
      return STEPS / ((performance.now() - t0) / 1000);
    },
    dispose: () => world.dispose(),
  };
}

/**
 * Control + recording overhead: run episodes through the sim link (policy, safety envelope,
 * every topic recorded), log the ctrl sent each tick, then replay the same ctrl sequence on
 * bare physics. Same steps, same contacts: the time difference is our overhead.
 */
async function controlOverhead(): Promise<{ withControl: number; bare: number; overhead: number }> {
  const runner = await EpisodeRunner.create(scenario);
  const link = runner.link;
  const sim = link.inner as SimLink;
  const world = sim.world;
  const kinematics = link.kinematics;
  const policyFile = defaultPolicy(scenario);
  const ticks = Math.round(scenario.episode.duration / link.controlPeriod);
  let controlled = 0;
  let bare = 0;
  let steps = 0;
  // Seeds 0 and 1 warm the JIT up and are not counted.
  const seeds = [0, 1, 0, 1, 2, 3, 4, 5, 6, 7];
  for (const [index, seed] of seeds.entries()) {
    const counted = index >= 2;
    const policy = createPolicy(policyFile, { scenario, kinematics, controlPeriod: link.controlPeriod });
    const ctrlLog: Float64Array[] = [];
    let t0 = performance.now();
    let obs = await link.reset(seed);
    await policy.reset(obs);
    for (let i = 0; i < ticks; i++) {
      obs = await link.act(await policy.act(obs));
      ctrlLog.push(Float64Array.from(world.data.ctrl as Float64Array));
    }
    link.trace();
    if (counted) controlled += performance.now() - t0;
    await link.reset(seed);
    t0 = performance.now();
    for (const ctrl of ctrlLog) {
      (world.data.ctrl as Float64Array).set(ctrl);
      world.step(sim.substeps);
    }
    if (!counted) continue;
    bare += performance.now() - t0;
    steps += ticks * sim.substeps;
  }
  await runner.close();
  return { withControl: steps / (controlled / 1000), bare: steps / (bare / 1000), overhead: controlled / bare - 1 };
}

async function episodesPerSecond(): Promise<{ perSecond: number; wallPer5s: number }> {
  const runner = await EpisodeRunner.create(scenario);
  const policy = defaultPolicy(scenario);
  await runner.run(policy, 0); // warm-up
  let wall = 0;
  let simulated = 0;
  const n = 24;
  for (let seed = 100; seed < 100 + n; seed++) {
    const run = await runner.run(policy, seed);
    wall += run.wallTime;
    simulated += run.trace.topic('/clock').stamps.at(-1)!;
  }
  await runner.close();
  return { perSecond: n / wall, wallPer5s: (wall / simulated) * 5 };
}

/** Builds the native reference; returns a function timing one run of it, or why it cannot. */
function nativeStepper(): { rate(): { rate: number; version: string } } | { error: string } {
  try {
    execFileSync('bash', ['bench/native/build.sh'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    return { error: String((error as { stderr?: Buffer }).stderr ?? error).trim() };
  }
  const binary = 'bench/native/build/step';
  if (!existsSync(binary)) return { error: 'native build produced no binary' };
  return {
    rate() {
      const out = execFileSync(binary, [scenario.worldPath, String(STEPS), home.join(',')], { encoding: 'utf8' });
      const json = JSON.parse(out.trim().split('\n').at(-1)!) as { steps_per_second: number; mujoco_version: string };
      return { rate: json.steps_per_second, version: json.mujoco_version };
    },
  };
}

// wasm and native runs alternate, so both see the same machine load (this one is noisy).
const stepper = await wasmStepper();
const nativeRef = nativeStepper();
const wasmRates: number[] = [];
const nativeRates: number[] = [];
let nativeVersion = '';
for (let r = 0; r < REPEATS; r++) {
  wasmRates.push(stepper.rate());
  if ('rate' in nativeRef) {
    const n = nativeRef.rate();
    nativeRates.push(n.rate);
    nativeVersion = n.version;
  }
}
stepper.dispose();
const wasm = median(wasmRates);
const reference = 'rate' in nativeRef ? { rate: median(nativeRates), version: nativeVersion } : nativeRef;
const mjVersion = (await loadMujoco()).mj_versionString();
const control = await controlOverhead();
const episodes = await episodesPerSecond();

console.log('# sim core (one core, sim/pick_place.xml, 2 ms timestep)');
console.log(`physics_steps_per_s_mujoco_js:      ${wasm.toFixed(0)}   (mujoco-js 0.0.7 = MuJoCo ${mjVersion}, median of ${REPEATS} x ${STEPS} steps, alternating with native)`);
if ('rate' in reference) {
  console.log(`physics_steps_per_s_native:         ${reference.rate.toFixed(0)}   (Debian libmujoco ${reference.version}, gcc -O2; a different MuJoCo version)`);
  console.log(`mujoco_js_vs_native:                ${(wasm / reference.rate).toFixed(2)}x   (target >= 0.85x)`);
} else {
  console.log(`physics_steps_per_s_native:         unavailable: ${reference.error}`);
}
console.log(`steps_per_s_with_control_recording: ${control.withControl.toFixed(0)}   (bare physics, same ctrl sequence: ${control.bare.toFixed(0)})`);
console.log(`control_recording_overhead:         ${(control.overhead * 100).toFixed(1)}%   (target <= 25%)`);
console.log(`episodes_per_s_one_core:            ${episodes.perSecond.toFixed(1)}   (default policy, episodes end 0.5 s after the policy is done)`);
console.log(`wall_s_per_5s_episode:              ${episodes.wallPer5s.toFixed(3)}   (target <= 0.1 s)`);
