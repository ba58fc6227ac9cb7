/**
 * Applies the model axes of a perturbation (gains, damping, armature, friction loss, effort
 * limits, masses, frictions) to a loaded world. Every value scales what the model holds when the
 * episode starts: the MJCF's own numbers for the robot and the table, the task's draw for its
 * objects. The nominal arrays are kept once, so each episode starts from them again and a
 * perturbation never compounds across episodes.
 *
 * Latency and sensor noise are not the model's: the sim link applies them (src/robot/sensing.ts).
 */
import type { Axis, AxisValue } from '../scenario/perturbation.ts';
import type { RobotConfig } from '../scenario/robot.ts';
import type { World } from './world.ts';

/** What the perturber needs to know of the robot and the task (names as in robot.yaml and the task). */
export interface PerturbTargets {
  /** Arm joints, in robot.yaml order, with the actuator that holds each. */
  joints: { name: string; actuator: string }[];
  /** Gripper finger joints and actuators. */
  fingers: { joints: string[]; actuators: string[] };
  /** The root body of the robot (its subtree is the arm's links). */
  robotRoot: number;
  /** The task's tracked object bodies, by name. */
  objects: string[];
}

/** The targets of `robot` in `world`, whose task tracks `objects`. */
export function perturbTargets(world: World, robot: RobotConfig, objects: string[]): PerturbTargets {
  const tcp = world.id('site', robot.tcp_site);
  const robotRoot = (world.model.body_rootid as Int32Array)[(world.model.site_bodyid as Int32Array)[tcp]];
  return { joints: robot.joints, fingers: { joints: robot.gripper?.joints ?? [], actuators: robot.gripper?.actuators ?? [] }, robotRoot, objects };
}

/** Model arrays a perturbation writes; restored from their nominal copies before each episode. */
const FIELDS = ['actuator_gainprm', 'actuator_biasprm', 'actuator_forcerange', 'dof_damping', 'dof_armature', 'dof_frictionloss', 'body_mass', 'body_inertia', 'geom_friction'] as const;
type Field = (typeof FIELDS)[number];

/** mjNGAIN and mjNBIAS: parameters per actuator in gainprm and biasprm. */
const NPRM = 10;

export class ModelPerturber {
  private readonly nominal: Record<Field, Float64Array>;
  private dirty = false;

  constructor(
    private readonly world: World,
    private readonly targets: PerturbTargets,
  ) {
    this.nominal = Object.fromEntries(FIELDS.map((f) => [f, this.array(f).slice()])) as Record<Field, Float64Array>;
  }

  /**
   * Puts the nominal model back (after a perturbed episode) and applies the robot and table axes.
   * Call after `resetData` and before the task's scene draws its objects.
   */
  applyRobot(values: readonly AxisValue[]): void {
    const restored = this.dirty;
    if (restored) {
      for (const f of FIELDS) this.array(f).set(this.nominal[f]);
      this.dirty = false;
    }
    for (const v of values) this.applyOne(v, false);
    // The state is at its reset here, so mj_setConst moving it to qpos0 costs nothing.
    if (restored || this.dirty) this.world.mj.mj_setConst(this.world.model, this.world.data);
  }

  /**
   * Applies the object axes on top of the task's draw, then recomputes the model constants that
   * depend on masses, keeping the state the scene set (mj_setConst moves it to qpos0).
   */
  applyObjects(values: readonly AxisValue[]): void {
    let touched = false;
    for (const v of values) touched = this.applyOne(v, true) || touched;
    if (touched) this.setConstKeepingState();
  }

  /** Checks that every name the values use exists in this world; throws naming the axis and what exists. */
  check(values: readonly AxisValue[]): void {
    for (const v of values) {
      try {
        this.indices(v.axis);
      } catch (err) {
        throw new Error(`Perturbation axis '${v.name}' (${v.axis.kind}): ${(err as Error).message}`);
      }
    }
  }

  /** Applies one axis if it is of the phase asked for (objects or not); true when it wrote. */
  private applyOne({ axis, value }: AxisValue, objects: boolean): boolean {
    if ((axis.kind === 'object_mass' || axis.kind === 'object_friction') !== objects) return false;
    const idx = this.indices(axis);
    if (idx.length === 0) return false;
    this.dirty = true;
    switch (axis.kind) {
      case 'kp':
        // A position actuator is force = kp·ctrl − kp·q: gainprm[0] = kp, biasprm[1] = −kp.
        for (const a of idx) {
          this.array('actuator_gainprm')[NPRM * a] *= value;
          this.array('actuator_biasprm')[NPRM * a + 1] *= value;
        }
        return true;
      case 'effort_limit':
      case 'gripper_force':
        for (const a of idx) for (const k of [0, 1]) this.array('actuator_forcerange')[2 * a + k] *= value;
        return true;
      case 'damping':
      case 'armature':
      case 'frictionloss':
        for (const d of idx) this.array(`dof_${axis.kind}`)[d] *= value;
        return true;
      case 'link_mass':
      case 'object_mass':
        // Uniform density: the inertia scales with the mass.
        for (const b of idx) {
          this.array('body_mass')[b] *= value;
          for (let k = 0; k < 3; k++) this.array('body_inertia')[3 * b + k] *= value;
        }
        return true;
      case 'finger_friction':
      case 'object_friction':
      case 'table_friction':
        // Sliding friction (the first of MuJoCo's three coefficients).
        for (const g of idx) this.array('geom_friction')[3 * g] *= value;
        return true;
      default:
        return false; // latency, noise and perception are the link's
    }
  }

  /** The ids an axis writes: actuators, dofs, bodies or geoms. */
  private indices(axis: Axis): number[] {
    const { world, targets } = this;
    const model = world.model;
    const arm = (names: string[] | undefined) => targets.joints.filter((j) => !names || names.includes(j.name));
    switch (axis.kind) {
      case 'kp':
      case 'effort_limit':
        return arm(axis.joints).map((j) => world.id('actuator', j.actuator));
      case 'damping':
      case 'armature':
      case 'frictionloss':
        return arm(axis.joints).map((j) => (model.jnt_dofadr as Int32Array)[world.id('joint', j.name)]);
      case 'gripper_force':
        return targets.fingers.actuators.map((a) => world.id('actuator', a));
      case 'finger_friction':
        return this.fingerGeoms();
      case 'link_mass':
        return axis.links ? axis.links.map((b) => world.id('body', b)) : this.robotBodies();
      case 'object_mass':
        return (axis.object ? [axis.object] : targets.objects).map((o) => world.id('body', o));
      case 'object_friction':
        return (axis.object ? [axis.object] : targets.objects).map((o) => (model.body_geomadr as Int32Array)[world.id('body', o)]).filter((g) => g >= 0);
      case 'table_friction':
        return [world.id('geom', axis.geom)];
      default:
        return [];
    }
  }

  /** Bodies of the robot's subtree (its root included), which carry mass. */
  private robotBodies(): number[] {
    const root = this.world.model.body_rootid as Int32Array;
    return Array.from(root.keys()).filter((b) => b > 0 && root[b] === this.targets.robotRoot);
  }

  /** Geoms of the finger bodies: the pads that touch what is gripped. */
  private fingerGeoms(): number[] {
    const { model } = this.world;
    const bodies = this.targets.fingers.joints.map((j) => (model.jnt_bodyid as Int32Array)[this.world.id('joint', j)]);
    const geomBody = model.geom_bodyid as Int32Array;
    return Array.from(geomBody.keys()).filter((g) => bodies.includes(geomBody[g]));
  }

  private setConstKeepingState(): void {
    const { mj, model, data } = this.world;
    const keep = (['qpos', 'qvel', 'mocap_pos', 'mocap_quat'] as const).map((f) => [f, (data[f] as Float64Array).slice()] as const);
    mj.mj_setConst(model, data);
    // Fetched again after the call: it may grow wasm memory and detach the views.
    for (const [f, saved] of keep) (data[f] as Float64Array).set(saved);
  }

  private array(field: Field): Float64Array {
    // mujoco-js types the model's arrays as any; each of FIELDS is a float array (mjtNum).
    return this.world.model[field] as Float64Array;
  }
}
