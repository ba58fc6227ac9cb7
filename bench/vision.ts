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
import { defaultPolicy, type ParamsPolicyFile } from '../src/policy/policy.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { RayCamera } from '../src/sim/ray-camera.ts';
import { Rng } from '../src/scenario/rng.ts';
import { World } from '../src/sim/world.ts';
import { scenarioCopy } from '../test/study-helpers.ts';

const EPISODES = Number(process.env.ARBOR_BENCH_VISION_EPISODES ?? 200);
const RENDERS = 40;

// ----- render time ----------------------------------------------------------------------------

const world = await World.load('sim/pick_place.xml');
world.forward();
console.log('ray camera, top camera of sim/pick_place.xml (fastest and median of', RENDERS, 'renders):');
for (const [width, height] of [[160, 120], [320, 240]]) {
  const camera = new RayCamera(world, 'top', width, height);
  const cast: number[] = [];
  const colour: number[] = [];
  for (let i = 0; i < RENDERS + 5; i++) {
    const t0 = performance.now();
    const image = camera.render();
    const t1 = performance.now();
    camera.rgb(image);
    const t2 = performance.now();
    if (i >= 5) {
      cast.push(t1 - t0);
      colour.push(t2 - t1);
    }
  }
  const total = cast.map((c, i) => c + colour[i]);
  const stat = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[0].toFixed(2)} / ${s[Math.floor(s.length / 2)].toFixed(2)} ms`;
  };
  console.log(`  ${width}x${height}: RGB-D + labels ${stat(total)} (depth + labels ${stat(cast)}, colour ${stat(colour)})`);
  camera.dispose();
}
world.dispose();

// ----- state vs vision --------------------------------------------------------------------------

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
