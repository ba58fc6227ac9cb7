/**
 * `arbor calibrate`: fits perturbation axes of the sim (gains, damping, latency, …) to a robot's
 * own recordings. Each recording is replayed in sim: the same reset, the same command at every
 * tick; the fit minimises the root-mean-square gap between the recorded and the simulated joint
 * positions (and gripper opening and finger force), with CMA-ES (src/researchers/cmaes.ts) over the scale axes and
 * a scan over whole ticks of command delay.
 *
 * What a fit can and cannot say: each fitted value comes with a standard error from the curvature
 * of the error at the optimum (Gauss–Newton on the residuals); an axis the recordings do not move
 * (gripper force, when no recording closes the fingers on anything) is reported as such instead
 * of given a value. Observation delay is not identifiable from recordings of commands and joint
 * states (it only matters in closed loop), so it is not fitted.
 */
import { Matrix, inverse, solve } from 'ml-matrix';
import { Cmaes } from '../researchers/cmaes.ts';
import type { SafeLink } from '../robot/safe-link.ts';
import { SimDivergedError } from '../robot/sim-link.ts';
import type { Axis, AxisValue } from '../scenario/perturbation.ts';
import type { RobotConfig } from '../scenario/robot.ts';
import type { Trace } from '../trace/trace.ts';
import { TOPIC } from '../trace/topics.ts';
import { ExcitationProgram, excitationCommand, gripperWidthAt } from './excitation.ts';
import { recordingOfTrace, type CommandedTrajectory, type Recording } from './recording.ts';

/** A recording reduced to what a replay needs. */
export interface Replay {
  /** Where it came from (a file name), for messages. */
  name: string;
  /** Seed of the reset it started from. */
  seed: number;
  /** The command sent at each tick. */
  commands: { position: number[]; gripperWidth: number }[];
  /** Measured arm joint positions, row k after command k−1 (row 0 at the reset), robot.yaml order. */
  measured: Float64Array[];
  /** Measured gripper opening per row; absent without a gripper topic. */
  gripper?: Float64Array;
  /** Measured finger force per row (N); absent without a gripper topic. */
  gripperForce?: Float64Array;
}

/**
 * A newton of finger force weighs in the fit as a milliradian of joint angle or a millimetre of
 * gripper opening: an uncalibrated sim misses by tens of newtons where the fingers squeeze and by
 * tens of milliradians where a chirp peaks, so both count.
 */
const FORCE_WEIGHT = 1e-3;

/**
 * The replay of an `arbor identify` trace from before traces recorded their commands: they come
 * back from the program in its meta (a grasp's cannot: its arm followed the task's skill).
 */
export function replayOfExcitation(trace: Trace, robot: RobotConfig, name: string, period: number): Replay {
  const program = programOf(trace, name);
  const ticks = Math.round(program.duration / period);
  const commands = Array.from({ length: ticks }, (_, k) => excitationCommand(program, robot, (k + 1) * period));
  const measured = robot.joints.map((j) => Float64Array.from(trace.column(TOPIC.jointStates, `position.${j.name}`)));
  return { name, seed: seedOf(trace), commands, measured: rowsOf(measured), ...gripperOf(trace) };
}

/**
 * The replay of an `arbor identify` trace: the arm's commands as it recorded sending them, the
 * gripper's from the program in its meta, from the reset of its seed (where a grasp's object
 * stood), against the measured joints, gripper opening and finger force.
 */
export function replayOfIdentify(trace: Trace, robot: RobotConfig, name: string, period: number): Replay {
  const program = programOf(trace, name);
  const arm = replayOfRecording(recordingOfTrace(trace, name), robot, period);
  const commands = arm.commands.map((c, k) => ({ ...c, gripperWidth: gripperWidthAt(program, robot, (k + 1) * period) }));
  return { ...arm, seed: seedOf(trace), commands, ...gripperOf(trace) };
}

function programOf(trace: Trace, name: string): ExcitationProgram {
  const parsed = ExcitationProgram.safeParse(trace.meta.excitation);
  if (!parsed.success) throw new Error(`${name}: not an arbor identify recording (its meta has no excitation program); record one with arbor identify.`);
  return parsed.data;
}

function seedOf(trace: Trace): number {
  return typeof trace.meta.seed === 'number' ? trace.meta.seed : 0;
}

/** A trace's measured gripper opening and finger force, when it has a gripper topic. */
function gripperOf(trace: Trace): Pick<Replay, 'gripper' | 'gripperForce'> {
  if (!trace.topics.has(TOPIC.gripper)) return {};
  return { gripper: Float64Array.from(trace.column(TOPIC.gripper, 'position')), gripperForce: Float64Array.from(trace.column(TOPIC.gripper, 'effort')) };
}

/** Farthest a recording may start from home (rad): the replay starts there, as every reset does. */
const START_TOLERANCE = 0.05;

/**
 * The replay of any recording (an arbor trace, an MCAP export's episode, a ros2 bag): at each
 * control tick, the target of the last trajectory sent before it, at one period ahead; the
 * measured positions resampled at the ticks. The gripper is held open (a recording of joint
 * states and arm commands says nothing of it).
 */
export function replayOfRecording(recording: Recording, robot: RobotConfig, period: number): Replay {
  const name = recording.part ? `${recording.source} (${recording.part})` : recording.source;
  const column = robot.joints.map((j) => {
    const i = recording.joints.indexOf(j.name);
    if (i < 0) throw new Error(`${name}: it does not record joint ${j.name} of ${robot.name} (it has ${recording.joints.join(', ')}).`);
    return i;
  });
  if (recording.commands.length === 0) throw new Error(`${name}: it holds no commanded trajectory, so there is nothing to replay.`);
  const at = (t: number) => column.map((i) => interpolate(recording.times, recording.positions, i, t));
  const start = at(0);
  robot.joints.forEach((j, k) => {
    if (Math.abs(start[k] - robot.home[k]) > START_TOLERANCE) {
      throw new Error(`${name}: ${j.name} starts at ${start[k].toFixed(3)} rad, ${Math.abs(start[k] - robot.home[k]).toFixed(3)} from home; calibrate replays from home, so record from there (arbor identify does).`);
    }
  });
  const ticks = Math.floor((recording.times[recording.times.length - 1] ?? 0) / period);
  const open = robot.gripper?.width[1] ?? 0;
  const commands: Replay['commands'] = [];
  let sent = -1;
  for (let k = 0; k < ticks; k++) {
    const t = k * period;
    while (sent + 1 < recording.commands.length && recording.commands[sent + 1].stamp <= t + 1e-9) sent++;
    const command = sent >= 0 ? recording.commands[sent] : undefined;
    commands.push({ position: command ? column.map((i) => targetAt(command, i, t + period - command.stamp)) : [...robot.home], gripperWidth: open });
  }
  const measured = Array.from({ length: ticks + 1 }, (_, k) => Float64Array.from(at(k * period)));
  return { name, seed: 0, commands, measured };
}

/** Column `i` of `rows` at time `t`, linear between samples, held at the ends. */
function interpolate(times: Float64Array, rows: Float64Array[], i: number, t: number): number {
  if (t <= times[0]) return rows[0][i];
  let hi = 1;
  while (hi < times.length && times[hi] < t) hi++;
  if (hi >= times.length) return rows[rows.length - 1][i];
  const f = (t - times[hi - 1]) / (times[hi] - times[hi - 1]);
  return rows[hi - 1][i] + f * (rows[hi][i] - rows[hi - 1][i]);
}

/** A trajectory's target for joint `i`, `dt` seconds after it was sent: linear between its points, its first before it, its last after. */
function targetAt(command: CommandedTrajectory, i: number, dt: number): number {
  const { times, positions } = command;
  if (dt <= times[0]) return positions[0][i];
  for (let p = 1; p < times.length; p++) {
    if (dt <= times[p]) return positions[p - 1][i] + ((dt - times[p - 1]) / (times[p] - times[p - 1])) * (positions[p][i] - positions[p - 1][i]);
  }
  return positions[positions.length - 1][i];
}

/** Columns (one per joint) as rows (one per tick). */
function rowsOf(columns: Float64Array[]): Float64Array[] {
  const n = Math.min(...columns.map((c) => c.length));
  return Array.from({ length: n }, (_, k) => Float64Array.from(columns, (c) => c[k]));
}

/** The axes `calibrate` can fit, with the box it searches. */
export const FITTABLE: Record<string, { axis: Axis; lower: number; upper: number }> = {
  kp: { axis: { kind: 'kp', scale: [1, 1] }, lower: 0.25, upper: 4 },
  damping: { axis: { kind: 'damping', scale: [1, 1] }, lower: 0.25, upper: 4 },
  armature: { axis: { kind: 'armature', scale: [1, 1] }, lower: 0.25, upper: 4 },
  frictionloss: { axis: { kind: 'frictionloss', scale: [1, 1] }, lower: 0.25, upper: 4 },
  gripper_force: { axis: { kind: 'gripper_force', scale: [1, 1] }, lower: 0.25, upper: 4 },
  finger_friction: { axis: { kind: 'finger_friction', scale: [1, 1] }, lower: 0.25, upper: 4 },
  command_delay: { axis: { kind: 'command_delay', ticks: [0, 0] }, lower: 0, upper: 8 },
};

/** One fitted axis. */
export interface FittedAxis {
  name: string;
  axis: Axis;
  value: number;
  /** Standard error of the value; 0 for whole ticks picked by a scan. */
  error: number;
  /** False when the recordings do not move the error when this axis moves: the value is the nominal one, unfitted. */
  identified: boolean;
  /** Why it is not identified, said for people. */
  note?: string;
}

/** The tracking error of replays, per joint (rad) and for the gripper (m) and its finger force (N). */
export interface TrackingError {
  joints: number[];
  gripper: number | null;
  gripperForce: number | null;
}

/** One replay's misfit (recorded − simulated): arm joints row by row, gripper opening and finger force. */
interface Misfit {
  arm: number[];
  opening: number[];
  force: number[];
}

/** What a fit found. */
export interface Calibration {
  axes: FittedAxis[];
  /** Tracking error of the fitted recordings before (nominal sim) and after. */
  fit: { before: TrackingError; after: TrackingError };
  /** The same on recordings held out of the fit; absent when none were. */
  heldOut?: { before: TrackingError; after: TrackingError };
  /** Replays of the sim the fit ran. */
  evaluations: number;
}

/** Settings of a fit. */
export interface FitOptions {
  /** Axis names (keys of FITTABLE). */
  axes: string[];
  /** Seed of CMA-ES. */
  seed?: number;
  /** Most replays of the fit set per CMA-ES run (default 60). */
  budget?: number;
  /** Hears how far the fit is. */
  onProgress?: (evaluations: number, best: number) => void;
}

/** Replays recordings in a sim link under perturbation values. */
export class ReplaySim {
  evaluations = 0;
  constructor(private readonly link: SafeLink) {}

  /**
   * Stacked residuals (recorded − simulated) of every replay: arm joints, then the gripper's
   * opening, then its finger force (weighted by FORCE_WEIGHT); undefined when the sim diverged.
   */
  async residuals(replays: readonly Replay[], values: readonly AxisValue[]): Promise<Float64Array | undefined> {
    const out: number[] = [];
    for (const replay of replays) {
      const m = await this.misfit(replay, values);
      if (!m) return undefined;
      out.push(...m.arm, ...m.opening, ...m.force.map((f) => FORCE_WEIGHT * f));
    }
    return Float64Array.from(out);
  }

  /** Tracking error per joint, of the gripper's opening and of its finger force (RMS over every replay). */
  async tracking(replays: readonly Replay[], values: readonly AxisValue[]): Promise<TrackingError> {
    const joints = this.link.robot.joints.length;
    const sums = new Float64Array(joints);
    const all: Misfit = { arm: [], opening: [], force: [] };
    for (const replay of replays) {
      const m = await this.misfit(replay, values);
      if (!m) throw new Error(`${replay.name}: the sim diverged replaying it with ${values.map((v) => `${v.name}=${v.value}`).join(', ') || 'the nominal model'}.`);
      m.arm.forEach((r, i) => (sums[i % joints] += r * r));
      all.arm.push(...m.arm);
      all.opening.push(...m.opening);
      all.force.push(...m.force);
    }
    const rows = Math.max(all.arm.length / joints, 1);
    const of = (r: number[]) => (r.length ? rms(Float64Array.from(r)) : null);
    return { joints: Array.from(sums, (s) => Math.sqrt(s / rows)), gripper: of(all.opening), gripperForce: of(all.force) };
  }

  /** One replay under `values`; undefined when the sim diverged. */
  private async misfit(replay: Replay, values: readonly AxisValue[]): Promise<Misfit | undefined> {
    this.link.perturb(values);
    try {
      await this.link.reset(replay.seed);
      for (const command of replay.commands) await this.link.act(command);
    } catch (err) {
      // Gains far enough from the robot's make the sim blow up: that world is no fit at all.
      if (err instanceof SimDivergedError) return undefined;
      throw err;
    } finally {
      await this.link.stop();
    }
    this.evaluations++;
    const trace = this.link.trace();
    const robot = this.link.robot;
    const simulated = rowsOf(robot.joints.map((j) => Float64Array.from(trace.column(TOPIC.jointStates, `position.${j.name}`))));
    const misfit: Misfit = { arm: [], opening: [], force: [] };
    for (let k = 0; k < Math.min(simulated.length, replay.measured.length); k++) for (let j = 0; j < robot.joints.length; j++) misfit.arm.push(replay.measured[k][j] - simulated[k][j]);
    if (trace.topics.has(TOPIC.gripper)) {
      const gap = (recorded: Float64Array | undefined, field: string, into: number[]) => {
        const sim = trace.column(TOPIC.gripper, field);
        for (let k = 0; recorded && k < Math.min(sim.length, recorded.length); k++) into.push(recorded[k] - sim[k]);
      };
      gap(replay.gripper, 'position', misfit.opening);
      gap(replay.gripperForce, 'effort', misfit.force);
    }
    return misfit;
  }
}

const rms = (r: Float64Array | undefined) => (r ? Math.sqrt(r.reduce((s, v) => s + v * v, 0) / Math.max(r.length, 1)) : Infinity);

/** The axis values of a point of the search (scale axes) at a whole-tick delay. */
function valuesAt(names: readonly string[], point: readonly number[], delay: number | undefined): AxisValue[] {
  const values: AxisValue[] = names.map((name, i) => ({ name, axis: { ...FITTABLE[name].axis, ...scaleRange(point[i]) } as Axis, value: point[i] }));
  if (delay !== undefined) values.push({ name: 'command_delay', axis: { kind: 'command_delay', ticks: [delay, delay] }, value: delay });
  return values;
}

function scaleRange(v: number): { scale: [number, number] } {
  return { scale: [v, v] };
}

/**
 * Fits the axes to `fitSet`; reports tracking before and after on it and on `heldOut`. Scale axes
 * are searched in log space (a gain half as large is as likely as one twice as large).
 */
export async function calibrate(sim: ReplaySim, fitSet: readonly Replay[], heldOut: readonly Replay[], options: FitOptions): Promise<Calibration> {
  for (const name of options.axes) if (!FITTABLE[name]) throw new Error(`--axes: '${name}' cannot be fitted; use some of ${Object.keys(FITTABLE).join(', ')}.`);
  if (fitSet.length === 0) throw new Error('calibrate needs at least one recording to fit.');
  const scales = options.axes.filter((a) => a !== 'command_delay');
  const fitDelay = options.axes.includes('command_delay');
  const cost = async (point: number[], delay: number | undefined) => rms(await sim.residuals(fitSet, valuesAt(scales, point, delay)));
  // Delay and gains trade off (slow joints look late, so a scan at the nominal gains can be a tick
  // off): start at the scan's best delay and move a tick at a time, each delay's gains fitted in
  // full, while a neighbour fits better.
  const fitAt = async (delay: number | undefined, from: number[]) => {
    let found = { point: [] as number[], value: await cost([], delay) };
    if (scales.length) {
      // CMA-ES finds the basin; Levenberg–Marquardt on the residuals then settles in it in a few
      // steps, where CMA-ES alone needs hundreds of replays to converge.
      const rough = await searchScales(scales, from, (p) => cost(p, delay), options);
      found = await polish(scales, rough.point, (p) => sim.residuals(fitSet, valuesAt(scales, p, delay)));
    }
    options.onProgress?.(sim.evaluations, found.value);
    return { ...found, delay };
  };
  let best = await fitAt(fitDelay ? await bestDelay((d) => cost(scales.map(() => 1), d)) : undefined, scales.map(() => 1));
  const tried = new Map([[best.delay, best.value]]);
  for (let moved = fitDelay; moved; ) {
    moved = false;
    for (const step of [-1, 1]) {
      const delay = best.delay! + step;
      if (delay < 0 || delay > FITTABLE.command_delay.upper || tried.has(delay)) continue;
      // Each neighbour starts from the best gains so far: they are closer than the nominal ones.
      const found = await fitAt(delay, best.point);
      tried.set(delay, found.value);
      if (found.value < best.value) {
        best = found;
        moved = true;
        break;
      }
    }
  }
  const axes = await uncertainty(sim, fitSet, scales, best.point, best.delay);
  const fitted = fittedValues(axes);
  const nominalValues: AxisValue[] = [];
  const result: Calibration = {
    axes,
    fit: { before: await sim.tracking(fitSet, nominalValues), after: await sim.tracking(fitSet, fitted) },
    evaluations: 0,
  };
  if (heldOut.length) result.heldOut = { before: await sim.tracking(heldOut, nominalValues), after: await sim.tracking(heldOut, fitted) };
  result.evaluations = sim.evaluations;
  return result;
}

/** The values of the identified axes: what a calibration file holds and the sim loads. */
export function fittedValues(axes: readonly FittedAxis[]): AxisValue[] {
  return axes.filter((a) => a.identified).map(({ name, axis, value }) => ({ name, axis, value }));
}

/** The delay of 0..8 ticks with the lowest error. */
async function bestDelay(cost: (delay: number) => Promise<number>): Promise<number> {
  let best = { delay: 0, value: Infinity };
  for (let delay = 0; delay <= FITTABLE.command_delay.upper; delay++) {
    const value = await cost(delay);
    if (value < best.value) best = { delay, value };
  }
  return best.delay;
}

/** CMA-ES over the log of each scale, within its box, from `start`. */
async function searchScales(names: readonly string[], start: number[], cost: (point: number[]) => Promise<number>, options: FitOptions): Promise<{ point: number[]; value: number }> {
  const lower = names.map((n) => Math.log(FITTABLE[n].lower));
  const upper = names.map((n) => Math.log(FITTABLE[n].upper));
  const cmaes = new Cmaes({ dim: names.length, lower, upper, x0: start.map(Math.log), sigma0: 0.15, seed: options.seed ?? 1 });
  let best = { point: start, value: await cost(start) };
  let spent = 1;
  while (spent < (options.budget ?? 60)) {
    const points = cmaes.ask();
    const values: number[] = [];
    for (const p of points) {
      const point = p.map(Math.exp);
      const value = await cost(point);
      values.push(value);
      if (value < best.value) best = { point, value };
    }
    spent += points.length;
    cmaes.tell(points, values);
  }
  return best;
}

/** Levenberg–Marquardt over the log of each scale (forward differences), from `start`; at most 20 steps. */
async function polish(names: readonly string[], start: number[], residuals: (point: number[]) => Promise<Float64Array | undefined>): Promise<{ point: number[]; value: number }> {
  const box = (v: number, i: number) => Math.min(Math.log(FITTABLE[names[i]].upper), Math.max(Math.log(FITTABLE[names[i]].lower), v));
  let theta = start.map(Math.log);
  const first = await residuals(theta.map(Math.exp));
  // CMA-ES returns a point it replayed, so this only fails if the sim does not repeat itself.
  if (!first) return { point: start, value: Infinity };
  let r = first;
  let cost = sumSquares(r);
  let lambda = 1e-2;
  for (let step = 0; step < 20; step++) {
    const J = new Matrix(r.length, theta.length);
    for (let i = 0; i < theta.length; i++) {
      const h = 1e-3;
      const moved = await residuals(theta.map((v, k) => Math.exp(k === i ? v + h : v)));
      if (!moved) return { point: theta.map(Math.exp), value: rms(r) };
      moved.forEach((m, row) => J.set(row, i, (m - r[row]) / h));
    }
    const JtJ = J.transpose().mmul(J);
    const g = J.transpose().mmul(Matrix.columnVector(Array.from(r)));
    let improved = false;
    for (let tries = 0; tries < 6 && !improved; tries++) {
      const damped = JtJ.clone();
      for (let i = 0; i < theta.length; i++) damped.set(i, i, JtJ.get(i, i) * (1 + lambda) + 1e-12);
      const delta = solve(damped, g).to1DArray();
      const next = theta.map((v, i) => box(v - delta[i], i));
      const rNext = await residuals(next.map(Math.exp));
      const costNext = sumSquares(rNext);
      if (rNext && costNext < cost) {
        const gain = (cost - costNext) / cost;
        [theta, r, cost, lambda, improved] = [next, rNext, costNext, lambda / 3, true];
        if (gain < 1e-6) return { point: theta.map(Math.exp), value: rms(r) };
      } else lambda *= 8;
    }
    if (!improved) break;
  }
  return { point: theta.map(Math.exp), value: rms(r) };
}

const sumSquares = (r: Float64Array | undefined) => (r ? r.reduce((s, v) => s + v * v, 0) : Infinity);

/**
 * Standard errors from the Gauss–Newton curvature at the optimum: J from central differences of
 * the residuals (2% of each value), covariance s²(JᵀJ)⁻¹. An axis whose moving by ±2% changes no
 * residual by more than rounding is not identified by these recordings.
 */
async function uncertainty(sim: ReplaySim, fitSet: readonly Replay[], scales: readonly string[], point: number[], delay: number | undefined): Promise<FittedAxis[]> {
  const at = await sim.residuals(fitSet, valuesAt(scales, point, delay));
  if (!at) throw new Error('The sim diverged at the fitted values; fit fewer axes, or check the recordings.');
  const columns: Float64Array[] = [];
  const identified: boolean[] = [];
  for (let i = 0; i < scales.length; i++) {
    const h = 0.02 * point[i];
    const up = await sim.residuals(fitSet, valuesAt(scales, point.map((v, k) => (k === i ? v + h : v)), delay));
    const down = await sim.residuals(fitSet, valuesAt(scales, point.map((v, k) => (k === i ? v - h : v)), delay));
    if (!up || !down) {
      // The fit sits at the edge of where the sim holds together: no curvature to read there.
      identified.push(false);
      columns.push(new Float64Array(at.length));
      continue;
    }
    const column = up.map((u, k) => (u - down[k]) / (2 * h));
    // A change below 1e-6 rad over ±2% is float noise, not a signal of the axis.
    identified.push(rms(up.map((u, k) => u - down[k])) > 1e-6);
    columns.push(column);
  }
  const known = scales.map((_, i) => i).filter((i) => identified[i]);
  const errors = new Map<number, number>();
  if (known.length) {
    const J = new Matrix(at.length, known.length);
    known.forEach((i, c) => columns[i].forEach((v, r) => J.set(r, c, v)));
    const dof = Math.max(at.length - known.length, 1);
    const s2 = at.reduce((s, v) => s + v * v, 0) / dof;
    const cov = inverse(J.transpose().mmul(J)).mul(s2);
    known.forEach((i, c) => errors.set(i, Math.sqrt(Math.max(cov.get(c, c), 0))));
  }
  const axes: FittedAxis[] = scales.map((name, i) =>
    identified[i]
      ? { name, axis: valuesAt([name], [point[i]], undefined)[0].axis, value: point[i], error: errors.get(i) ?? 0, identified: true }
      : { name, axis: valuesAt([name], [1], undefined)[0].axis, value: 1, error: 0, identified: false, note: `${name.replace('_', ' ')}: not excited by these recordings` },
  );
  if (delay !== undefined) axes.push({ name: 'command_delay', axis: { kind: 'command_delay', ticks: [delay, delay] }, value: delay, error: 0, identified: true });
  return axes;
}
