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

/** The lowest point of the arm's links at some joint positions. */
export interface LowestPoint {
  /** Its height (m, world frame). */
  z: number;
  /** The geom it lies on (`body/geom`, or `body` for an unnamed geom). */
  link: string;
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
  /** The collision geoms the arm's joints move (the subtree of the first joint's body): what can hit the table. */
  private readonly linkGeoms: number[];
  private readonly geomXpos: () => Float64Array;
  private readonly geomXmat: () => Float64Array;

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
    this.linkGeoms = ids.length ? armGeoms(world, (model.jnt_bodyid as Int32Array)[ids[0]]) : [];
    this.geomXpos = liveView(() => scratch.geom_xpos as Float64Array);
    this.geomXmat = liveView(() => scratch.geom_xmat as Float64Array);
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

  /**
   * The lowest point of the arm's collision geoms at joint positions `q` (other joints, such as the
   * fingers, at their reference positions): exact for spheres, capsules, cylinders, boxes and
   * ellipsoids, the geom's bounding box for meshes and the rest.
   */
  lowestPoint(q: ArrayLike<number>): LowestPoint {
    this.setJoints(q);
    const { model, mj } = this.world;
    const types = model.geom_type as Int32Array;
    const sizes = model.geom_size as Float64Array;
    const aabb = model.geom_aabb as Float64Array;
    const g = mj.mjtGeom;
    const xpos = this.geomXpos();
    const xmat = this.geomXmat();
    let lowest: { z: number; geom: number } = { z: Infinity, geom: -1 };
    for (const geom of this.linkGeoms) {
      // Row 2 of the geom's rotation: the world-z component of each of its axes.
      const [ax, ay, az] = [xmat[9 * geom + 6], xmat[9 * geom + 7], xmat[9 * geom + 8]];
      const [sx, sy, sz] = [sizes[3 * geom], sizes[3 * geom + 1], sizes[3 * geom + 2]];
      const type = types[geom];
      let depth: number;
      if (type === g.mjGEOM_SPHERE.value) depth = sx;
      else if (type === g.mjGEOM_CAPSULE.value) depth = Math.abs(az) * sy + sx;
      else if (type === g.mjGEOM_CYLINDER.value) depth = Math.abs(az) * sy + sx * Math.sqrt(Math.max(0, 1 - az * az));
      else if (type === g.mjGEOM_BOX.value) depth = Math.abs(ax) * sx + Math.abs(ay) * sy + Math.abs(az) * sz;
      else if (type === g.mjGEOM_ELLIPSOID.value) depth = Math.hypot(ax * sx, ay * sy, az * sz);
      else {
        const b = aabb.subarray(6 * geom, 6 * geom + 6);
        depth = -(ax * b[0] + ay * b[1] + az * b[2]) + Math.abs(ax) * b[3] + Math.abs(ay) * b[4] + Math.abs(az) * b[5];
      }
      const z = xpos[3 * geom + 2] - depth;
      if (z < lowest.z) lowest = { z, geom };
    }
    return { z: lowest.z, link: lowest.geom < 0 ? '' : geomLabel(this.world, lowest.geom) };
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

/** The collision geoms (contype or conaffinity set) of `root` and every body below it. */
function armGeoms(world: World, root: number): number[] {
  const { model } = world;
  const parent = model.body_parentid as Int32Array;
  const under = (body: number): boolean => {
    for (let b = body; b > 0; b = parent[b]) if (b === root) return true;
    return false;
  };
  const bodies = model.geom_bodyid as Int32Array;
  const contype = model.geom_contype as Int32Array;
  const conaffinity = model.geom_conaffinity as Int32Array;
  const geoms: number[] = [];
  for (let geom = 0; geom < model.ngeom; geom++) if ((contype[geom] || conaffinity[geom]) && under(bodies[geom])) geoms.push(geom);
  return geoms;
}

/** `body/geom` for messages. */
function geomLabel(world: World, geom: number): string {
  const { mj, model } = world;
  const body = mj.mj_id2name(model, mj.mjtObj.mjOBJ_BODY.value, (model.geom_bodyid as Int32Array)[geom]);
  const name = mj.mj_id2name(model, mj.mjtObj.mjOBJ_GEOM.value, geom);
  return name ? `${body}/${name}` : body;
}
