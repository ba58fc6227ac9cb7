/**
 * `arbor identify` + `arbor calibrate` against a stand-in robot, issue 18's `npm run bench`
 * figure: `arbor sim-serve --perturb` serves pick-and-place with kp × 0.7, damping × 1.8 and
 * commands two control ticks late (test/calibrate.test.ts's stand-in arm; its gripper is the
 * model's here), over rosbridge. identify records its default excitations on it (a chirp per
 * joint and a gripper close, 6 s each) and calibrate fits its default axes (kp, damping, command delay) with its default budget, each as
 * the command a user runs, in its own process. Prints the wall time of each (median of the runs
 * [min–max]), the fitted-versus-true table and the tracking error on the recordings calibrate held
 * out of the fit, before and after (medians of the runs), then how to re-run it.
 *
 * A few minutes (most of it calibrate's replays); never part of the test suite. Environment:
 * ARBOR_BENCH_CALIBRATE_RUNS (default 3).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadScenario } from '../src/scenario/load.ts';
import type { Calibration, TrackingError } from '../src/transfer/calibrate.ts';
import { startSimServe } from '../test/sim-serve-helpers.ts';

const RUNS = Number(process.env.ARBOR_BENCH_CALIBRATE_RUNS ?? 3);
const SCENARIO = 'scenarios/pick-place.yaml';
/** The stand-in's hidden differences, as the scenario's axes name them, and the fitted axis each is. */
const TRUE = { kp: 0.7, damping: 1.8, command_delay: 2 };
const STAND_IN = `arm_kp=${TRUE.kp},arm_damping=${TRUE.damping},command_delay=${TRUE.command_delay}`;

const exec = promisify(execFile);
const arbor = (args: string[]) => exec(process.execPath, ['bin/arbor.js', ...args], { maxBuffer: 1 << 26 });
const loads = () => loadavg().map((l) => l.toFixed(1)).join(' ');

interface Run {
  identifySeconds: number;
  calibrateSeconds: number;
  recordings: number;
  fit: Calibration;
}

/** One identify on a fresh stand-in, then one calibrate on its recordings; each timed as a whole command. */
async function once(dir: string): Promise<Run> {
  const recordings = join(dir, 'recordings');
  const robot = await startSimServe(SCENARIO, ['--rosbridge', '0', '--perturb', STAND_IN]);
  let started = performance.now();
  try {
    await arbor(['identify', SCENARIO, '--backend', `rosbridge://127.0.0.1:${robot.port}`, '--yes', '--out', recordings, '--json']);
  } finally {
    await robot.stop();
  }
  const identifySeconds = (performance.now() - started) / 1000;
  // In name order, as a shell's recordings/*.trace gives them (calibrate holds out every third).
  const traces = readdirSync(recordings).filter((f) => f.endsWith('.trace')).sort().map((f) => join(recordings, f));
  started = performance.now();
  const { stdout } = await arbor(['calibrate', SCENARIO, '--from', ...traces, '--out', join(dir, 'calibration.yaml'), '--json']);
  return { identifySeconds, calibrateSeconds: (performance.now() - started) / 1000, recordings: traces.length, fit: JSON.parse(stdout) as Calibration };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** `median [min–max]` of a timing. */
const spread = (xs: readonly number[], digits: number) => `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}]`;
const rad = (x: number) => x.toExponential(2);
const meanOf = (e: TrackingError) => e.joints.reduce((s, v) => s + v, 0) / e.joints.length;

const joints = (await loadScenario(SCENARIO)).robotConfig.joints.map((j) => j.name);
const loadBefore = loads();
const runs: Run[] = [];
for (let i = 1; i <= RUNS; i++) {
  process.stderr.write(`calibrate bench: run ${i} of ${RUNS}\n`);
  runs.push(await once(mkdtempSync(join(tmpdir(), 'arbor-bench-calibrate-'))));
}
const loadAfter = loads();

const fits = runs.map((r) => r.fit);
const replays = fits.map((f) => f.evaluations);
console.log(`\n## calibrate: identify + calibrate on a stand-in pick-and-place arm (sim-serve --perturb ${STAND_IN}, over rosbridge), ${RUNS} runs`);
console.log(`load average (1, 5, 15 min) ${loadBefore} at the start, ${loadAfter} at the end, on ${cpus().length} cores\n`);
console.log(`| command | wall time (s), median [min–max] of ${RUNS} |\n| --- | --- |`);
console.log(`| arbor identify (${runs[0].recordings} excitations × 6 s, lockstep over rosbridge) | ${spread(runs.map((r) => r.identifySeconds), 1)} |`);
console.log(`| arbor calibrate (kp, damping, command_delay; ${new Set(replays).size === 1 ? replays[0] : spread(replays, 0)} replays) | ${spread(runs.map((r) => r.calibrateSeconds), 1)} |`);
console.log(`\nThe stand-in is the sim's own model with the values below: a perfect fit exists, so the errors left are the fit's numerical ones, not what a real arm would give.`);

console.log(`\n| axis | true | fitted ± std error (median of ${RUNS}) | error | fitted in each run |\n| --- | --- | --- | --- | --- |`);
for (const [name, truth] of Object.entries(TRUE)) {
  const axes = fits.map((f) => f.axes.find((a) => a.name === name)!);
  const value = median(axes.map((a) => a.value));
  const error = median(axes.map((a) => a.error));
  // A delay is whole ticks, picked by a scan: it has no standard error.
  const shown = (v: number) => (name === 'command_delay' ? `${v} ticks` : v.toPrecision(6));
  const fitted = !axes.every((a) => a.identified) ? `not identified (${axes.find((a) => !a.identified)!.note})` : name === 'command_delay' ? `${shown(value)} (a scan of whole ticks)` : `${shown(value)} ± ${error.toExponential(1)}`;
  console.log(`| ${name} | ${truth} | ${fitted} | ${((100 * Math.abs(value - truth)) / truth).toPrecision(2)}% | ${axes.map((a) => shown(a.value)).join(', ')} |`);
}

const heldOut = fits.map((f) => f.heldOut!);
// Past 1000× the calibrated sim replays the recording to rounding, as arbor calibrate prints it.
const better = (before: number, after: number) => (before / after > 1000 ? '>1000×' : `${(before / after).toPrecision(3)}×`);
const row = (label: string, before: number[], after: number[]) => `| ${label} | ${rad(median(before))} | ${rad(median(after))} | ${better(median(before), median(after))} |`;
console.log(`\nheld out of the fit: every third recording (${Math.floor(runs[0].recordings / 3)} of ${runs[0].recordings}); tracking rms per joint, median of ${RUNS} runs\n`);
console.log('| joint | nominal sim (rad) | calibrated (rad) | better by |\n| --- | --- | --- | --- |');
joints.forEach((j, i) => console.log(row(j, heldOut.map((h) => h.before.joints[i]), heldOut.map((h) => h.after.joints[i]))));
console.log(row('mean over joints', heldOut.map((h) => meanOf(h.before)), heldOut.map((h) => meanOf(h.after))));

console.log(`\nidentify_wall_s: ${spread(runs.map((r) => r.identifySeconds), 1)}`);
console.log(`calibrate_wall_s: ${spread(runs.map((r) => r.calibrateSeconds), 1)}`);
for (const name of Object.keys(TRUE)) console.log(`fitted_${name}: ${+median(fits.map((f) => f.axes.find((a) => a.name === name)!.value)).toPrecision(6)}`);
console.log(`held_out_rms_before_rad: ${rad(median(heldOut.map((h) => meanOf(h.before))))}`);
console.log(`held_out_rms_after_rad: ${rad(median(heldOut.map((h) => meanOf(h.after))))}`);
console.log(`\nre-run: node bin/run-ts.js bench/calibrate.ts (ARBOR_BENCH_CALIBRATE_RUNS=${RUNS}; npm run bench runs it with the others). By hand, one run:`);
console.log(`  node bin/arbor.js sim-serve ${SCENARIO} --rosbridge 9090 --perturb '${STAND_IN}' &`);
console.log(`  time node bin/arbor.js identify ${SCENARIO} --backend rosbridge://127.0.0.1:9090 --yes --out recordings`);
console.log(`  time node bin/arbor.js calibrate ${SCENARIO} --from recordings/*.trace --out calibration.yaml`);
