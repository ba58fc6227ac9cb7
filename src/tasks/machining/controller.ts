/**
 * The machining skill controller: a state machine over Cartesian tool targets with force control
 * along the surface normal,
 *   approach → tare → touch → follow → retract → done
 * It approaches above the path's start, tares the wrist force/torque sensor (the spindle's weight),
 * moves in along the normal until it feels the part, then feeds along the path while an admittance
 * law moves the tool along the normal to hold the force target, and retracts. One damped-least-
 * squares IK step per control tick turns the tool target into joint targets. Every number that
 * shapes the motion is a named parameter, so a researcher can tune it without touching code.
 */
import { dlsStep, poseError } from '../../policy/ik.ts';
import type { Policy, PolicyContext } from '../../policy/policy.ts';
import type { Action, Observation } from '../../robot/link.ts';
import { pathGeometry, workpieceFromPoses, type PathGeometry } from './path.ts';
import { CORNER } from './scene.ts';
import type { MachiningSpec } from './schema.ts';
import { cross, distance, dot, unit, withoutAlong } from './vector.ts';

/** The parameters this controller reads, with what they do: the one place they are described. */
export const MACHINING_PARAMS = {
  approach_height: 'distance of the tool above the path start, along the surface normal, before moving in (m)',
  approach_speed: 'tool speed while approaching and retracting (m/s)',
  lead_in_speed: 'tool speed along the normal while moving in to touch the part (m/s)',
  lead_in: 'path length over which the feed ramps up from a tenth to the full feed rate after touching (m)',
  feed_rate: 'tool speed along the path (m/s)',
  tracking_gain: 'fraction of the measured tool error across the normal fed back into the tool target per tick while touching and following (0: none); corrects the arm sagging off the path',
  force_target: 'normal force to hold along the path (N)',
  admittance_gain: 'tool speed along the normal per newton of force error (m/s/N): higher reacts faster, too high chatters',
  force_filter: 'time constant of the low-pass filter on the measured force (s)',
  tool_tilt: 'tilt of the tool axis from the surface normal toward the feed direction (rad)',
  path_offset_x: 'correction added to the observed workpiece x (m): compensates localisation error',
  path_offset_y: 'correction added to the observed workpiece y (m): compensates localisation error',
  ik_gain: 'fraction of the remaining tool error corrected per control tick',
  ik_damping: 'damping of the least-squares IK step; higher is smoother near singularities',
} as const;
export type MachiningParams = Record<keyof typeof MACHINING_PARAMS, number>;

const PHASES = ['approach', 'tare', 'touch', 'follow', 'retract', 'done'] as const;
type Phase = (typeof PHASES)[number];

/** Tool-setpoint tolerance for "waypoint reached" (m). */
const SETTLE_TOLERANCE = 0.003;
/** How long the tool holds still above the part while the force sensor is tared (s). */
const TARE_TIME = 0.25;
/** Estimated normal force that counts as touching the part (N). */
const TOUCH_FORCE = 2;
/** How far past the surface the tool may move in without touching before it gives up (m). */
const TOUCH_OVERTRAVEL = 0.02;
/** A phase that has not finished after this long moves on anyway, so the episode cannot stall. */
const PHASE_TIMEOUT = 4;

export class MachiningController implements Policy {
  private phaseIndex = 0;
  private phaseStart = 0;
  private qCommand = new Float64Array(0);
  private readonly setpoint = new Float64Array(3);
  private rotation: Float64Array = new Float64Array(9);
  private path: PathGeometry = { points: [], normal: [0, 0, 1] };
  /** Cumulative length along the path at each point (m). */
  private lengths: number[] = [];
  /** Arc length travelled along the path (m). */
  private travelled = 0;
  /** Offset of the tool point from the path along the normal (m): the admittance state. */
  private offset = 0;
  /** Correction added to the tool target across the normal (m, world): the tracking state. */
  private readonly correction = new Float64Array(3);
  /** Filtered normal force (N). */
  private force = 0;
  /** The wrist force (world frame) with nothing touched: the spindle's weight. */
  private readonly tare = new Float64Array(3);
  private tareSamples = 0;

  constructor(
    private readonly context: PolicyContext,
    private readonly spec: MachiningSpec,
    private readonly params: MachiningParams,
  ) {
    const { tool } = context.scenario.robotConfig;
    if (!tool) throw new Error(`Machining needs a tool; robot ${context.scenario.robotConfig.name} has no tool: block in its robot.yaml.`);
  }

  get phase(): Phase {
    return PHASES[this.phaseIndex];
  }

  get done(): boolean {
    return this.phase === 'done';
  }

  reset(obs: Observation): void {
    const p = this.params;
    this.phaseIndex = 0;
    this.phaseStart = obs.time;
    this.qCommand = Float64Array.from(obs.position);
    this.setpoint.set(this.context.kinematics.pose(obs.position).pos);
    this.travelled = 0;
    this.offset = 0;
    this.correction.fill(0);
    this.force = 0;
    this.tare.fill(0);
    this.tareSamples = 0;
    const center = obs.objects[this.spec.workpiece];
    const corner = obs.objects[CORNER];
    if (!center || !corner) throw new Error(`The observation has no pose for '${this.spec.workpiece}' or '${CORNER}'; the cell must localise the workpiece.`);
    const workpiece = workpieceFromPoses(center, corner);
    workpiece.center[0] += p.path_offset_x;
    workpiece.center[1] += p.path_offset_y;
    this.path = pathGeometry(this.spec.path, workpiece, this.spec.path_points);
    this.lengths = [0];
    for (let k = 1; k < this.path.points.length; k++) this.lengths.push(this.lengths[k - 1] + distance(this.path.points[k], this.path.points[k - 1]));
    const now = this.context.kinematics.pose(obs.position).mat;
    this.rotation = toolRotation(this.path, p.tool_tilt, [now[0], now[3], now[6]]);
  }

  act(obs: Observation): Action {
    const p = this.params;
    const dt = this.context.controlPeriod;
    const elapsed = obs.time - this.phaseStart;
    const n = this.path.normal;
    const radius = this.context.scenario.robotConfig.tool!.radius;
    const start = this.path.points[0];
    const hover = [0, 1, 2].map((i) => start[i] + (radius + p.approach_height) * n[i]);
    this.measureForce(obs, dt);

    switch (this.phase) {
      case 'approach':
        if (this.moveToward(hover, p.approach_speed) || elapsed > PHASE_TIMEOUT) this.next(obs);
        break;
      case 'tare': {
        this.moveToward(hover, p.approach_speed);
        // The second half of the wait is averaged: the arm has settled by then.
        if (elapsed > TARE_TIME / 2) this.addTareSample(obs);
        if (elapsed >= TARE_TIME) this.next(obs);
        break;
      }
      case 'touch': {
        const depth = radius + p.approach_height + TOUCH_OVERTRAVEL;
        const target = [0, 1, 2].map((i) => hover[i] - depth * n[i]);
        this.track(obs);
        const arrived = this.moveToward(target, p.lead_in_speed);
        if (this.force >= TOUCH_FORCE) {
          // Hold the offset where the part was found, and start feeding from there.
          this.offset = dot([0, 1, 2].map((i) => this.setpoint[i] - start[i]), n) - radius;
          this.next(obs);
        } else if (arrived || elapsed > PHASE_TIMEOUT) this.retract(obs);
        break;
      }
      case 'follow': {
        const length = this.lengths[this.lengths.length - 1];
        const ramp = p.lead_in > 0 ? Math.min(1, 0.1 + this.travelled / p.lead_in) : 1;
        this.travelled = Math.min(length, this.travelled + p.feed_rate * ramp * dt);
        this.offset += p.admittance_gain * (this.force - p.force_target) * dt;
        const on = this.pointAt(this.travelled);
        this.setpoint.set([0, 1, 2].map((i) => on[i] + (radius + this.offset) * n[i]));
        this.track(obs);
        this.step();
        if (this.travelled >= length) this.retract(obs);
        break;
      }
      case 'retract':
        if (this.moveToward(this.retractTo, p.approach_speed) || elapsed > PHASE_TIMEOUT) this.next(obs);
        break;
      case 'done':
        this.step();
        break;
    }
    return { position: this.qCommand, gripperWidth: 0 };
  }

  /** Where the retract ends: the approach height above where it starts. */
  private retractTo: number[] = [0, 0, 0];

  private retract(obs: Observation): void {
    const n = this.path.normal;
    this.retractTo = [0, 1, 2].map((i) => this.setpoint[i] + this.params.approach_height * n[i]);
    this.phaseIndex = PHASES.indexOf('retract');
    this.phaseStart = obs.time;
  }

  private next(obs: Observation): void {
    this.phaseIndex = Math.min(this.phaseIndex + 1, PHASES.length - 1);
    this.phaseStart = obs.time;
  }

  /** The point at arc length `s` along the path. */
  private pointAt(s: number): number[] {
    const { points } = this.path;
    let k = 1;
    while (k < points.length - 1 && this.lengths[k] < s) k++;
    const span = this.lengths[k] - this.lengths[k - 1];
    const t = span > 0 ? Math.min(1, Math.max(0, (s - this.lengths[k - 1]) / span)) : 1;
    return [0, 1, 2].map((i) => points[k - 1][i] + t * (points[k][i] - points[k - 1][i]));
  }

  /**
   * The normal force the part pushes back with, from the wrist sensor: the force in the world
   * frame less its tare, along the normal, low-pass filtered.
   */
  private measureForce(obs: Observation, dt: number): void {
    if (this.tareSamples === 0) return;
    const world = this.wristForce(obs);
    // The sensor gives the force on the spindle from the arm: the part pushing back along the
    // normal takes that much of the load off it, so the reading drops along the normal.
    const pushBack = -dot([0, 1, 2].map((i) => world[i] - this.tare[i] / this.tareSamples), this.path.normal);
    const tau = Math.max(this.params.force_filter, 0);
    this.force += (dt / (tau + dt)) * (pushBack - this.force);
  }

  private addTareSample(obs: Observation): void {
    const world = this.wristForce(obs);
    for (let i = 0; i < 3; i++) this.tare[i] += world[i];
    this.tareSamples++;
  }

  /** The wrist sensor's force in the world frame (the sensor is aligned with the tool frame). */
  private wristForce(obs: Observation): number[] {
    const r = this.context.kinematics.pose(obs.position).mat;
    const f = obs.wrench;
    return [0, 1, 2].map((row) => r[3 * row] * f[0] + r[3 * row + 1] * f[1] + r[3 * row + 2] * f[2]);
  }

  /** Moves the setpoint toward `waypoint` at `speed`, takes an IK step, and says whether the commanded tool is there. */
  private moveToward(waypoint: ArrayLike<number>, speed: number): boolean {
    const d = [0, 1, 2].map((i) => waypoint[i] - this.setpoint[i]);
    const gap = Math.hypot(d[0], d[1], d[2]);
    const stride = speed * this.context.controlPeriod;
    for (let i = 0; i < 3; i++) this.setpoint[i] = gap <= stride ? waypoint[i] : this.setpoint[i] + (d[i] / gap) * stride;
    this.step();
    if (gap > stride) return false;
    // The commanded pose: the measured one sags under gravity by more than the tolerance.
    return distance(this.context.kinematics.pose(this.qCommand).pos, waypoint) < SETTLE_TOLERANCE;
  }

  /**
   * Integrates the measured tool error across the normal into the correction: where the arm
   * sags or lags off the path, the target moves the other way until the tool is on it. Along the
   * normal the force decides where the tool goes, so that part is left out.
   */
  private track(obs: Observation): void {
    const measured = this.context.kinematics.pose(obs.position).pos;
    const n = this.path.normal;
    const error = withoutAlong([0, 1, 2].map((i) => this.setpoint[i] - measured[i]), n);
    for (let i = 0; i < 3; i++) this.correction[i] += this.params.tracking_gain * error[i];
  }

  /** One damped-least-squares step of the commanded joints toward the setpoint (plus the tracking correction) and tool rotation. */
  private step(): void {
    const { kinematics, scenario } = this.context;
    const now = kinematics.jacobian(this.qCommand);
    const target = [0, 1, 2].map((i) => this.setpoint[i] + this.correction[i]);
    const dq = dlsStep(now.jac, poseError(now.pos, now.mat, { pos: target, mat: this.rotation }), this.params.ik_damping);
    scenario.robotConfig.joints.forEach((joint, i) => {
      this.qCommand[i] = Math.min(joint.position[1], Math.max(joint.position[0], this.qCommand[i] + this.params.ik_gain * dq[i]));
    });
  }
}

/**
 * The tool's rotation (row-major; columns x, y, z) for the whole path: its axis z along -normal,
 * tilted by `tilt` toward the path's initial direction. A ball-end tool may spin about its axis
 * at any angle, so x is the tool's x axis now (`currentX`) made perpendicular to z: the wrist
 * turns no more than it must.
 */
export function toolRotation(path: PathGeometry, tilt: number, currentX: readonly number[]): Float64Array {
  const n = path.normal;
  const a = path.points[0];
  const b = path.points[Math.min(1, path.points.length - 1)];
  const t = unit(withoutAlong([b[0] - a[0], b[1] - a[1], b[2] - a[2]], n));
  const z = [0, 1, 2].map((i) => -Math.cos(tilt) * n[i] + Math.sin(tilt) * t[i]);
  const spin = withoutAlong(currentX, z);
  const x = unit(Math.hypot(spin[0], spin[1], spin[2]) < 1e-6 ? withoutAlong(t, z) : spin);
  const y = cross(z, x);
  return Float64Array.from([x[0], y[0], z[0], x[1], y[1], z[1], x[2], y[2], z[2]]);
}
