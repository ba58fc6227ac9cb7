/**
 * The pick-and-place skill controller: a state machine over Cartesian tool targets
 *   approach → descend → grasp → lift → transport → place → release → retreat → done
 * The tool setpoint moves toward each phase's waypoint at a set speed; one damped-least-squares
 * IK step per control tick turns it into joint targets. Every number that shapes the motion is a
 * named parameter, so a researcher can tune the skill without touching code.
 */
import { downwardRotation, dlsStep, poseError } from '../../policy/ik.ts';
import type { Policy, PolicyContext } from '../../policy/policy.ts';
import type { Action, Observation } from '../../robot/link.ts';
import type { SkillTarget } from '../task.ts';

/** The parameters this controller reads, with what they do: the one place they are described. */
export const PICK_PLACE_PARAMS = {
  approach_height: 'height of the tool above the object top before descending (m)',
  approach_speed: 'tool speed while approaching, descending, placing and retreating (m/s)',
  grasp_depth: 'how far below the object top the tool point goes to grasp (m); deeper grips more, too deep hits the table',
  grasp_offset_x: 'correction added to the observed object x when grasping (m): compensates perception error',
  grasp_offset_y: 'correction added to the observed object y when grasping (m): compensates perception error',
  close_speed: 'finger closing speed until both pads touch (m/s)',
  grasp_wait: 'time to hold still after the pads touch, before lifting (s)',
  lift_height: 'tool height above the table while carrying (m)',
  transport_speed: 'tool speed while lifting and carrying (m/s)',
  place_height: 'height of the object bottom above the table when released (m)',
  release_wait: 'time to wait with the gripper open before retreating (s)',
  ik_gain: 'fraction of the remaining tool error corrected per control tick',
  ik_damping: 'damping of the least-squares IK step; higher is smoother near singularities',
} as const;
export type PickPlaceParams = Record<keyof typeof PICK_PLACE_PARAMS, number>;

/** Where the skill works when nobody says otherwise: the object it picks and the point [x, y] (m) it places at. */
export interface SkillAim {
  /** Name of the tracked object to pick. */
  object: string;
  /** Where to put it down: [x, y] on the table (m, world). */
  point: readonly [number, number];
}

const PHASES = ['approach', 'descend', 'grasp', 'lift', 'transport', 'place', 'release', 'retreat', 'done'] as const;
type Phase = (typeof PHASES)[number];

/** Tool-setpoint tolerance for "waypoint reached" (m). */
const SETTLE_TOLERANCE = 0.01;
/** A phase that has not finished after this long moves on anyway, so the episode cannot stall. */
const PHASE_TIMEOUT = 2.5;
/** Pad force that counts as touching (N). */
const TOUCH_THRESHOLD = 0.5;

export class PickPlaceController implements Policy {
  private phaseIndex = 0;
  private phaseStart = 0;
  private readonly setpoint = new Float64Array(3);
  private qCommand = new Float64Array(0);
  private gripperCommand = 0;
  private rotation = downwardRotation(0);
  private objectHalf = 0.025;
  private grasped = { x: 0, y: 0, top: 0 };
  private touchedAt: number | undefined;
  /** The object picked and the point placed at now: the aim, or a planner's last target. */
  private objectName: string;
  private point: readonly [number, number];
  /** When the current phase finished, if it did (a code policy then chooses the next one). */
  private finishedAt: number | undefined;

  /** Gripper opening when open (m). */
  private readonly open: number;

  constructor(
    private readonly context: PolicyContext,
    private readonly aim: SkillAim,
    private params: PickPlaceParams,
  ) {
    this.objectName = aim.object;
    this.point = aim.point;
    const gripper = context.scenario.robotConfig.gripper;
    if (!gripper) throw new Error(`Pick-and-place needs a gripper; robot ${context.scenario.robotConfig.name} has none in its robot.yaml.`);
    this.open = gripper.width[1];
  }

  get phase(): Phase {
    return PHASES[this.phaseIndex];
  }

  get done(): boolean {
    return this.phase === 'done';
  }

  reset(obs: Observation): void {
    this.phaseIndex = 0;
    this.phaseStart = obs.time;
    this.qCommand = Float64Array.from(obs.position);
    this.setpoint.set(this.context.kinematics.pose(obs.position).pos);
    this.gripperCommand = this.open;
    this.touchedAt = undefined;
    this.finishedAt = undefined;
    this.objectName = this.aim.object;
    this.point = this.aim.point;
    const object = this.object(obs);
    // The object rests on the table, so its centre height is its half height.
    this.objectHalf = object.position[2];
    this.rotation = downwardRotation(graspYaw(object.orientation));
  }

  act(obs: Observation): Action {
    if (this.run(this.phase, obs)) this.next(obs);
    return { position: this.qCommand, gripperWidth: this.gripperCommand };
  }

  /**
   * One tick of `phase` with `params`, for a code policy that sequences the phases itself (the
   * task's skill primitives). A phase other than the current one is entered now, or when the
   * previous one finished, so phases called in order run exactly as `act` runs them. A `target`
   * (a planner's) changes the object picked or the point placed at from now on.
   */
  step(phase: string, obs: Observation, params: PickPlaceParams, target?: SkillTarget): { action: Action; done: boolean } {
    const index = PHASES.indexOf(phase as Phase);
    if (index < 0) throw new Error(`'${phase}' is not a phase of the pick-and-place skill; use one of ${PHASES.join(', ')}.`);
    this.params = params;
    if (target?.point) this.point = target.point;
    if (target?.object && target.object !== this.objectName) {
      this.objectName = target.object;
      // A new object to pick rests on the table: its centre height is its half height.
      this.objectHalf = this.object(obs).position[2];
    }
    if (index !== this.phaseIndex || this.finishedAt !== undefined) this.enter(index, this.finishedAt ?? obs.time);
    const done = this.run(PHASES[index], obs);
    if (done) this.finishedAt = obs.time;
    return { action: { position: Array.from(this.qCommand), gripperWidth: this.gripperCommand }, done };
  }

  /** Runs one tick of `phase`; true when the phase is finished. */
  private run(phase: Phase, obs: Observation): boolean {
    const p = this.params;
    const dt = this.context.controlPeriod;
    const [zx, zy] = this.point;
    const open = this.open;
    const object = this.object(obs);
    const elapsed = obs.time - this.phaseStart;
    const heightWhileHeld = (bottom: number) => bottom + 2 * this.objectHalf - p.grasp_depth;

    switch (phase) {
      case 'approach': {
        // Track the object until the descent starts.
        const ox = object.position[0] + p.grasp_offset_x;
        const oy = object.position[1] + p.grasp_offset_y;
        this.grasped = { x: ox, y: oy, top: 2 * this.objectHalf };
        this.rotation = downwardRotation(graspYaw(object.orientation));
        this.gripperCommand = open;
        return this.moveToward([ox, oy, this.grasped.top + p.approach_height], p.approach_speed, obs, elapsed);
      }
      case 'descend': {
        const { x, y, top } = this.grasped;
        return this.moveToward([x, y, top - p.grasp_depth], p.approach_speed, obs, elapsed);
      }
      case 'grasp': {
        const touching = obs.touch[0] > TOUCH_THRESHOLD && obs.touch[1] > TOUCH_THRESHOLD;
        if (touching && this.touchedAt === undefined) this.touchedAt = obs.time;
        // Close at the set speed until both pads touch, then squeeze with full force.
        this.gripperCommand = this.touchedAt === undefined ? Math.max(0, this.gripperCommand - p.close_speed * dt) : 0;
        const settled = this.touchedAt !== undefined && obs.time - this.touchedAt >= p.grasp_wait;
        return settled || (this.gripperCommand === 0 && elapsed > p.grasp_wait) || elapsed > PHASE_TIMEOUT;
      }
      case 'lift': {
        const { x, y } = this.grasped;
        return this.moveToward([x, y, p.lift_height], p.transport_speed, obs, elapsed);
      }
      case 'transport':
        return this.moveToward([zx, zy, p.lift_height], p.transport_speed, obs, elapsed);
      case 'place':
        return this.moveToward([zx, zy, heightWhileHeld(p.place_height)], p.approach_speed, obs, elapsed);
      case 'release':
        this.gripperCommand = open;
        this.moveToward(this.setpoint, p.approach_speed, obs, elapsed);
        return elapsed >= p.release_wait;
      case 'retreat': {
        const target = [zx, zy, heightWhileHeld(p.place_height) + p.approach_height];
        return this.moveToward(target, p.approach_speed, obs, elapsed);
      }
      case 'done':
        this.moveToward(this.setpoint, p.approach_speed, obs, elapsed);
        return false;
    }
  }

  private object(obs: Observation) {
    const name = this.objectName;
    const pose = obs.objects[name];
    if (!pose) throw new Error(`The observation has no pose for object '${name}'; the link must publish /object_pose/${name}.`);
    return pose;
  }

  private next(obs: Observation): void {
    this.enter(Math.min(this.phaseIndex + 1, PHASES.length - 1), obs.time);
  }

  /** Makes phase `index` the current one from `time`; a grasp starts untouched. */
  private enter(index: number, time: number): void {
    this.phaseIndex = index;
    this.phaseStart = time;
    this.finishedAt = undefined;
    if (PHASES[index] === 'grasp') this.touchedAt = undefined;
  }

  /**
   * Moves the setpoint toward `waypoint` at `speed`, takes one IK step toward the setpoint, and
   * says whether the waypoint is reached (setpoint there, tool within tolerance) or timed out.
   */
  private moveToward(waypoint: ArrayLike<number>, speed: number, obs: Observation, elapsed: number): boolean {
    const dt = this.context.controlPeriod;
    const d = [waypoint[0] - this.setpoint[0], waypoint[1] - this.setpoint[1], waypoint[2] - this.setpoint[2]];
    const distance = Math.hypot(d[0], d[1], d[2]);
    const stride = speed * dt;
    if (distance <= stride) this.setpoint.set([waypoint[0], waypoint[1], waypoint[2]]);
    else for (let i = 0; i < 3; i++) this.setpoint[i] += (d[i] / distance) * stride;

    const { kinematics, scenario } = this.context;
    const { pos, mat, jac } = kinematics.jacobian(this.qCommand);
    const error = poseError(pos, mat, { pos: this.setpoint, mat: this.rotation });
    const dq = dlsStep(jac, error, this.params.ik_damping);
    const joints = scenario.robotConfig.joints;
    for (let i = 0; i < dq.length; i++) {
      const [lo, hi] = joints[i].position;
      this.qCommand[i] = Math.min(hi, Math.max(lo, this.qCommand[i] + this.params.ik_gain * dq[i]));
    }
    if (elapsed > PHASE_TIMEOUT) return true;
    if (distance > stride) return false;
    const measured = kinematics.pose(obs.position).pos;
    return Math.hypot(measured[0] - waypoint[0], measured[1] - waypoint[1], measured[2] - waypoint[2]) < SETTLE_TOLERANCE;
  }
}

/** The yaw that grasps a cube across two faces with the least wrist turn: its yaw folded into [-π/4, π/4]. */
export function graspYaw(quat: readonly number[]): number {
  const [x, y, z, w] = quat;
  const yaw = Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
  const quarter = Math.PI / 2;
  return yaw - quarter * Math.round(yaw / quarter);
}
