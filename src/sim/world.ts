/**
 * A loaded MuJoCo world: model, data and the handful of operations arbor needs (step, reset,
 * names, contacts with forces, site Jacobians). Only src/sim touches mujoco-js.
 *
 * mujoco-js arrays (`data.qpos`, ...) are views into wasm memory that go stale when memory grows,
 * so this class keeps one across calls only through `liveView`, which notices.
 */
import type { MjData, MjModel } from 'mujoco-js';
import { liveView } from './live-view.ts';
import { collectModelFiles, locateMujocoError, MjcfError, type ModelFile } from './model-files.ts';
import { cppExceptionMessage, loadMujoco, takeMujocoStderr, type Mujoco } from './mujoco.ts';

/** Kinds of named MuJoCo objects arbor looks up. */
export type ObjectKind = 'body' | 'joint' | 'geom' | 'site' | 'actuator' | 'sensor' | 'camera';

const OBJ: Record<ObjectKind, string> = {
  body: 'mjOBJ_BODY',
  joint: 'mjOBJ_JOINT',
  geom: 'mjOBJ_GEOM',
  site: 'mjOBJ_SITE',
  actuator: 'mjOBJ_ACTUATOR',
  sensor: 'mjOBJ_SENSOR',
  camera: 'mjOBJ_CAMERA',
};
const COUNT: Record<ObjectKind, keyof MjModel> = {
  body: 'nbody',
  joint: 'njnt',
  geom: 'ngeom',
  site: 'nsite',
  actuator: 'nu',
  sensor: 'nsensor',
  camera: 'ncam',
};

/** One active contact with its force in the contact frame. */
export interface ContactInfo {
  /** First geom id. */
  geom1: number;
  /** Second geom id. */
  geom2: number;
  /** Contact point in world coordinates. */
  pos: [number, number, number];
  /** Contact normal (world), from geom1 to geom2. */
  normal: [number, number, number];
  /** Normal force magnitude (N). */
  normalForce: number;
  /** Tangential (friction) force magnitude (N). */
  frictionForce: number;
  /** Signed distance between the geoms (m); negative when they interpenetrate. */
  dist: number;
}

/** What arbor did to compose a world (src/sim/compose.ts): the robot attached at a mount. */
export interface Composition {
  /** The robot's root body, attached at the mount. */
  root: string;
  /** The world body or site the robot hangs from ('' for a robot shown alone). */
  mount: string;
  /** One sentence per site or sensor arbor added because the model lacked it. */
  added: string[];
  /** The names of the sites and sensors it added. */
  addedNames: string[];
}

export class World {
  private readonly wrench: InstanceType<Mujoco['DoubleBuffer']>;
  private readonly qpos: () => Float64Array;
  private readonly qvel: () => Float64Array;

  private constructor(
    /** The mujoco-js module. */
    readonly mj: Mujoco,
    /** The compiled model; randomization edits a few of its arrays in place. */
    readonly model: MjModel,
    /** The simulation state. */
    readonly data: MjData,
    /** The files the model was built from. */
    readonly files: ModelFile[],
    /** How arbor composed it (robot attached at a mount), when it did. */
    readonly composition?: Composition,
  ) {
    this.wrench = new mj.DoubleBuffer(6);
    // diverged() runs every control tick.
    this.qpos = liveView(() => data.qpos as Float64Array);
    this.qvel = liveView(() => data.qvel as Float64Array);
  }

  /** Loads an MJCF file with its includes and assets. Throws `MjcfError` naming file and line. */
  static async load(path: string): Promise<World> {
    return World.compile(collectModelFiles(path));
  }

  /**
   * Compiles the model whose main file is `files[0]`, every file mirrored at its path in MuJoCo's
   * virtual file system (composed files exist only there). Throws `MjcfError` naming file and line.
   */
  static async compile(files: ModelFile[], composition?: Composition): Promise<World> {
    const mj = await loadMujoco();
    for (const file of files) {
      mj.FS.mkdirTree(file.path.slice(0, file.path.lastIndexOf('/')), 0o777);
      mj.FS.writeFile(file.path, file.data);
    }
    takeMujocoStderr();
    let model: MjModel | null;
    try {
      model = mj.MjModel.loadFromXML(files[0].path);
    } catch (error) {
      const message = cppExceptionMessage(mj, error) ?? String(error);
      const where = locateMujocoError(message, files);
      const reason = message.replace(/\s*\n\s*/g, '; ').replace(/^XML Error: /, '').replace(/, line 0\b/, '');
      throw new MjcfError(where.file, `MuJoCo rejects the model: ${reason}`, where.line);
    }
    if (!model) {
      const said = takeMujocoStderr().join(' ').trim();
      throw new MjcfError(files[0].path, `MuJoCo could not load the model${said ? `: ${said}` : ''}`);
    }
    return new World(mj, model, new mj.MjData(model), files, composition);
  }

  /** Physics timestep in seconds. */
  get timestep(): number {
    return this.model.opt.timestep;
  }

  /** Simulated time in seconds. */
  get time(): number {
    return this.data.time;
  }

  /** Id of a named object; throws naming what exists when the name is unknown. */
  id(kind: ObjectKind, name: string): number {
    const id = this.mj.mj_name2id(this.model, this.objType(kind), name);
    if (id < 0) {
      const known = this.names(kind).filter(Boolean);
      throw new Error(`The model has no ${kind} named '${name}'. Known ${kind}s: ${known.join(', ') || 'none'}.`);
    }
    return id;
  }

  /** Names of every object of a kind, by id ('' for unnamed). */
  names(kind: ObjectKind): string[] {
    const count = this.model[COUNT[kind]] as number;
    const type = this.objType(kind);
    return Array.from({ length: count }, (_, i) => {
      // mujoco-js turns the NULL of an unnamed object into whatever string sits at address 0
      // (we have seen 'emsc'), so a name counts only if it leads back to this object.
      const name = this.mj.mj_id2name(this.model, type, i) ?? '';
      return name && this.mj.mj_name2id(this.model, type, name) === i ? name : '';
    });
  }

  /** Advances physics by `n` timesteps. */
  step(n = 1): void {
    for (let i = 0; i < n; i++) this.mj.mj_step(this.model, this.data);
  }

  /** Recomputes derived quantities (positions, contacts, sensors) without advancing time. */
  forward(): void {
    this.mj.mj_forward(this.model, this.data);
  }

  /** Resets the state to the model's defaults (qpos0, zero velocity, time 0). */
  resetData(): void {
    this.mj.mj_resetData(this.model, this.data);
  }

  /**
   * Moves a flat marker geom (a zone drawn on the table) in the table plane and sets its half
   * extents in x and y; its height and thickness stay as modelled.
   */
  placeFlatGeom(id: number, center: readonly [number, number], halfSize: readonly [number, number]): void {
    (this.model.geom_pos as Float64Array).set(center, 3 * id);
    (this.model.geom_size as Float64Array).set(halfSize, 3 * id);
  }

  /**
   * Places a mocap body (a fixture or workpiece arbor moves per episode): position and yaw about z.
   * It is state, not model: `resetData` puts it back where the MJCF has it.
   */
  placeMocap(bodyId: number, position: readonly [number, number, number], yaw: number): void {
    const mocap = (this.model.body_mocapid as Int32Array)[bodyId];
    if (mocap < 0) throw new Error(`Body ${this.names('body')[bodyId] || bodyId} is not a mocap body; add mocap="true" to it so arbor can place it.`);
    (this.data.mocap_pos as Float64Array).set(position, 3 * mocap);
    (this.data.mocap_quat as Float64Array).set([Math.cos(yaw / 2), 0, 0, Math.sin(yaw / 2)], 4 * mocap);
  }

  /** True when the state holds NaN or Inf (the simulation diverged). */
  diverged(): boolean {
    const qpos = this.qpos();
    const qvel = this.qvel();
    for (let i = 0; i < qpos.length; i++) if (!Number.isFinite(qpos[i])) return true;
    for (let i = 0; i < qvel.length; i++) if (!Number.isFinite(qvel[i])) return true;
    return false;
  }

  /** Where a sensor's values start in `data.sensordata` (a model constant, safe to keep). */
  sensorAdr(id: number): number {
    return (this.model.sensor_adr as Int32Array)[id];
  }

  /** Active contacts with their forces. */
  contacts(): ContactInfo[] {
    const out: ContactInfo[] = [];
    if (this.data.ncon === 0) return out;
    // The getter copies every contact into a new C++ vector, which must be freed (else wasm
    // memory grows each tick until the 2 GB cap aborts the module).
    const contacts = this.data.contact;
    try {
      this.readContacts(contacts, out);
    } finally {
      contacts.delete();
    }
    return out;
  }

  private readContacts(contacts: MjData['contact'], out: ContactInfo[]): void {
    const count = contacts.size();
    for (let i = 0; i < count; i++) {
      const c = contacts.get(i);
      if (!c) continue;
      try {
        this.mj.mj_contactForce(this.model, this.data, i, this.wrench);
        // Fetched after the calls above: any allocation may grow wasm memory and detach a view.
        const force = this.wrench.GetView() as Float64Array;
        const frame = c.frame as Float64Array;
        const pos = c.pos as Float64Array;
        out.push({
          geom1: c.geom1,
          geom2: c.geom2,
          pos: [pos[0], pos[1], pos[2]],
          normal: [frame[0], frame[1], frame[2]],
          normalForce: Math.abs(force[0]),
          frictionForce: Math.hypot(force[1], force[2]),
          dist: c.dist,
        });
      } finally {
        c.delete();
      }
    }
  }

  /** Frees the wasm memory of this world. */
  dispose(): void {
    this.wrench.delete();
    this.data.delete();
    this.model.delete();
  }

  private objType(kind: ObjectKind): number {
    return (this.mj.mjtObj as unknown as Record<string, { value: number }>)[OBJ[kind]].value;
  }
}
