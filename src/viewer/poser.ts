/**
 * Turns states into what the page draws: body poses and contacts. The viewer owns a private
 * world per scene; a live frame (the full qpos) or one row of a trace's topics is written into
 * its state and `mj_forward` computes the body poses and the contacts.
 *
 * Contact forces are a quasi-static estimate: velocities of unmeasured joints are zero and each
 * position servo gets the control that reproduces its recorded effort (the finger servos their
 * recorded command); with no effort (live frames) the servos exert none. Contact points are exact.
 */
import { basename } from 'node:path';
import type { LoadedScenario } from '../scenario/load.ts';
import { loadRobot } from '../scenario/robot.ts';
import { loadRobotWorld, loadScenarioWorld } from '../sim/compose.ts';
import { World } from '../sim/world.ts';
import type { TaskPlot, TaskScene } from '../tasks/task.ts';
import { TOPIC, objectPoseTopic } from '../trace/topics.ts';
import type { TopicSeries, Trace } from '../trace/trace.ts';
import { POSE_STRIDE, type EpisodeContacts, type EpisodeHeader, type EpisodeParts, type SeriesInfo, type TaskPlotInfo } from './protocol.ts';
import { sceneFromWorld } from './scene.ts';
import type { SceneSpec } from './scene-spec.ts';

/** A position servo: force = gain·ctrl + bias0 + bias1·q + bias2·q̇ on one joint. */
interface Servo {
  actuator: number;
  qposAdr: number;
  dofAdr: number;
  gain: number;
  bias: [number, number, number];
}

export class Poser {
  /** Dynamic body ids, in frame order. */
  readonly bodies: number[];
  /** The scene JSON of this world (initial state). */
  readonly scene: SceneSpec;
  private readonly servos: Servo[];
  private readonly jointQpos = new Map<string, number>();
  private readonly jointDof = new Map<string, number>();
  /** The task's hold on this world (places its zones, restores an episode's objects). */
  private readonly taskScene: TaskScene | undefined;
  /** The plots the task declares. */
  private readonly taskPlots: TaskPlot[] = [];
  /** The task's tracked objects: name, body, and qpos address of a free joint (-1: none). */
  private readonly objects: { name: string; body: number; qpos: number }[] = [];
  private baseQpos: Float64Array;
  /** Every geom's position as the scene was built: what an episode's moved geoms are compared with. */
  private readonly baseGeomPos: Float64Array;
  private currentMeta = '';

  private constructor(
    /** The private world. */
    readonly world: World,
    /** The scenario, when the world comes from one. */
    readonly scenario: LoadedScenario | undefined,
    key: string,
  ) {
    const { model } = world;
    const i32 = (a: unknown) => a as Int32Array;
    world.names('joint').forEach((name, id) => {
      if (!name) return;
      this.jointQpos.set(name, i32(model.jnt_qposadr)[id]);
      this.jointDof.set(name, i32(model.jnt_dofadr)[id]);
    });
    const trnJoint = world.mj.mjtTrn.mjTRN_JOINT.value;
    const gainFixed = world.mj.mjtGain.mjGAIN_FIXED.value;
    const biasAffine = world.mj.mjtBias.mjBIAS_AFFINE.value;
    const gainprm = model.actuator_gainprm as Float64Array;
    const biasprm = model.actuator_biasprm as Float64Array;
    this.servos = [];
    for (let a = 0; a < model.nu; a++) {
      const joint = i32(model.actuator_trnid)[2 * a];
      if (i32(model.actuator_trntype)[a] !== trnJoint || i32(model.actuator_gaintype)[a] !== gainFixed) continue;
      if (i32(model.actuator_biastype)[a] !== biasAffine || gainprm[10 * a] === 0) continue;
      this.servos.push({
        actuator: a,
        qposAdr: i32(model.jnt_qposadr)[joint],
        dofAdr: i32(model.jnt_dofadr)[joint],
        gain: gainprm[10 * a],
        bias: [biasprm[10 * a], biasprm[10 * a + 1], biasprm[10 * a + 2]],
      });
    }
    if (scenario) {
      const task = scenario.taskDef;
      // The same scene the sim link uses: zones and objects are placed by one piece of code.
      this.taskScene = task.scene(world, scenario.task, scenario);
      this.taskScene.restore?.({});
      this.taskPlots = task.plots?.(scenario.task) ?? [];
      for (const name of task.objects(scenario.task)) {
        const body = world.id('body', name);
        const jnt = i32(model.body_jntadr)[body];
        this.objects.push({ name, body, qpos: jnt >= 0 ? i32(model.jnt_qposadr)[jnt] : -1 });
      }
    }
    world.forward();
    this.baseQpos = (world.data.qpos as Float64Array).slice();
    this.baseGeomPos = (model.geom_pos as Float64Array).slice();
    this.scene = sceneFromWorld(world, { key, scenario, name: scenario?.name ?? basename(world.files[0]?.path ?? 'model', '.xml') });
    this.bodies = this.scene.dynamic;
  }

  /** Loads the world of a scenario (as its task sets it up). */
  static async ofScenario(scenario: LoadedScenario, key: string): Promise<Poser> {
    return new Poser(await loadScenarioWorld(scenario), scenario, key);
  }

  /** Loads a model on its own: an MJCF file, or a robot.yaml (its robot composed on a stage). */
  static async ofModel(path: string, key: string): Promise<Poser> {
    const world = /\.ya?ml$/i.test(path) ? await loadRobotWorld(loadRobot(path)) : await World.load(path);
    return new Poser(world, undefined, key);
  }

  /** Number of qpos values the world has. */
  get nq(): number {
    return this.world.model.nq;
  }

  /**
   * Puts the world in the configuration the sim link gives episode `seed` (for live frames, which
   * carry the seed but no meta); returns the geom sizes that differ from the model's.
   */
  setEpisodeOfSeed(seed: number): Record<string, [number, number, number]> {
    if (!this.taskScene) return {};
    return this.setEpisode(this.taskScene.reset(seed));
  }

  /**
   * Puts the world in an episode's configuration (its task's randomized objects, from the trace
   * meta) so contacts and drawing match it; returns the geom sizes that differ from the model's.
   */
  setEpisode(meta: Readonly<Record<string, unknown>>): Record<string, [number, number, number]> {
    if (!this.taskScene?.restore) return {};
    const key = JSON.stringify(meta);
    const sizes = this.taskScene.restore(meta);
    if (key !== this.currentMeta) {
      this.currentMeta = key;
      this.world.forward();
      this.baseQpos = (this.world.data.qpos as Float64Array).slice();
    }
    return sizes;
  }

  /** Geoms the current episode put elsewhere than the scene has them (zones a task places per seed), by geom id. */
  movedGeoms(): Record<string, [number, number, number]> {
    const pos = this.world.model.geom_pos as Float64Array;
    const moved: Record<string, [number, number, number]> = {};
    for (let g = 0; 3 * g < pos.length; g++) {
      const k = 3 * g;
      if (pos[k] !== this.baseGeomPos[k] || pos[k + 1] !== this.baseGeomPos[k + 1] || pos[k + 2] !== this.baseGeomPos[k + 2]) moved[g] = [pos[k], pos[k + 1], pos[k + 2]];
    }
    return moved;
  }

  /**
   * Puts the world in a state: `fill` writes qpos (it starts from the episode's initial qpos) and
   * may set servo efforts; then velocities are zeroed, servos get their controls, and poses and
   * contacts are computed.
   */
  pose(fill: (qpos: Float64Array) => void, efforts?: ReadonlyMap<number, { effort: number; velocity: number }>, commands?: ReadonlyMap<number, number>): void {
    const { world } = this;
    const qpos = world.data.qpos as Float64Array;
    qpos.set(this.baseQpos);
    fill(qpos);
    const qvel = world.data.qvel as Float64Array;
    qvel.fill(0);
    const ctrl = world.data.ctrl as Float64Array;
    for (const s of this.servos) {
      const q = qpos[s.qposAdr];
      const measured = efforts?.get(s.actuator);
      const command = commands?.get(s.actuator);
      if (command !== undefined) ctrl[s.actuator] = command;
      else {
        const qd = measured?.velocity ?? 0;
        if (measured) qvel[s.dofAdr] = qd;
        ctrl[s.actuator] = ((measured?.effort ?? 0) - s.bias[0] - s.bias[1] * q - s.bias[2] * qd) / s.gain;
      }
    }
    world.forward();
  }

  /** Poses the world from a full qpos (a live frame); throws when its length is not the model's. */
  poseQpos(q: ArrayLike<number>): void {
    if (q.length !== this.nq) throw new Error(`A live frame has ${q.length} qpos values but the viewer's model has ${this.nq}.`);
    this.pose((qpos) => qpos.set(q));
  }

  /** Writes the dynamic bodies' poses (7 floats each) at `offset`. */
  writePoses(out: Float32Array, offset = 0): void {
    const xpos = this.world.data.xpos as Float64Array;
    const xquat = this.world.data.xquat as Float64Array;
    let o = offset;
    for (const b of this.bodies) {
      out[o++] = xpos[3 * b];
      out[o++] = xpos[3 * b + 1];
      out[o++] = xpos[3 * b + 2];
      out[o++] = xquat[4 * b];
      out[o++] = xquat[4 * b + 1];
      out[o++] = xquat[4 * b + 2];
      out[o++] = xquat[4 * b + 3];
    }
  }

  /** Appends the current contacts (7 numbers each) to `out`; returns how many. */
  writeContacts(out: number[]): number {
    const contacts = this.world.contacts();
    for (const c of contacts) out.push(c.pos[0], c.pos[1], c.pos[2], c.normal[0], c.normal[1], c.normal[2], c.normalForce);
    return contacts.length;
  }

  /** The current frame as typed arrays (for a live frame). */
  frame(): { poses: Float32Array; contacts: Float32Array } {
    const poses = new Float32Array(this.bodies.length * POSE_STRIDE);
    this.writePoses(poses);
    const contacts: number[] = [];
    this.writeContacts(contacts);
    return { poses, contacts: Float32Array.from(contacts) };
  }

  /**
   * Replays a trace by forward kinematics, frame by frame on the /joint_states stamps: arm joints
   * by name, fingers from /gripper, the object from its pose topic (hidden when there is none).
   * Poses only (kinematics is cheap: ~1 µs a frame); `episodeContacts` adds the contacts.
   */
  episode(trace: Trace, info?: EpisodeHeader['episode']): EpisodeParts {
    const r = this.replayer(trace);
    const nb = this.bodies.length;
    const poses = new Float32Array(r.frames * nb * POSE_STRIDE);
    for (let i = 0; i < r.frames; i++) {
      r.setFrame(i, false);
      this.writePoses(poses, i * nb * POSE_STRIDE);
    }
    // Only an object that moves under physics (one with a joint, like a cube to pick) gets a height
    // plot: a fixed or mocap one (machining's workpiece, placed once per seed) would draw a flat line.
    const movable = this.objects.filter((o) => o.qpos >= 0).map((o) => o.name);
    const { infos, columns, taskPlots } = plotSeries(trace, r.joints, movable, this.taskPlots);
    const header: EpisodeHeader = {
      frames: r.frames,
      bodies: this.bodies,
      hidden: r.hidden,
      geomSizes: r.geomSizes,
      geomPositions: this.movedGeoms(),
      contacts: 0,
      contactsPending: true,
      series: infos,
      taskPlots,
      duration: r.times[r.frames - 1],
      scene: this.scene.key,
      episode: info,
      backend: typeof trace.meta.backend === 'string' ? trace.meta.backend : undefined,
      jointStatesOnly: !r.hasObjectPose && !trace.topics.has(TOPIC.wrench),
    };
    return { header, times: r.times, poses, contactStart: new Uint32Array(r.frames + 1), contacts: new Float32Array(0), series: columns };
  }

  /** The contacts of every frame of a trace (a full `mj_forward` per frame: ~50 µs each). */
  episodeContacts(trace: Trace): EpisodeContacts {
    const r = this.replayer(trace);
    const contactStart = new Uint32Array(r.frames + 1);
    const contacts: number[] = [];
    let count = 0;
    for (let i = 0; i < r.frames; i++) {
      r.setFrame(i, true);
      count += this.writeContacts(contacts);
      contactStart[i + 1] = count;
    }
    return { frames: r.frames, contactStart, contacts: Float32Array.from(contacts) };
  }

  /** Sets up a trace's episode and returns a function that puts the world at frame i. */
  private replayer(trace: Trace) {
    const joints = trace.topics.get(TOPIC.jointStates);
    if (!joints || joints.stamps.length === 0) throw new Error('The trace has no /joint_states messages, so there is no pose to replay.');
    const geomSizes = this.setEpisode(trace.meta);
    const n = joints.stamps.length;
    const t0 = joints.stamps[0];
    const times = new Float32Array(n);
    for (let i = 0; i < n; i++) times[i] = joints.stamps[i] - t0;

    // Which qpos each /joint_states column drives, and which servo its effort belongs to.
    const width = joints.fields.length;
    const posCols: [col: number, adr: number][] = [];
    const servoCols: [actuator: number, effortCol: number, velocityCol: number][] = [];
    joints.fields.forEach((field, col) => {
      if (!field.startsWith('position.')) return;
      const name = field.slice('position.'.length);
      const adr = this.jointQpos.get(name);
      if (adr === undefined) return;
      posCols.push([col, adr]);
      const servo = this.servos.find((s) => s.qposAdr === adr);
      const effortCol = joints.fields.indexOf(`effort.${name}`);
      if (servo && effortCol >= 0) servoCols.push([servo.actuator, effortCol, joints.fields.indexOf(`velocity.${name}`)]);
    });
    const drivenQpos = new Set(posCols.map(([, adr]) => adr));

    const gripper = trace.topics.get(TOPIC.gripper);
    const gw = gripper?.fields.length ?? 0;
    const fingerAdr = (this.scenario?.robotConfig.gripper?.joints ?? [])
      .map((name) => this.jointQpos.get(name))
      .filter((adr): adr is number => adr !== undefined && !drivenQpos.has(adr));
    const fingerServos = this.servos.filter((s) => fingerAdr.includes(s.qposAdr)).map((s) => s.actuator);
    const gripperCursor = gripper ? cursor(gripper) : undefined;
    const gripperPos = gripper?.fields.indexOf('position') ?? -1;
    const gripperCmd = gripper?.fields.indexOf('command') ?? -1;

    // Each free tracked object follows its pose topic; one without a topic is hidden.
    const hidden: number[] = [];
    const tracked = this.objects.flatMap((o) => {
      const topic = trace.topics.get(objectPoseTopic(o.name));
      if (!topic) hidden.push(o.body);
      return topic && o.qpos >= 0 ? [{ adr: o.qpos, topic, at: cursor(topic), row: -1 }] : [];
    });

    const efforts = new Map<number, { effort: number; velocity: number }>();
    const commands = new Map<number, number>();
    let row = 0;
    let g = -1;
    const fill = (qpos: Float64Array) => {
      for (const [col, adr] of posCols) qpos[adr] = joints.data[row + col];
      if (g >= 0 && gripperPos >= 0) {
        const each = gripper!.data[g * gw + gripperPos] / Math.max(1, fingerAdr.length);
        for (const adr of fingerAdr) qpos[adr] = each;
      }
      for (const o of tracked) {
        if (o.row < 0) continue;
        // ROS orientation is (x, y, z, w); MuJoCo's quaternion is (w, x, y, z).
        const p = o.topic.data;
        const k = o.row * 7;
        const a = o.adr;
        qpos[a] = p[k];
        qpos[a + 1] = p[k + 1];
        qpos[a + 2] = p[k + 2];
        qpos[a + 3] = p[k + 6];
        qpos[a + 4] = p[k + 3];
        qpos[a + 5] = p[k + 4];
        qpos[a + 6] = p[k + 5];
      }
    };
    const setFrame = (i: number, dynamics: boolean) => {
      const t = joints.stamps[i];
      row = i * width;
      g = gripperCursor?.(t) ?? -1;
      for (const o of tracked) o.row = o.at(t);
      if (!dynamics) return this.poseKinematics(fill);
      for (const [actuator, ec, vc] of servoCols) efforts.set(actuator, { effort: joints.data[row + ec], velocity: vc >= 0 ? joints.data[row + vc] : 0 });
      if (g >= 0 && gripperCmd >= 0) for (const a of fingerServos) commands.set(a, gripper!.data[g * gw + gripperCmd] / fingerServos.length);
      this.pose(fill, efforts, commands);
    };
    return { frames: n, times, joints, hidden, geomSizes, hasObjectPose: tracked.length > 0, setFrame };
  }

  /** Positions only: qpos from `fill`, then `mj_kinematics` (body poses, no contacts). */
  private poseKinematics(fill: (qpos: Float64Array) => void): void {
    const { world } = this;
    const qpos = world.data.qpos as Float64Array;
    qpos.set(this.baseQpos);
    fill(qpos);
    world.mj.mj_kinematics(world.model, world.data);
  }

  dispose(): void {
    this.world.dispose();
  }
}

/**
 * The series the replay page plots, resampled (sample and hold) on the /joint_states stamps: the
 * built-in plots, then each of the task's plots whose topic the trace has (its band as two lines).
 */
function plotSeries(trace: Trace, joints: TopicSeries, objects: string[], plots: readonly TaskPlot[]): { infos: SeriesInfo[]; columns: Float32Array[]; taskPlots: TaskPlotInfo[] } {
  const infos: SeriesInfo[] = [];
  const columns: Float32Array[] = [];
  const add = (topic: TopicSeries | undefined, field: string, info: SeriesInfo) => {
    const col = topic?.fields.indexOf(field) ?? -1;
    if (!topic || col < 0) return;
    const out = new Float32Array(joints.stamps.length);
    const at = cursor(topic);
    const w = topic.fields.length;
    for (let i = 0; i < out.length; i++) {
      const r = at(joints.stamps[i]);
      out[i] = r >= 0 ? topic.data[r * w + col] : NaN;
    }
    infos.push(info);
    columns.push(out);
  };
  for (const field of joints.fields) {
    if (field.startsWith('position.')) add(joints, field, { key: field, label: field.slice(9), group: 'joints', unit: 'rad' });
  }
  const gripper = trace.topics.get(TOPIC.gripper);
  add(gripper, 'position', { key: 'gripper.position', label: 'opening', group: 'gripper', unit: 'm' });
  add(gripper, 'command', { key: 'gripper.command', label: 'command', group: 'gripper', unit: 'm' });
  const wrench = trace.topics.get(TOPIC.wrench);
  for (const axis of ['x', 'y', 'z']) add(wrench, `force.${axis}`, { key: `force.${axis}`, label: `F${axis}`, group: 'wrench', unit: 'N' });
  for (const axis of ['x', 'y', 'z']) add(wrench, `torque.${axis}`, { key: `torque.${axis}`, label: `T${axis}`, group: 'wrench', unit: 'N·m' });
  for (const name of objects) add(trace.topics.get(objectPoseTopic(name)), 'position.z', { key: `object.${name}.z`, label: `${name} height`, group: 'object', unit: 'm' });
  const taskPlots: TaskPlotInfo[] = [];
  plots.forEach((plot, n) => {
    const group = `task:${n}` as const;
    const before = infos.length;
    for (const s of plot.series) add(trace.topics.get(s.topic), s.field, { key: `${group}.${s.topic}.${s.field}`, label: s.label, group, unit: s.unit });
    if (infos.length === before) return;
    taskPlots.push({ group, title: plot.title });
    const unit = plot.series[0].unit;
    plot.band?.forEach((value, k) => {
      infos.push({ key: `${group}.band.${k}`, label: k === 0 ? 'band low' : 'band high', group, unit, band: true });
      columns.push(new Float32Array(joints.stamps.length).fill(value));
    });
  });
  return { infos, columns, taskPlots };
}

/** A sample-and-hold lookup for increasing times: row index at or before `t`, -1 before the first. */
function cursor(topic: TopicSeries): (t: number) => number {
  let i = -1;
  const stamps = topic.stamps;
  return (t) => {
    if (i >= 0 && stamps[i] > t) i = -1;
    while (i + 1 < stamps.length && stamps[i + 1] <= t) i++;
    return i;
  };
}
