/**
 * Cameras and vision: how long the ray camera takes to render an image (depth and labels in one
 * cast, then colour) at 160×120 and 320×240, and how often a vision check of pick-and-place (the
 * red cube seen by the top camera inside the zone, resting on the table) agrees with the state
 * scorer over 200 randomized episodes, with the confusion matrix. Figures, never pass/fail.
 *
 * The episodes mix policies: episode i runs the defaults moved a random fraction of the way to the
 * tuned policy, every parameter then jittered by a tenth of its range (all drawn from i), so
 * successes, drops, misses, timeouts and near-misses at the zone's edge all occur.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { defaultPolicy, type ParamsPolicyFile } from '../src/policy/file.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { RayCamera } from '../src/sim/ray-camera.ts';
import { Rng } from '../src/scenario/rng.ts';
import { World } from '../src/sim/world.ts';
import { scenarioCopy } from '../test/study-helpers.ts';

const EPISODES = Number(process.env.ARBOR_BENCH_VISION_EPISODES ?? 200);

// ----- render time ----------------------------------------------------------------------------

/**
 * Each figure is the median over RUNS runs of each run's median of RENDERS renders (after 5
 * warm-up renders), with the range of the run medians; "fastest" is the fastest single render.
 * "Arm still" renders one state again and again; "arm moving" renders a new state each time: the
 * arm at its home pose, its shoulder swinging across the table through the camera's view, as it
 * does carrying a box. "cpu" is the process's CPU time per image (median), which a loaded machine
 * inflates far less than wall time.
 */
const RUNS = Number(process.env.ARBOR_BENCH_CAMERA_RUNS ?? 5);
const RENDERS = 40;
const WARM_UP = 5;
const TARGET_MS = 3;

const world = await World.load('sim/pick_place.xml');
const arm = (await loadScenario('scenarios/pick-place.yaml')).robotConfig;
const armQpos = arm.joints.map((j) => (world.model.jnt_qposadr as Int32Array)[world.id('joint', j.name)]);
/** Puts the arm at home with the shoulder swung to `pan` (rad) and computes the state. */
function pose(pan: number): void {
  world.resetData();
  const qpos = world.data.qpos as Float64Array;
  arm.home.forEach((q, i) => (qpos[armQpos[i]] = i === 0 ? pan : q));
  world.forward();
}

interface RenderTimes {
  /** Render (depth + labels) and colour, ms, per timed render. */
  cast: number[];
  colour: number[];
  /** Rays cast per timed render (the other pixels kept their answer). */
  rays: number[];
  /** CPU time of render and colour together, ms. */
  cpu: number[];
}
function renderRun(camera: RayCamera, moving: boolean): RenderTimes {
  const times: RenderTimes = { cast: [], colour: [], rays: [], cpu: [] };
  for (let i = 0; i < WARM_UP + RENDERS; i++) {
    if (moving) pose(-0.9 + (1.8 * i) / (WARM_UP + RENDERS));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const image = camera.render();
    const t1 = performance.now();
    camera.rgb(image);
    const t2 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    if (i >= WARM_UP) {
      times.cast.push(t1 - t0);
      times.colour.push(t2 - t1);
      times.rays.push(camera.raysCast);
      times.cpu.push((cpu.user + cpu.system) / 1000);
    }
  }
  return times;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => x.toFixed(2);
console.log(
  `ray camera, sim/pick_place.xml, RGB-D + labels per image: median of ${RUNS} runs (range of the runs) of ${RENDERS} renders each; target ≤ ${TARGET_MS} ms at 160x120; load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`,
);
// One untimed run first, so the first figure is not the JIT compiling the camera's code.
const warmUp = new RayCamera(world, 'top', 160, 120);
renderRun(warmUp, true);
warmUp.dispose();
for (const [name, width, height, moving] of [
  ['top', 160, 120, false],
  ['top', 160, 120, true],
  ['side', 160, 120, true],
  ['top', 320, 240, false],
  ['top', 320, 240, true],
] as const) {
  const runs: { total: number; cast: number; colour: number; fastest: number; rays: number; cpu: number }[] = [];
  for (let r = 0; r < RUNS; r++) {
    pose(arm.home[0]);
    const camera = new RayCamera(world, name, width, height);
    const t = renderRun(camera, moving);
    camera.dispose();
    const total = t.cast.map((c, i) => c + t.colour[i]);
    runs.push({ total: median(total), cast: median(t.cast), colour: median(t.colour), fastest: Math.min(...total), rays: median(t.rays), cpu: median(t.cpu) });
  }
  const totals = runs.map((r) => r.total);
  const verdict = width === 160 ? (median(totals) <= TARGET_MS ? ' (meets the target)' : ' (misses the target)') : '';
  console.log(
    `  ${`${name} ${width}x${height}, arm ${moving ? 'moving' : 'still'}:`.padEnd(30)} ${ms(median(totals))} ms (${ms(Math.min(...totals))}-${ms(Math.max(...totals))})` +
      `, fastest ${ms(Math.min(...runs.map((r) => r.fastest)))}; depth + labels ${ms(median(runs.map((r) => r.cast)))}, colour ${ms(median(runs.map((r) => r.colour)))}` +
      `; cpu ${ms(median(runs.map((r) => r.cpu)))}; ${median(runs.map((r) => r.rays))} of ${width * height} rays cast${verdict}`,
  );
}
world.dispose();

// ----- state vs vision --------------------------------------------------------------------------

/** State vs vision over EPISODES episodes (ARBOR_BENCH_VISION_EPISODES=0 times the camera alone). */
async function stateVsVision(): Promise<void> {
  /** pick-place.yaml with the top camera recorded and the cube-in-zone check; success stays the state's. */
  const { file } = scenarioCopy(
    'scenarios/pick-place.yaml',
    (text) =>
      text +
      `
cameras:
  top: { width: 160, height: 120, rate: 0, images: [rgb, depth] }
vision:
  success: state
  checks:
    cube_in_zone:
      kind: inside_zone
      image: /camera/top/rgb
      depth: /camera/top/depth
      target: { color: { rgb: [217, 64, 51], tolerance: 60 } }
      min_area: 4
      zone: { center: [0.45, 0.3], half_size: [0.06, 0.06] }
      height: [0.0, 0.075]
`,
    'pick-place-vision.yaml',
  );
  const scenario = await loadScenario(file);
  const defaults = defaultPolicy(scenario).params;
  const tuned = (JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8')) as ParamsPolicyFile).params;
  const jobs = Array.from({ length: EPISODES }, (_, seed) => {
    const rng = new Rng(seed ^ 0xbe7c4);
    const f = rng.next();
    const params = Object.fromEntries(
      Object.entries(scenario.policy.params).map(([k, { min, max }]) => {
        const value = defaults[k] + f * (tuned[k] - defaults[k]) + 0.1 * (max - min) * rng.normal();
        return [k, Math.min(max, Math.max(min, value))];
      }),
    );
    return { policy: { kind: 'params' as const, params }, seed };
  });
  const pool = await EvaluatorPool.create(file, { jobs: jobs.length });
  const started = performance.now();
  const results = await pool.evaluate(jobs);
  await pool.close();
  const matrix = { both: 0, stateOnly: 0, visionOnly: 0, neither: 0 };
  const disagreements: string[] = [];
  let crashed = 0;
  for (const r of results) {
    if (!r.ok) {
      crashed++;
      continue;
    }
    const state = r.metrics.state_success === true;
    const vision = r.metrics.vision_success === true;
    if (state && vision) matrix.both++;
    else if (state) matrix.stateOnly++;
    else if (vision) matrix.visionOnly++;
    else matrix.neither++;
    if (state !== vision) {
      const m = r.metrics;
      disagreements.push(`  seed ${r.seed}: state ${state ? 'success' : r.outcome}, vision ${vision ? 'in zone' : 'not in zone'} (place_error ${Number(m.place_error).toFixed(3)} m, seen at x ${m['vision.cube_in_zone.x'] ?? '-'} y ${m['vision.cube_in_zone.y'] ?? '-'} z ${m['vision.cube_in_zone.z'] ?? '-'}, area ${m['vision.cube_in_zone.area']} px)`);
    }
  }
  const judged = results.length - crashed;
  console.log(`\nstate vs vision, pick-and-place, ${judged} episodes (${crashed} crashed), ${((performance.now() - started) / 1000).toFixed(1)} s on ${pool.size} workers:`);
  console.log('                  vision success   vision failure');
  console.log(`  state success   ${String(matrix.both).padStart(14)}   ${String(matrix.stateOnly).padStart(14)}`);
  console.log(`  state failure   ${String(matrix.visionOnly).padStart(14)}   ${String(matrix.neither).padStart(14)}`);
  console.log(`agreement: ${(((matrix.both + matrix.neither) / judged) * 100).toFixed(1)}%`);
  if (disagreements.length) console.log(`disagreements:\n${disagreements.join('\n')}`);
}
if (EPISODES > 0) await stateVsVision();
