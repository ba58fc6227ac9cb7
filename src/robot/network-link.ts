/**
 * A robot on a ROS graph as a `RobotLink`, whatever carries the graph (rclnodejs or rosbridge):
 * it commands the trajectory controller (and the gripper) named in robot.yaml, assembles each
 * observation from the robot's topics, and records the same topics the in-process sim records, so
 * the task's scorer runs unchanged on a network episode.
 *
 * Ticks: `act` sends one command, one control period ahead, and returns the robot's state one
 * period later: in lockstep (sim-serve's default) the world steps once per command and the link
 * waits until every topic of that step is in; on a robot that moves on its own clock it takes the
 * next joint state a period on and the latest of the rest. The loop's timing (round trip,
 * interval, jitter) goes into the trace meta.
 *
 * Drops: a connection that closes, or a robot that goes silent for longer than the watchdog
 * allows, ends the episode with `LinkDroppedError` (an abort, not a failure); the next `reset`
 * connects again, waiting up to `reconnectSeconds` for the robot to come back.
 */
import type { LoadedScenario } from '../scenario/load.ts';
import { Kinematics } from '../sim/kinematics.ts';
import { loadScenarioWorld } from '../sim/compose.ts';
import { World } from '../sim/world.ts';
import { Trace, TraceRecorder, type TopicWriter } from '../trace/trace.ts';
import {
  CLOCK_FIELDS, CONTACT_FIELDS, GRIPPER_FIELDS, POSE_FIELDS, TOPIC, TYPE, WRENCH_FIELDS, jointStateFields, objectPoseTopic, trajectoryFields,
} from '../trace/topics.ts';
import { ArmJoints } from './arm-joints.ts';
import { LinkDroppedError, type GraphClient } from './graph.ts';
import type { Action, Observation, Pose, RobotLink, TaskBrief } from './link.ts';
import {
  PARAMETER_INTEGER, ROS_TYPE, ResetReport, TriggerResponse, describeIssues, fromStamp, jointStateParser, namedValue, poseOf,
  poseStampedParser, resolveNames, wrenchStampedParser, type JointStateMsg, type Parsed, type RosNames, type WrenchStampedMsg,
} from './ros-messages.ts';
import { trajectoryMessage } from './trajectory.ts';

/** How a network link is opened. */
export interface NetworkLinkOptions {
  /** `rosbridge` or `ros2`, for the trace meta and messages. */
  backend: 'rosbridge' | 'ros2';
  /** Opens (and, after a drop, reopens) the connection. */
  connect: () => Promise<GraphClient>;
  /** ROS namespace the robot's names live in (`''` for none). */
  namespace?: string;
  /** Seconds `reset` waits for a dropped robot to come back (default 30). */
  reconnectSeconds?: number;
}

/** The latest message of a topic. */
interface Latest<T> {
  /** Its stamp (s). */
  stamp: number;
  /** The parsed message. */
  message: T;
}

/** Someone waiting for the robot's state to satisfy a condition. */
interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** Service calls wait this long for an answer. */
const CALL_TIMEOUT_MS = 5000;
/** Tool speed (fraction of each joint's velocity limit) of the move home on a robot without a reset service. */
const HOMING_SPEED = 0.2;

export class NetworkLink implements RobotLink {
  readonly robot;
  readonly backend: 'rosbridge' | 'ros2';
  readonly kinematics: Kinematics;
  /** Interface names, resolved in the namespace. */
  readonly names: RosNames;
  private controlPeriodValue: number;
  private graph!: GraphClient;
  private readonly objects: string[];
  /** The arm's joints, merged from whatever `/joint_states` messages carry them. */
  private readonly arm: ArmJoints;
  private gripper: Latest<JointStateMsg> | undefined;
  private wrench: Latest<WrenchStampedMsg> | undefined;
  private contacts: Latest<JointStateMsg> | undefined;
  private readonly poses = new Map<string, Latest<Pose>>();
  private readonly observed = new Map<string, Latest<Pose>>();
  /** Topics that take no message of the last episode: after a reset, a topic is stale until its first stamp at the reset time. */
  private stale = new Set<string>();
  private resetTime = 0;
  private timestep: number | undefined;
  private waiters: Waiter[] = [];
  private lastArrival = performance.now();
  private sentAt: number | undefined;
  private lost: string | undefined;
  private lockstep = false;
  private origin = 0;
  /**
   * A lockstep world's clock, replayed: MuJoCo adds its timestep once per physics step, so the link
   * adds it too and hands the policy the very number the sim holds (a ROS stamp keeps only whole
   * nanoseconds, and a policy comparing times would see a tick's difference now and then).
   */
  private clock: { time: number; timestep: number; substeps: number } | undefined;
  private lastStamp = 0;
  private seed = 0;
  private resetMeta: Record<string, unknown> = {};
  /** The task's brief of this episode, from the reset report (sim-serve gives it; a robot's own reset service does not). */
  private resetBrief: TaskBrief | undefined;
  private last: Observation | undefined;
  private recorder = new TraceRecorder();
  private writers: { joints: TopicWriter; poses: Map<string, TopicWriter>; wrench: TopicWriter; gripper?: TopicWriter; clock: TopicWriter; contacts?: TopicWriter; command: TopicWriter } | undefined;
  private publishTrajectory: ((message: object) => void) | undefined;
  private gripperSent: { width: number; effort: number } | undefined;
  private readonly problems = new Map<string, string>();
  /** Where the live frame puts each part of the state in the world's qpos. */
  private readonly qposOf: { arm: number[]; fingers: number[]; objects: Map<string, number> };
  private readonly timing = { roundTrips: [] as number[], intervals: [] as number[], lastSend: 0 };

  private constructor(
    /** The scenario the robot runs. */
    readonly scenario: LoadedScenario,
    private readonly world: World,
    private readonly options: NetworkLinkOptions,
  ) {
    this.robot = scenario.robotConfig;
    this.backend = options.backend;
    this.names = resolveNames(this.robot.ros, options.namespace);
    this.controlPeriodValue = 1 / scenario.episode.control_rate;
    this.objects = scenario.taskDef.objects(scenario.task);
    this.arm = new ArmJoints(this.robot.joints.map((j) => j.name));
    this.kinematics = new Kinematics(world, this.robot.joints.map((j) => j.name), world.id('site', this.robot.tcp_site));
    const { model } = world;
    const adr = (joint: number) => (model.jnt_qposadr as Int32Array)[joint];
    const freeJointOf = (body: number) => {
      const joint = (model.body_jntadr as Int32Array)[body];
      return joint >= 0 && (model.jnt_type as Int32Array)[joint] === world.mj.mjtJoint.mjJNT_FREE.value ? adr(joint) : -1;
    };
    this.qposOf = {
      arm: this.robot.joints.map((j) => adr(world.id('joint', j.name))),
      fingers: (this.robot.gripper?.joints ?? []).map((name) => adr(world.id('joint', name))),
      objects: new Map(this.objects.map((o) => [o, freeJointOf(world.id('body', o))])),
    };
    if (this.robot.gripper && !this.robot.ros.gripper_joint && !this.robot.ros.gripper_command) {
      throw new Error(`${this.robot.file}: the robot has a gripper but ros: names neither gripper_joint nor gripper_command; name how its gripper is commanded.`);
    }
  }

  /** Loads the scenario's world (for kinematics and the safety envelope) and connects to the robot. */
  static async open(scenario: LoadedScenario, options: NetworkLinkOptions): Promise<NetworkLink> {
    const world = await loadScenarioWorld(scenario);
    let link: NetworkLink | undefined;
    try {
      link = new NetworkLink(scenario, world, options);
      await link.connect();
      return link;
    } catch (err) {
      if (link) await link.close();
      else world.dispose();
      throw err;
    }
  }

  get controlPeriod(): number {
    return this.controlPeriodValue;
  }

  /** Where the link is connected. */
  get address(): string {
    return this.graph?.address ?? this.options.backend;
  }

  async reset(seed: number): Promise<Observation> {
    this.seed = seed;
    this.gripperSent = undefined;
    const deadline = performance.now() + (this.options.reconnectSeconds ?? 30) * 1000;
    for (;;) {
      try {
        if (this.lost !== undefined) await this.reconnect();
        await this.resetRobot(seed);
        break;
      } catch (err) {
        // Only a robot that is away is waited for; a refusal is an answer.
        if (!(err instanceof LinkDroppedError)) throw err;
        if (performance.now() > deadline) throw new LinkDroppedError(this.address, `the robot did not come back within ${this.options.reconnectSeconds ?? 30} s (${err.reason})`);
        this.lost ??= err.reason;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    this.origin = this.lockstep ? this.resetTime : this.arm.stamp;
    this.clock = this.lockstep && this.timestep ? { time: this.resetTime, timestep: this.timestep, substeps: Math.round(this.controlPeriodValue / this.timestep) } : undefined;
    this.lastStamp = this.arm.stamp;
    this.timing.roundTrips = [];
    this.timing.intervals = [];
    this.timing.lastSend = 0;
    this.recorder = new TraceRecorder();
    this.writers = this.openWriters();
    this.record();
    if (this.resetBrief) this.last = { ...this.last!, brief: this.resetBrief };
    return this.last!;
  }

  async act(action: Action): Promise<Observation> {
    if (this.lost !== undefined) throw new LinkDroppedError(this.address, this.lost);
    const sent = performance.now();
    if (this.timing.lastSend) this.timing.intervals.push(sent - this.timing.lastSend);
    this.timing.lastSend = sent;
    this.command(action);
    const after = this.lastStamp + 0.9 * this.controlPeriodValue;
    this.sentAt = sent;
    try {
      await this.waitFor(() => this.tickReady(after), this.tickTimeoutMs(), 'no joint state came after the command');
    } finally {
      this.sentAt = undefined;
    }
    this.timing.roundTrips.push(performance.now() - sent);
    this.lastStamp = this.arm.stamp;
    if (this.clock) for (let i = 0; i < this.clock.substeps; i++) this.clock.time += this.clock.timestep;
    this.record();
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
      backend: this.backend,
      ...this.resetMeta,
      controlPeriod: this.controlPeriodValue,
      link: { address: this.address, lockstep: this.lockstep, timing: this.timingSummary(), ...(this.problems.size ? { problems: [...this.problems.values()] } : {}) },
    });
  }

  /**
   * The robot as the viewer draws it: the world's qpos with the arm from /joint_states, the
   * fingers from the gripper opening and the objects at their recorded poses.
   */
  snapshot(): { time: number; qpos: Float64Array } | undefined {
    if (!this.last) return undefined;
    const qpos = Float64Array.from(this.world.model.qpos0 as Float64Array);
    this.qposOf.arm.forEach((a, i) => (qpos[a] = this.last!.position[i]));
    for (const a of this.qposOf.fingers) qpos[a] = this.last.gripperWidth / this.qposOf.fingers.length;
    for (const [object, a] of this.qposOf.objects) {
      const pose = this.poses.get(object)?.message;
      if (a < 0 || !pose) continue;
      const [qx, qy, qz, qw] = pose.orientation;
      qpos.set([...pose.position, qw, qx, qy, qz], a);
    }
    return { time: this.last.time, qpos };
  }

  /**
   * Seconds the robot has been silent when it should not be: since the command in flight (lockstep
   * robots report only after a command), or since the last joint state (robots on their own clock).
   */
  stateAge(): number {
    const now = performance.now();
    if (this.lockstep) return this.sentAt === undefined ? 0 : (now - this.sentAt) / 1000;
    return (now - this.lastArrival) / 1000;
  }

  /**
   * Holds the robot where it stands. A lockstep world does not move between commands, so it is
   * held already; a robot on its own clock gets a trajectory to its measured position. Nothing
   * can be sent over a dropped link (the robot's own controller holds its last target).
   */
  async stop(): Promise<void> {
    if (this.lost !== undefined || this.lockstep || !this.last) return;
    this.command({ position: this.last.position, gripperWidth: this.gripperSent?.width ?? this.last.gripperWidth }, false);
  }

  async close(): Promise<void> {
    for (const waiter of this.waiters.splice(0)) waiter.reject(new LinkDroppedError(this.address, 'the link was closed'));
    await this.graph?.close().catch(() => undefined);
    this.kinematics.dispose();
    this.world.dispose();
  }

  /** Connects and subscribes to every topic the robot's observation and trace need. */
  private async connect(): Promise<void> {
    const graph = await this.options.connect();
    this.graph = graph;
    this.lost = undefined;
    const n = this.names;
    graph.onDrop((reason) => this.drop(reason));
    // Only a message with some of the arm's joints counts, as news of the arm and as a sign of life.
    graph.subscribe(n.jointStates, ROS_TYPE.jointState, (m) => this.receive(n.jointStates, jointStateParser, m, (v) => {
      this.arm.take(v.stamp, v.message);
      this.lastArrival = performance.now();
    }, (message) => this.arm.carries(message)));
    if (n.gripperState && this.robot.gripper) graph.subscribe(n.gripperState, ROS_TYPE.jointState, (m) => this.receive(n.gripperState!, jointStateParser, m, (v) => (this.gripper = v)));
    if (n.wrench) graph.subscribe(n.wrench, ROS_TYPE.wrench, (m) => this.receive(n.wrench!, wrenchStampedParser, m, (v) => (this.wrench = v)));
    if (n.contacts) graph.subscribe(n.contacts, ROS_TYPE.jointState, (m) => this.receive(n.contacts!, jointStateParser, m, (v) => (this.contacts = v)));
    for (const object of this.objects) {
      const recorded = n.objectPose(object);
      const observed = n.observedPose(object);
      graph.subscribe(recorded, ROS_TYPE.pose, (m) => this.receive(recorded, poseStampedParser, m, (v) => this.poses.set(object, { stamp: v.stamp, message: poseOf(v.message) })));
      if (observed !== recorded) {
        graph.subscribe(observed, ROS_TYPE.pose, (m) => this.receive(observed, poseStampedParser, m, (v) => this.observed.set(object, { stamp: v.stamp, message: poseOf(v.message) })));
      }
    }
    if (this.robot.ros.arm_command === 'topic') this.publishTrajectory = graph.advertise(n.trajectoryTopic, ROS_TYPE.trajectory);
  }

  private async reconnect(): Promise<void> {
    await this.graph.close().catch(() => undefined);
    try {
      await this.connect();
    } catch (err) {
      throw new LinkDroppedError(this.address, (err as Error).message);
    }
  }

  /** The connection dropped: everyone waiting learns it now. */
  private drop(reason: string): void {
    this.lost ??= reason;
    for (const waiter of this.waiters.splice(0)) waiter.reject(new LinkDroppedError(this.address, reason));
  }

  /**
   * Validates one message; a bad one is counted (and named in the trace meta), never used. One that
   * is not `relevant` (another node's, on a shared topic) is ignored: it tells nothing of this robot.
   */
  private receive<T extends { header: { stamp: { sec: number; nanosec: number } } }>(
    topic: string, schema: { safeParse: (v: unknown) => Parsed<T> }, raw: unknown, keep: (latest: Latest<T>) => void,
    relevant: (message: T) => boolean = () => true,
  ): void {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      this.problems.set(topic, describeIssues(`A message on ${topic}`, parsed.error));
      return;
    }
    if (!relevant(parsed.data)) return;
    const stamp = fromStamp(parsed.data.header.stamp);
    if (this.stale.has(topic)) {
      // A message of the previous episode still in flight: the world's clock restarted at reset.
      if (stamp > this.resetTime + 0.5 * this.controlPeriodValue) return;
      this.stale.delete(topic);
    }
    keep({ stamp, message: parsed.data });
    this.wake();
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    this.waiters = this.waiters.filter((w) => {
      if (!w.ready()) return true;
      w.resolve();
      return false;
    });
  }

  private waitFor(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.lost !== undefined) return Promise.reject(new LinkDroppedError(this.address, this.lost));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        ready,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        const missing = this.arm.missing(this.names.jointStates, this.robot.name);
        const reason = `${what} for ${(timeoutMs / 1000).toFixed(2)} s${missing ? `: ${missing}` : ''}`;
        this.lost ??= reason;
        reject(new LinkDroppedError(this.address, reason));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** How long a tick may take before the robot counts as gone: twice the watchdog, at least 20 periods. */
  private tickTimeoutMs(): number {
    return Math.max(2 * this.robot.safety.watchdog, 20 * this.controlPeriodValue) * 1000;
  }

  /**
   * The robot's state a control period on: a joint state stamped at or after `after` and, in
   * lockstep, every other topic of the same step (they travel separately and may arrive later).
   */
  private tickReady(after: number): boolean {
    const t = this.arm.stamp;
    if (t < after) return false;
    if (!this.lockstep) return true;
    if (this.names.gripperState && this.robot.gripper && !(this.gripper && this.gripper.stamp >= t)) return false;
    if (this.names.wrench && !(this.wrench && this.wrench.stamp >= t)) return false;
    if (this.names.contacts && !(this.contacts && this.contacts.stamp >= t)) return false;
    for (const object of this.objects) {
      if (!((this.poses.get(object)?.stamp ?? -Infinity) >= t)) return false;
      if (this.names.observedPose(object) !== this.names.objectPose(object) && !((this.observed.get(object)?.stamp ?? -Infinity) >= t)) return false;
    }
    return true;
  }

  /** Resets a simulated robot through its services, or drives a physical one home. */
  private async resetRobot(seed: number): Promise<void> {
    const n = this.names;
    if (!n.reset) {
      await this.driveHome();
      this.lockstep = false;
      this.resetMeta = {};
      this.resetBrief = undefined;
      return;
    }
    if (n.setParameters) {
      const response = await this.graph.call(n.setParameters, ROS_TYPE.setParameters, {
        parameters: [{ name: 'seed', value: { type: PARAMETER_INTEGER, integer_value: seed } }],
      }, CALL_TIMEOUT_MS);
      const result = (response as { results?: { successful?: boolean; reason?: string }[] } | null)?.results?.[0];
      if (!result?.successful) throw new Error(`${n.setParameters} refused seed ${seed}: ${result?.reason ?? 'no answer'}`);
    }
    this.stale = new Set(this.subscribedTopics());
    this.arm.clear();
    const response = TriggerResponse.safeParse(await this.graph.call(n.reset, ROS_TYPE.trigger, {}, CALL_TIMEOUT_MS));
    if (!response.success) throw new Error(describeIssues(`The answer of ${n.reset}`, response.error));
    if (!response.data.success) throw new Error(`${n.reset} refused to reset: ${response.data.message}`);
    let report: ResetReport;
    try {
      report = ResetReport.parse(JSON.parse(response.data.message));
    } catch {
      // A reset service that is not sim-serve's: the world restarts on its own clock.
      report = { seed, time: 0, lockstep: false, period: this.controlPeriodValue, meta: {} };
    }
    this.resetTime = report.time;
    this.lockstep = report.lockstep;
    this.controlPeriodValue = report.period;
    this.resetMeta = report.meta;
    this.resetBrief = report.brief;
    this.timestep = report.timestep;
    const fresh = () => this.arm.stamp > -Infinity && this.stale.size === 0;
    await this.waitFor(fresh, CALL_TIMEOUT_MS, `no state of the reset world came from ${this.address}`);
  }

  /** Every topic the link listens to. */
  private subscribedTopics(): string[] {
    const n = this.names;
    const topics = [n.jointStates];
    if (n.gripperState && this.robot.gripper) topics.push(n.gripperState);
    if (n.wrench) topics.push(n.wrench);
    if (n.contacts) topics.push(n.contacts);
    for (const object of this.objects) {
      topics.push(n.objectPose(object));
      if (n.observedPose(object) !== n.objectPose(object)) topics.push(n.observedPose(object));
    }
    return topics;
  }

  /**
   * A robot without a reset service (hardware): the operator resets the scene; arbor drives the
   * arm home slowly (each joint at a fifth of its velocity limit) and opens the gripper.
   */
  private async driveHome(): Promise<void> {
    await this.waitFor(() => this.arm.stamp > -Infinity, CALL_TIMEOUT_MS, `no joint state came from ${this.address}`);
    const now = this.arm.state()!.position;
    const duration = Math.max(1, ...this.robot.joints.map((j, i) => Math.abs(this.robot.home[i] - now[i]) / (HOMING_SPEED * j.velocity)));
    const home = Float64Array.from(this.robot.home);
    this.sendTrajectory([duration], [home], this.robot.gripper ? this.robot.gripper.width[1] : undefined, undefined);
    const tolerance = 0.01;
    await this.waitFor(
      () => this.arm.state()!.position.every((q, i) => Math.abs(q - home[i]) < tolerance),
      (duration + 5) * 1000,
      'the arm did not reach home',
    );
  }

  /** Sends one control period's command: the trajectory (and the gripper when it is not a trajectory joint). */
  private command(action: Action, gripper = true): void {
    const width = this.robot.gripper ? action.gripperWidth : undefined;
    const viaJoint = this.robot.ros.gripper_joint !== undefined;
    const position = Float64Array.from(action.position);
    this.sendTrajectory([this.controlPeriodValue], [position], viaJoint ? width : undefined, viaJoint ? action.gripperEffort : undefined);
    // Every command sent is recorded, stamped with the state it answers: calibration replays them.
    if (this.last) this.writers?.command.push(this.last.time, [this.controlPeriodValue, ...position]);
    if (width === undefined) return;
    const effort = action.gripperEffort ?? this.robot.gripper!.effort;
    if (gripper && !viaJoint && this.names.gripperCommand && (this.gripperSent?.width !== width || this.gripperSent.effort !== effort)) {
      this.graph.sendGoal(this.names.gripperCommand, ROS_TYPE.gripperCommand, { command: { position: width, max_effort: effort } }).result.catch(() => undefined);
    }
    this.gripperSent = { width, effort };
  }

  private sendTrajectory(times: number[], positions: Float64Array[], width: number | undefined, effort: number | undefined): void {
    const gripperJoint = this.robot.ros.gripper_joint;
    const message = trajectoryMessage(
      { times, positions, ...(width !== undefined ? { gripper: times.map(() => width) } : {}), ...(effort !== undefined ? { gripperEffort: times.map(() => effort) } : {}) },
      this.robot,
      gripperJoint,
    );
    if (this.publishTrajectory) this.publishTrajectory(message);
    else this.graph.sendGoal(this.names.trajectoryAction, ROS_TYPE.followJointTrajectory, { trajectory: message }).result.catch(() => undefined);
  }

  private openWriters() {
    const r = this.recorder;
    // The topic order of the in-process sim link: joints, objects, wrench, gripper, clock, contacts.
    const names = this.robot.joints.map((j) => j.name);
    const joints = r.topic(TOPIC.jointStates, TYPE.jointStates, jointStateFields(names));
    const poses = new Map(this.objects.map((o) => [o, r.topic(objectPoseTopic(o), TYPE.pose, POSE_FIELDS)]));
    return {
      joints,
      poses,
      wrench: r.topic(TOPIC.wrench, TYPE.wrench, WRENCH_FIELDS),
      gripper: this.robot.gripper ? r.topic(TOPIC.gripper, TYPE.gripper, GRIPPER_FIELDS) : undefined,
      clock: r.topic(TOPIC.clock, TYPE.clock, CLOCK_FIELDS),
      contacts: this.names.contacts ? r.topic(TOPIC.contacts, TYPE.contacts, CONTACT_FIELDS) : undefined,
      command: r.topic(TOPIC.command, TYPE.trajectory, trajectoryFields(names)),
    };
  }

  /** Builds the observation of the latest state and records this tick on every topic. */
  private record(): void {
    const w = this.writers!;
    const t = this.episodeTime();
    const { position, velocity, effort } = this.arm.state()!;
    w.joints.push(t, [...position, ...velocity, ...effort]);

    const objects: Record<string, Pose> = {};
    for (const object of this.objects) {
      const truth = this.poses.get(object)?.message;
      if (!truth) throw new LinkDroppedError(this.address, `no pose of '${object}' came on ${this.names.objectPose(object)}`);
      const { position: p, orientation: q } = truth;
      w.poses.get(object)!.push(t, [p[0], p[1], p[2], q[0], q[1], q[2], q[3]]);
      objects[object] = this.observed.get(object)?.message ?? truth;
    }

    const wrench = new Float64Array(6);
    if (this.wrench) {
      const { force: f, torque: m } = this.wrench.message.wrench;
      wrench.set([f.x, f.y, f.z, m.x, m.y, m.z]);
    }
    w.wrench.push(t, wrench);

    const g = this.gripper?.message;
    const width = g ? namedValue(g, 'position', 0) : 0;
    const touch: [number, number] = g ? [namedValue(g, 'touch.left', 0), namedValue(g, 'touch.right', 0)] : [0, 0];
    const command = g ? namedValue(g, 'command', this.gripperSent?.width ?? 0) : (this.gripperSent?.width ?? this.robot.gripper?.width[1] ?? 0);
    w.gripper?.push(t, [width, command, g ? namedValue(g, 'effort', 0) : 0, touch[0], touch[1]]);
    w.clock.push(t, [t]);
    if (w.contacts) {
      const c = this.contacts?.message;
      w.contacts.push(t, CONTACT_FIELDS.map((field) => (c ? namedValue(c, field, 0) : 0)));
    }
    this.last = { time: t, position, velocity, effort, gripperWidth: width, touch, wrench, objects };
  }

  /** Seconds since the episode began: the replayed sim clock in lockstep (while it agrees with the stamps), else the stamps. */
  private episodeTime(): number {
    const stamped = this.arm.stamp - this.origin;
    if (this.clock && Math.abs(this.clock.time - this.origin - stamped) < 1e-6) return this.clock.time - this.origin;
    if (this.clock) {
      this.problems.set('clock', `The robot's stamps (${stamped} s) left the lockstep clock (${this.clock.time} s); the stamps are used from here on.`);
      this.clock = undefined;
    }
    return stamped;
  }

  /** The control loop's timing so far, in milliseconds. */
  private timingSummary(): Record<string, number> {
    const pct = (values: number[], p: number) => {
      if (values.length === 0) return 0;
      const sorted = [...values].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
    };
    const periodMs = this.controlPeriodValue * 1000;
    const jitter = this.timing.intervals.map((i) => Math.abs(i - periodMs));
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return {
      ticks: this.timing.roundTrips.length,
      round_trip_p50_ms: round(pct(this.timing.roundTrips, 0.5)),
      round_trip_p99_ms: round(pct(this.timing.roundTrips, 0.99)),
      interval_p50_ms: round(pct(this.timing.intervals, 0.5)),
      jitter_p50_ms: round(pct(jitter, 0.5)),
      jitter_p99_ms: round(pct(jitter, 0.99)),
      jitter_max_ms: round(pct(jitter, 1)),
    };
  }
}
