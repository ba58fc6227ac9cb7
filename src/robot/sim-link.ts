/**
 * The in-process MuJoCo sim as a `RobotLink`: physics at the model timestep, the policy at the
 * scenario's control rate, and every topic recorded once per control period.
 */
import type { LoadedScenario } from '../scenario/load.ts';
import { applyObjectSetup, samplePerceptionError, sampleObjectSetup, type ObjectSetup } from '../sim/randomize.ts';
import { ContactSummary } from '../sim/contact-summary.ts';
import { World } from '../sim/world.ts';
import { TraceRecorder, type TopicWriter, type Trace } from '../trace/trace.ts';
import {
  CLOCK_FIELDS, CONTACT_FIELDS, GRIPPER_FIELDS, POSE_FIELDS, SAFETY_FIELDS, TOPIC, TYPE, WRENCH_FIELDS,
  jointStateFields, objectPoseTopic,
} from '../trace/topics.ts';
import type { Action, Observation, RobotLink } from './link.ts';
import { SafetyEnvelope } from './safety.ts';

/** Thrown when the physics blows up (NaN or Inf in the state). */
export class SimDivergedError extends Error {
  constructor(time: number) {
    super(`The simulation diverged (NaN/Inf in the state) at t = ${time.toFixed(3)} s.`);
    this.name = 'SimDivergedError';
  }
}

interface Writers {
  joints: TopicWriter;
  object: TopicWriter;
  wrench: TopicWriter;
  gripper: TopicWriter;
  clock: TopicWriter;
  contacts: TopicWriter;
  safety: TopicWriter;
}

export class SimLink implements RobotLink {
  readonly robot;
  readonly controlPeriod: number;
  /** Physics steps per control period. */
  readonly substeps: number;
  private readonly envelope;
  private readonly ids;
  private recorder = new TraceRecorder();
  private writers!: Writers;
  private sent: Float64Array;
  private gripperCommand = 0;
  private seed = 0;
  private setup: ObjectSetup | undefined;
  /** This episode's error [x, y] (m) of the object position the policy observes. */
  private perceptionError: [number, number] = [0, 0];
  private last: Observation | undefined;
  /** The /contacts summary, read once per control period. */
  private readonly contacts: ContactSummary;
  /** Scratch row of /joint_states, reused every tick to keep the control loop allocation-light. */
  private readonly jointRow: Float64Array;

  private constructor(
    /** The scenario this link runs. */
    readonly scenario: LoadedScenario,
    /** The MuJoCo world (exposed for the viewer and the ray camera). */
    readonly world: World,
  ) {
    this.robot = scenario.robotConfig;
    this.envelope = new SafetyEnvelope(this.robot);
    this.substeps = Math.max(1, Math.round(1 / scenario.episode.control_rate / world.timestep));
    this.controlPeriod = this.substeps * world.timestep;
    const { model } = world;
    const jointIds = this.robot.joints.map((j) => world.id('joint', j.name));
    const fingerIds = this.robot.gripper.joints.map((name) => world.id('joint', name));
    const objectBody = world.id('body', scenario.task.object);
    const objectJoint = (model.body_jntadr as Int32Array)[objectBody];
    const tcp = world.id('site', this.robot.tcp_site);
    const robotRoot = (model.body_rootid as Int32Array)[(model.site_bodyid as Int32Array)[tcp]];
    this.ids = {
      qpos: jointIds.map((id) => (model.jnt_qposadr as Int32Array)[id]),
      dof: jointIds.map((id) => (model.jnt_dofadr as Int32Array)[id]),
      actuators: this.robot.joints.map((j) => world.id('actuator', j.actuator)),
      fingerQpos: fingerIds.map((id) => (model.jnt_qposadr as Int32Array)[id]),
      fingerActuators: this.robot.gripper.actuators.map((name) => world.id('actuator', name)),
      // Sensor addresses in sensordata, resolved once: record() runs every control tick.
      touch: this.robot.gripper.touch_sensors.map((name) => world.sensorAdr(world.id('sensor', name))),
      force: this.robot.wrench ? world.sensorAdr(world.id('sensor', this.robot.wrench.force_sensor)) : -1,
      torque: this.robot.wrench ? world.sensorAdr(world.id('sensor', this.robot.wrench.torque_sensor)) : -1,
      tcp,
      objectBody,
      objectQpos: objectJoint >= 0 ? (model.jnt_qposadr as Int32Array)[objectJoint] : -1,
      zoneGeom: scenario.task.zone.geom ? world.id('geom', scenario.task.zone.geom) : -1,
    };
    if (this.ids.objectQpos < 0) {
      throw new Error(`Body '${scenario.task.object}' in ${scenario.worldPath} needs a free joint to be picked; add <freejoint/> to it.`);
    }
    this.contacts = new ContactSummary(world, { robotRoot, objectBody });
    this.sent = Float64Array.from(this.robot.home);
    this.jointRow = new Float64Array(3 * this.robot.joints.length);
  }

  /** Loads the scenario's world. */
  static async create(scenario: LoadedScenario): Promise<SimLink> {
    return new SimLink(scenario, await World.load(scenario.worldPath));
  }

  /** The object setup drawn for the current episode. */
  get objectSetup(): ObjectSetup | undefined {
    return this.setup;
  }

  async reset(seed: number): Promise<Observation> {
    const { world, ids, robot, scenario } = this;
    this.seed = seed;
    world.resetData();
    // The object setup first: it recomputes model constants, which overwrites the state.
    this.setup = sampleObjectSetup(scenario.randomization, seed);
    applyObjectSetup(world, ids.objectBody, this.setup);
    this.perceptionError = samplePerceptionError(scenario.perception, seed);
    const qpos = world.data.qpos as Float64Array;
    const ctrl = world.data.ctrl as Float64Array;
    robot.home.forEach((q, i) => {
      qpos[ids.qpos[i]] = q;
      ctrl[ids.actuators[i]] = q;
    });
    this.gripperCommand = robot.gripper.width[1];
    this.setGripperCtrl(this.gripperCommand);
    ids.fingerQpos.forEach((adr) => (qpos[adr] = this.gripperCommand / ids.fingerQpos.length));
    this.sent = Float64Array.from(robot.home);
    if (ids.zoneGeom >= 0) {
      const { center, half_size } = scenario.task.zone;
      (world.model.geom_pos as Float64Array).set([center[0], center[1]], 3 * ids.zoneGeom);
      (world.model.geom_size as Float64Array).set(half_size, 3 * ids.zoneGeom);
    }
    world.forward();
    this.recorder = new TraceRecorder();
    this.writers = this.openWriters();
    this.record(0, 0, false);
    return this.last!;
  }

  async act(action: Action): Promise<Observation> {
    const { world, ids } = this;
    const verdict = this.envelope.filter(this.sent, action.position, this.controlPeriod);
    this.sent = verdict.position;
    const ctrl = world.data.ctrl as Float64Array;
    for (let i = 0; i < ids.actuators.length; i++) ctrl[ids.actuators[i]] = verdict.position[i];
    this.gripperCommand = this.envelope.gripperWidth(action.gripperWidth);
    this.setGripperCtrl(this.gripperCommand);
    world.step(this.substeps);
    if (world.diverged()) throw new SimDivergedError(world.time);
    const tcp = (world.data.site_xpos as Float64Array).subarray(3 * ids.tcp, 3 * ids.tcp + 3);
    this.record(verdict.positionClamps, verdict.velocityClamps, !this.envelope.inWorkspace(tcp));
    return this.last!;
  }

  observe(): Observation {
    if (!this.last) throw new Error('Call reset(seed) before observe().');
    return this.last;
  }

  trace(): Trace {
    return this.recorder.finish({
      scenario: this.scenario.name,
      seed: this.seed,
      backend: 'sim',
      object: this.scenario.task.object,
      objectSetup: this.setup,
      perceptionError: this.perceptionError,
      zone: this.scenario.task.zone,
      controlPeriod: this.controlPeriod,
    });
  }

  async stop(): Promise<void> {
    // Hold where the arm is: targets become the measured positions.
    const qpos = this.world.data.qpos as Float64Array;
    const ctrl = this.world.data.ctrl as Float64Array;
    this.ids.actuators.forEach((a, i) => (ctrl[a] = qpos[this.ids.qpos[i]]));
  }

  async close(): Promise<void> {
    this.world.dispose();
  }

  private setGripperCtrl(width: number): void {
    const ctrl = this.world.data.ctrl as Float64Array;
    const each = width / this.ids.fingerActuators.length;
    for (const a of this.ids.fingerActuators) ctrl[a] = each;
  }

  private openWriters(): Writers {
    const joints = this.robot.joints.map((j) => j.name);
    const r = this.recorder;
    return {
      joints: r.topic(TOPIC.jointStates, TYPE.jointStates, jointStateFields(joints)),
      object: r.topic(objectPoseTopic(this.scenario.task.object), TYPE.pose, POSE_FIELDS),
      wrench: r.topic(TOPIC.wrench, TYPE.wrench, WRENCH_FIELDS),
      gripper: r.topic(TOPIC.gripper, TYPE.gripper, GRIPPER_FIELDS),
      clock: r.topic(TOPIC.clock, TYPE.clock, CLOCK_FIELDS),
      contacts: r.topic(TOPIC.contacts, TYPE.contacts, CONTACT_FIELDS),
      safety: r.topic(TOPIC.safety, TYPE.safety, SAFETY_FIELDS),
    };
  }

  /** Reads the state into an observation and appends every topic's message for this tick. */
  private record(positionClamps: number, velocityClamps: number, outsideWorkspace: boolean): void {
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

    const o = ids.objectQpos;
    // MuJoCo quaternions are (w, x, y, z); ROS poses are (x, y, z, w).
    const objectPose = [qpos[o], qpos[o + 1], qpos[o + 2], qpos[o + 4], qpos[o + 5], qpos[o + 6], qpos[o + 3]];
    writers.object.push(t, objectPose);

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
    writers.gripper.push(t, [width, this.gripperCommand, fingerForce, touch[0], touch[1]]);
    writers.clock.push(t, [t]);

    writers.contacts.push(t, this.contacts.read());
    writers.safety.push(t, [positionClamps, velocityClamps, outsideWorkspace ? 1 : 0]);

    this.last = {
      time: t,
      position,
      velocity,
      effort,
      gripperWidth: width,
      touch,
      wrench,
      objects: {
        // The policy sees the object through the (miscalibrated) perception; topics keep the truth.
        [this.scenario.task.object]: {
          position: [objectPose[0] + this.perceptionError[0], objectPose[1] + this.perceptionError[1], objectPose[2]],
          orientation: [objectPose[3], objectPose[4], objectPose[5], objectPose[6]],
        },
      },
    };
  }
}
