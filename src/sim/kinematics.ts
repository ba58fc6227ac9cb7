/**
 * Forward kinematics and site Jacobians of a robot on a scratch MjData, so a policy can solve
 * inverse kinematics without touching the simulation state. The same class serves a physical
 * robot: load its MJCF alone and feed it the measured joint positions.
 */
import type { MjData } from 'mujoco-js';
import { liveView } from './live-view.ts';
import type { World } from './world.ts';

/** A tool pose: position and rotation matrix (row-major 3x3), world frame. */
export interface SitePose {
  /** Position (m). */
  pos: Float64Array;
  /** Rotation, row-major; column k is the site's k-th axis in world coordinates. */
  mat: Float64Array;
}

/**
 * The policy calls this every control tick, so it keeps its views of wasm memory (see
 * live-view.ts), and `jacobian` its result arrays.
 */
export class Kinematics {
  private readonly scratch: MjData;
  private readonly qposAdr: number[];
  private readonly dofAdr: number[];
  private readonly nv: number;
  private readonly jacp: InstanceType<World['mj']['DoubleBuffer']>;
  private readonly jacr: InstanceType<World['mj']['DoubleBuffer']>;
  private readonly qpos: () => Float64Array;
  private readonly siteXpos: () => Float64Array;
  private readonly siteXmat: () => Float64Array;
  private readonly jacpView: () => Float64Array;
  private readonly jacrView: () => Float64Array;
  private readonly out: SitePose & { jac: Float64Array };

  constructor(
    private readonly world: World,
    /** Names of the joints the Jacobian columns refer to, in order. */
    readonly joints: string[],
    /** Id of the site whose pose and Jacobian are computed. */
    private readonly siteId: number,
  ) {
    const { mj, model } = world;
    this.scratch = new mj.MjData(model);
    const ids = joints.map((name) => world.id('joint', name));
    this.qposAdr = ids.map((id) => (model.jnt_qposadr as Int32Array)[id]);
    this.dofAdr = ids.map((id) => (model.jnt_dofadr as Int32Array)[id]);
    this.nv = model.nv;
    this.jacp = new mj.DoubleBuffer(3 * this.nv);
    this.jacr = new mj.DoubleBuffer(3 * this.nv);
    const scratch = this.scratch;
    this.qpos = liveView(() => scratch.qpos as Float64Array);
    this.siteXpos = liveView(() => scratch.site_xpos as Float64Array);
    this.siteXmat = liveView(() => scratch.site_xmat as Float64Array);
    this.jacpView = liveView(() => this.jacp.GetView() as Float64Array);
    this.jacrView = liveView(() => this.jacr.GetView() as Float64Array);
    this.out = { pos: new Float64Array(3), mat: new Float64Array(9), jac: new Float64Array(6 * joints.length) };
  }

  /** Pose of the site at joint positions `q`. */
  pose(q: ArrayLike<number>): SitePose {
    this.setJoints(q);
    const i = this.siteId;
    return { pos: this.siteXpos().slice(3 * i, 3 * i + 3), mat: this.siteXmat().slice(9 * i, 9 * i + 9) };
  }

  /**
   * Pose and 6xN Jacobian (rows: 3 linear, then 3 angular; columns: `joints`) at `q`, row-major
   * (the arrays are reused: the next call overwrites them).
   */
  jacobian(q: ArrayLike<number>): SitePose & { jac: Float64Array } {
    this.setJoints(q);
    const { mj, model } = this.world;
    mj.mj_comPos(model, this.scratch);
    mj.mj_jacSite(model, this.scratch, this.jacp, this.jacr, this.siteId);
    const nv = this.nv;
    const jp = this.jacpView();
    const jr = this.jacrView();
    const n = this.dofAdr.length;
    const { jac } = this.out;
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < n; c++) {
        jac[r * n + c] = jp[r * nv + this.dofAdr[c]];
        jac[(r + 3) * n + c] = jr[r * nv + this.dofAdr[c]];
      }
    }
    const i = this.siteId;
    this.out.pos.set(this.siteXpos().subarray(3 * i, 3 * i + 3));
    this.out.mat.set(this.siteXmat().subarray(9 * i, 9 * i + 9));
    return this.out;
  }

  dispose(): void {
    this.jacp.delete();
    this.jacr.delete();
    this.scratch.delete();
  }

  private setJoints(q: ArrayLike<number>): void {
    const qpos = this.qpos();
    for (let i = 0; i < this.qposAdr.length; i++) qpos[this.qposAdr[i]] = q[i];
    this.world.mj.mj_kinematics(this.world.model, this.scratch);
  }
}
