/**
 * The in-process MuJoCo sim as a `RobotLink`: physics at the model timestep, the policy at the
 * scenario's control rate, and every topic recorded once per control period. What the world holds
 * besides the robot (objects, zones, workpieces) is the task's: its scene randomizes it per seed.
 */
import type { LoadedScenario } from '../scenario/load.ts';
import { CameraRecorder } from '../sim/camera-recorder.ts';
import { ContactSummary } from '../sim/contact-summary.ts';
import { Kinematics } from '../sim/kinematics.ts';
import { ModelPerturber, perturbTargets } from '../sim/perturb.ts';
import type { AxisValue } from '../scenario/perturbation.ts';
import { loadScenarioWorld } from '../sim/compose.ts';
import { World } from '../sim/world.ts';
import type { TaskScene } from '../tasks/task.ts';
import { TraceRecorder, type TopicWriter, type Trace } from '../trace/trace.ts';
import {
  CLOCK_FIELDS, CONTACT_FIELDS, GRIPPER_FIELDS, POSE_FIELDS, TOPIC, TYPE, WRENCH_FIELDS,
  jointStateFields, objectPoseTopic, trajectoryFields,
} from '../trace/topics.ts';
import type { Action, Observation, Pose, RobotLink } from './link.ts';
import { Sensing } from './sensing.ts';

/** Thrown when the physics blows up (NaN or Inf in the state). */
export class SimDivergedError extends Error {
  constructor(time: number) {
    super(`The simulation diverged (NaN/Inf in the state) at t = ${time.toFixed(3)} s.`);
    this.name = 'SimDivergedError';
  }
}

/** A tracked object: its body, and where its free joint's pose is in qpos (-1: not free). */
interface Tracked {
  name: string;
  body: number;
  qpos: number;
  writer?: TopicWriter;
}

interface Writers {
  joints: TopicWriter;
  command: TopicWriter;
  wrench: TopicWriter;
  gripper?: TopicWriter;
  clock: TopicWriter;
  contacts: TopicWriter;
}

export class SimLink implements RobotLink {
  readonly robot;
  readonly backend = 'sim';
  readonly controlPeriod: number;
  readonly kinematics: Kinematics;
  /** Physics steps per control period. */
  readonly substeps: number;
  /** The task's hold on this world. */
  readonly scene: TaskScene;
  private readonly ids;
  private readonly tracked: Tracked[];
  private recorder = new TraceRecorder();
  private writers!: Writers;
  private gripperCommand = 0;
  private seed = 0;
  private taskMeta: Record<string, unknown> = {};
  /** What the policy sees: the state at the last record, or it through the latency and noise of a perturbation. */
  private seen: Observation | undefined;
  /** Writes the model axes of a perturbation, and puts the nominal model back after one. */
  private readonly perturber: ModelPerturber;
  /** The perturbation of the next episodes (the calibration comes first, always). */
  private perturbation: readonly AxisValue[] = [];
  /** The latency and sensor noise of this episode; absent in a world without them. */
  private sensing: Sensing | undefined;
  /** The true poses of the tracked objects at the last record (the observation has the perceived ones). */
  private truth: Record<string, Pose> = {};
  /** The /contacts summary, read once per control period. */
  private readonly contacts: ContactSummary;
  /** Scratch row of /joint_states, reused every tick to keep the control loop allocation-light. */
  private readonly jointRow: Float64Array;
  /** Scratch row of the command topic: the control period, then the joint targets. */
  private readonly commandRow: Float64Array;
  /** The scenario's cameras; absent when it records none. */
  private readonly cameras: CameraRecorder | undefined;

  private constructor(
    /** The scenario this link runs. */
    readonly scenario: LoadedScenario,
    /** The MuJoCo world (exposed for the viewer and the ray camera). */
    readonly world: World,
  ) {
    this.robot = scenario.robotConfig;
    this.substeps = Math.max(1, Math.round(1 / scenario.episode.control_rate / world.timestep));
    this.controlPeriod = this.substeps * world.timestep;
    const { model } = world;
    const robot = this.robot;
    const jointIds = robot.joints.map((j) => world.id('joint', j.name));
    const fingerIds = (robot.gripper?.joints ?? []).map((name) => world.id('joint', name));
    const tcp = world.id('site', robot.tcp_site);
    const robotRoot = (model.body_rootid as Int32Array)[(model.site_bodyid as Int32Array)[tcp]];
    this.ids = {
      qpos: jointIds.map((id) => (model.jnt_qposadr as Int32Array)[id]),
      dof: jointIds.map((id) => (model.jnt_dofadr as Int32Array)[id]),
      actuators: robot.joints.map((j) => world.id('actuator', j.actuator)),
      fingerQpos: fingerIds.map((id) => (model.jnt_qposadr as Int32Array)[id]),
      fingerActuators: (robot.gripper?.actuators ?? []).map((name) => world.id('actuator', name)),
      // Sensor addresses in sensordata, resolved once: record() runs every control tick.
      touch: (robot.gripper?.touch_sensors ?? []).map((name) => world.sensorAdr(world.id('sensor', name))),
      force: robot.wrench ? world.sensorAdr(world.id('sensor', robot.wrench.force_sensor)) : -1,
      torque: robot.wrench ? world.sensorAdr(world.id('sensor', robot.wrench.torque_sensor)) : -1,
    };
    const task = scenario.taskDef;
    this.tracked = task.objects(scenario.task).map((name) => {
      const body = world.id('body', name);
      const joint = (model.body_jntadr as Int32Array)[body];
      const free = joint >= 0 && (model.jnt_type as Int32Array)[joint] === world.mj.mjtJoint.mjJNT_FREE.value;
      return { name, body, qpos: free ? (model.jnt_qposadr as Int32Array)[joint] : -1 };
    });
    this.scene = task.scene(world, scenario.task, scenario);
    this.contacts = new ContactSummary(world, { robotRoot, objects: this.tracked.map((o) => o.body) });
    this.kinematics = new Kinematics(world, robot.joints.map((j) => j.name), tcp);
    this.jointRow = new Float64Array(3 * robot.joints.length);
    this.commandRow = new Float64Array(1 + robot.joints.length);
    this.cameras = Object.keys(scenario.cameras).length ? new CameraRecorder(world, scenario.cameras) : undefined;
    this.perturber = new ModelPerturber(world, perturbTargets(world, robot, this.tracked.map((o) => o.name)));
    if (scenario.calibration) this.perturber.check(scenario.calibration.values);
  }

  /**
   * The perturbation of the episodes from the next reset on (none: the nominal world, or the
   * calibrated one). Throws naming the axis when it names what this world does not have.
   */
  perturb(values: readonly AxisValue[]): void {
    this.perturber.check(values);
    this.perturbation = values;
  }

  /** Loads the scenario's world. */
  static async create(scenario: LoadedScenario): Promise<SimLink> {
    const world = await loadScenarioWorld(scenario);
    try {
      return new SimLink(scenario, world);
    } catch (err) {
      world.dispose();
      throw err;
    }
  }

  async reset(seed: number): Promise<Observation> {
    const { world, ids, robot } = this;
    this.seed = seed;
    world.resetData();
    const values = [...(this.scenario.calibration?.values ?? []), ...this.perturbation];
    this.perturber.applyRobot(values);
    // The task first: it may recompute model constants, which overwrites the state.
    this.taskMeta = this.scene.reset(seed);
    this.perturber.applyObjects(values);
    const qpos = world.data.qpos as Float64Array;
    const ctrl = world.data.ctrl as Float64Array;
    robot.home.forEach((q, i) => {
      qpos[ids.qpos[i]] = q;
      ctrl[ids.actuators[i]] = q;
    });
    this.gripperCommand = robot.gripper?.width[1] ?? 0;
    this.setGripperCtrl(this.gripperCommand);
    ids.fingerQpos.forEach((adr) => (qpos[adr] = this.gripperCommand / ids.fingerQpos.length));
    world.forward();
    this.sensing = Sensing.of(values, seed, { position: Float64Array.from(robot.home), gripperWidth: this.gripperCommand });
    this.recorder = new TraceRecorder();
    this.writers = this.openWriters();
    this.cameras?.reset();
    this.record();
    // A task that briefs its policy (an instruction, what the scene holds) does it in this observation.
    const brief = this.scene.brief?.();
    if (brief) this.seen = { ...this.seen!, brief };
    return this.seen!;
  }

  async act(action: Action): Promise<Observation> {
    const { world, ids } = this;
    // A command delay: the joints get the command of some ticks ago (the recorded one too).
    const applied = this.sensing ? this.sensing.command(action) : action;
    const ctrl = world.data.ctrl as Float64Array;
    const command = this.commandRow;
    command[0] = this.controlPeriod;
    for (let i = 0; i < ids.actuators.length; i++) {
      ctrl[ids.actuators[i]] = applied.position[i];
      // The command topic records what was sent, as a robot's recording would; its latency is the world's.
      command[i + 1] = action.position[i];
    }
    // Stamped when sent: the targets the arm then tracks for one control period.
    this.writers.command.push(world.time, command);
    this.gripperCommand = applied.gripperWidth;
    this.setGripperCtrl(this.gripperCommand);
    world.step(this.substeps);
    if (world.diverged()) throw new SimDivergedError(world.time);
    this.record();
    return this.seen!;
  }

  observe(): Observation {
    if (!this.seen) throw new Error('Call reset(seed) before observe().');
    return this.seen;
  }

  trace(): Trace {
    this.cameras?.finish(this.world.time, this.recorder);
    return this.recorder.finish({
      scenario: this.scenario.name,
      seed: this.seed,
      backend: 'sim',
      ...this.taskMeta,
      controlPeriod: this.controlPeriod,
      // Which world this was, when it was not the nominal one: enough to replay it.
      ...(this.scenario.calibration ? { calibration: this.scenario.calibration.file } : {}),
      ...(this.perturbation.length ? { perturbation: this.perturbation } : {}),
    });
  }

  snapshot(): { time: number; qpos: Float64Array } {
    return { time: this.world.time, qpos: (this.world.data.qpos as Float64Array).slice() };
  }

  /** The true poses of the tracked objects now (what the topics record; the policy sees `observe().objects`). */
  objectPoses(): Readonly<Record<string, Pose>> {
    return this.truth;
  }

  /** The last recorded row of arbor's gripper or contact topic, as the trace holds it. */
  lastRow(topic: 'gripper' | 'contacts'): ArrayLike<number> | undefined {
    return this.writers[topic]?.last();
  }

  /** True when the sim state holds NaN or Inf. */
  diverged(): boolean {
    return this.world.diverged();
  }

  async stop(): Promise<void> {
    // Hold where the arm is: targets become the measured positions.
    const qpos = this.world.data.qpos as Float64Array;
    const ctrl = this.world.data.ctrl as Float64Array;
    this.ids.actuators.forEach((a, i) => (ctrl[a] = qpos[this.ids.qpos[i]]));
  }

  async close(): Promise<void> {
    this.cameras?.dispose();
    this.kinematics.dispose();
    this.world.dispose();
  }

  private setGripperCtrl(width: number): void {
    if (this.ids.fingerActuators.length === 0) return;
    const ctrl = this.world.data.ctrl as Float64Array;
    const each = width / this.ids.fingerActuators.length;
    for (const a of this.ids.fingerActuators) ctrl[a] = each;
  }

  private openWriters(): Writers {
    const joints = this.robot.joints.map((j) => j.name);
    const r = this.recorder;
    // Topic order as before tasks were plug-ins: joints, objects, wrench, gripper, clock, contacts.
    const jointWriter = r.topic(TOPIC.jointStates, TYPE.jointStates, jointStateFields(joints));
    for (const t of this.tracked) t.writer = r.topic(objectPoseTopic(t.name), TYPE.pose, POSE_FIELDS);
    return {
      joints: jointWriter,
      wrench: r.topic(TOPIC.wrench, TYPE.wrench, WRENCH_FIELDS),
      gripper: this.robot.gripper ? r.topic(TOPIC.gripper, TYPE.gripper, GRIPPER_FIELDS) : undefined,
      clock: r.topic(TOPIC.clock, TYPE.clock, CLOCK_FIELDS),
      contacts: r.topic(TOPIC.contacts, TYPE.contacts, CONTACT_FIELDS),
      command: r.topic(TOPIC.command, TYPE.trajectory, trajectoryFields(joints)),
    };
  }

  /** Reads the state into an observation and appends every topic's message for this tick. */
  private record(): void {
    const { world, ids, writers } = this;
    const { data } = world;
    const t = data.time;
    const qpos = data.qpos as Float64Array;
    const qvel = data.qvel as Float64Array;
    const force = data.actuator_force as Float64Array;
    const n = ids.qpos.length;
    const position = new Float64Array(n);
    const velocity = new Float64Array(n);
    const effort = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      position[i] = qpos[ids.qpos[i]];
      velocity[i] = qvel[ids.dof[i]];
      effort[i] = force[ids.actuators[i]];
    }
    const row = this.jointRow;
    row.set(position, 0);
    row.set(velocity, n);
    row.set(effort, 2 * n);
    writers.joints.push(t, row);

    const truth: Record<string, Pose> = {};
    for (const o of this.tracked) {
      const pose = this.bodyPose(o);
      o.writer!.push(t, pose);
      truth[o.name] = { position: [pose[0], pose[1], pose[2]], orientation: [pose[3], pose[4], pose[5], pose[6]] };
    }

    const sensordata = data.sensordata as Float64Array;
    const wrench = new Float64Array(6);
    if (ids.force >= 0) {
      wrench.set(sensordata.subarray(ids.force, ids.force + 3), 0);
      wrench.set(sensordata.subarray(ids.torque, ids.torque + 3), 3);
    }
    writers.wrench.push(t, wrench);

    let width = 0;
    for (const adr of ids.fingerQpos) width += qpos[adr];
    let fingerForce = 0;
    for (const a of ids.fingerActuators) fingerForce += Math.abs(force[a]) / ids.fingerActuators.length;
    const touch: [number, number] = [
      ids.touch[0] !== undefined ? sensordata[ids.touch[0]] : 0,
      ids.touch[1] !== undefined ? sensordata[ids.touch[1]] : 0,
    ];
    writers.gripper?.push(t, [width, this.gripperCommand, fingerForce, touch[0], touch[1]]);
    writers.clock.push(t, [t]);

    this.truth = truth;
    writers.contacts.push(t, this.contacts.read());
    this.scene.record?.(t, this.recorder);
    this.cameras?.tick(t, this.recorder);

    const now: Observation = { time: t, position, velocity, effort, gripperWidth: width, touch, wrench, objects: this.scene.observe(truth) };
    this.seen = this.sensing ? this.sensing.observe(now) : now;
  }

  /**
   * A tracked body's pose as [x, y, z, qx, qy, qz, qw]. A free body's comes from qpos (the state
   * after the step); any other body's from its computed frame.
   */
  private bodyPose(o: Tracked): number[] {
    const { data } = this.world;
    if (o.qpos >= 0) {
      const q = data.qpos as Float64Array;
      const a = o.qpos;
      // MuJoCo quaternions are (w, x, y, z); ROS poses are (x, y, z, w).
      return [q[a], q[a + 1], q[a + 2], q[a + 4], q[a + 5], q[a + 6], q[a + 3]];
    }
    const p = data.xpos as Float64Array;
    const r = data.xquat as Float64Array;
    const b = o.body;
    return [p[3 * b], p[3 * b + 1], p[3 * b + 2], r[4 * b + 1], r[4 * b + 2], r[4 * b + 3], r[4 * b]];
  }
}
