/**
 * The sim served as a robot (`arbor sim-serve`): the scenario's MuJoCo world behind the
 * interfaces a MuJoCo ROS 2 control bridge exposes — /joint_states, /clock, a joint trajectory
 * controller (topic, FollowJointTrajectory action, state), a GripperCommand action, the wrist
 * wrench, object poses, camera images, and reset / pause / step services — on any number of
 * graphs at once (a rosbridge v2 server, a ROS 2 node). Network links then drive it exactly as
 * they would drive a physical arm.
 *
 * Object poses go out twice: the true ones on `object_poses` (what is recorded and scored) and
 * the ones the task's perception reports on `observed_poses` (what the policy acts on), so a
 * network episode sees and scores exactly what an in-process one does.
 *
 * Time: by default the world steps in lockstep, one control period per arm command (a trajectory
 * steps it through its duration), so an episode over the network is the in-process episode, tick
 * for tick. `realtime` steps it on the wall clock at the control rate instead, as hardware moves.
 */
import type { LoadedScenario } from '../scenario/load.ts';
import { RayCamera } from '../sim/ray-camera.ts';
import { SEED_MAX } from '../scenario/schema.ts';
import { CONTACT_FIELDS, GRIPPER_FIELDS } from '../trace/topics.ts';
import { GOAL_STATUS, type GoalOutcome, type GraphServer, type ServedGoal } from './graph.ts';
import type { Observation } from './link.ts';
import {
  FollowJointTrajectoryGoal, GripperCommandGoal, JointTrajectoryMsg, PARAMETER_INTEGER, ROS_TYPE, SetBoolRequest,
  SetParametersRequest, TRAJECTORY_ERROR, describeIssues, namedVector, poseMessage, resolveNames, toStamp,
  type ResetReport, type RosNames,
} from './ros-messages.ts';
import { SimDivergedError, SimLink } from './sim-link.ts';
import type { AxisValue } from '../scenario/perturbation.ts';
import { TRAJECTORY_LIMITS, TrajectoryFollower, trajectoryCommand, type TrajectoryCommand } from './trajectory.ts';

/** How a served sim runs. */
export interface SimServeOptions {
  /** Step on the wall clock at the control rate; false (default): one control period per arm command. */
  realtime?: boolean;
  /** Camera images per second of simulated time; 0 publishes none. */
  cameraRate?: number;
  /** Camera image size [width, height] in pixels. */
  cameraSize?: [number, number];
  /** ROS namespace every interface name is taken in (`''`: none). */
  namespace?: string;
  /** Where the server reports what it refused or survived (one line each). */
  log?: (line: string) => void;
  /**
   * The world of each reset's seed (a stand-in robot that differs from the study's sim). Its
   * latency is in control periods, so in real time it is real on the wall clock too.
   */
  perturbation?: (seed: number) => AxisValue[];
}

type Publish = (message: object) => void;

/** The publishers of one graph. */
interface Outlets {
  joints: Publish;
  clock: Publish;
  controllerState: Publish;
  gripper?: Publish;
  wrench?: Publish;
  contacts?: Publish;
  objects: [string, Publish, Publish][];
  cameras: Publish[];
}

/** A trajectory being followed, and the action goal it came from. */
interface Following {
  follower: TrajectoryFollower;
  /** Control periods stepped since it started. */
  steps: number;
  /** The goal's client, when the trajectory came as an action goal; `note` says what was clamped. */
  goal?: { feedback: ServedGoal['feedback']; finish: (outcome: GoalOutcome) => void; note?: string };
}

/** A GripperCommand goal being carried out. */
interface GripperGoal {
  target: number;
  steps: number;
  lastWidth: number;
  feedback: ServedGoal['feedback'];
  finish: (outcome: GoalOutcome) => void;
}

/** Opening (m) within which a gripper goal counts as reached, and its change per period under which the fingers stalled. */
const GRIPPER_REACHED = 0.002;
const GRIPPER_STALLED = 1e-5;
/** Most simulated seconds a gripper goal may take. */
const GRIPPER_TIMEOUT = 2;
/** Wall milliseconds a lockstep trajectory steps before it lets the event loop run (connections, cancels, Ctrl-C). */
const YIELD_MS = 5;
/**
 * Real time: how long (ms) before a tick's deadline the clock stops sleeping on a timer and spins.
 * Measured with Node 20 on this project's 2-core machine (1,000 setTimeout(f, 2..8 ms) each, 0.3 ms
 * of work per wake-up): a timer fired 0.9 ms early to 0.44 ms late at p99 and 1.4 ms late at
 * p99.9 with the machine otherwise near idle (load 1); with one other process busy on a core, 1.0
 * ms late at p99 and 3.5 ms at p99.9; with two, 3.8 ms at p99, where the OS scheduler rules and no
 * spin helps. 1.5 ms covers the quiet p99.9 and the one-busy-core p99, at about 15% of a core at
 * 100 Hz (an early wake-up spins up to 1 ms more).
 */
const SPIN_MS = 1.5;

export class SimServer {
  /** Interface names (robot.yaml's `ros:`). */
  readonly names: RosNames;
  private readonly outlets: Outlets[] = [];
  private readonly graphs: GraphServer[] = [];
  private readonly cameras: RayCamera[];
  private readonly cameraEvery: number;
  private readonly jointNames: string[];
  private readonly objects: string[];
  private readonly log: (line: string) => void;
  private target: Float64Array;
  private gripperWidth: number;
  private gripperEffort: number | undefined;
  private following: Following | undefined;
  private gripperGoal: GripperGoal | undefined;
  private seed = 0;
  private paused = false;
  private steps = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Every world change runs through this chain, one at a time. */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The scenario served. */
    readonly scenario: LoadedScenario,
    /** The world, as the in-process sim link runs it. */
    readonly link: SimLink,
    /** How it runs. */
    readonly options: Required<Pick<SimServeOptions, 'realtime' | 'cameraRate'>> & SimServeOptions,
  ) {
    const robot = scenario.robotConfig;
    this.names = resolveNames(robot.ros, options.namespace);
    this.jointNames = robot.joints.map((j) => j.name);
    this.objects = scenario.taskDef.objects(scenario.task);
    this.target = Float64Array.from(robot.home);
    this.gripperWidth = robot.gripper?.width[1] ?? 0;
    this.log = options.log ?? (() => undefined);
    const [width, height] = options.cameraSize ?? [64, 48];
    this.cameras = options.cameraRate > 0 ? this.names.cameras.map((topic) => new RayCamera(link.world, cameraName(topic, link), width, height)) : [];
    this.cameraEvery = options.cameraRate > 0 ? Math.max(1, Math.round(1 / options.cameraRate / link.controlPeriod)) : 0;
  }

  /** Loads the scenario's world; call `attach` for each graph, then `start`. */
  static async create(scenario: LoadedScenario, options: SimServeOptions = {}): Promise<SimServer> {
    const cameraRate = options.cameraRate ?? 2;
    if (!(cameraRate >= 0)) throw new Error(`The camera rate ${cameraRate} must be 0 (no images) or a positive number of images per second.`);
    const link = await SimLink.create(scenario);
    try {
      return new SimServer(scenario, link, { ...options, realtime: options.realtime ?? false, cameraRate });
    } catch (err) {
      await link.close();
      throw err;
    }
  }

  /** The control period (s) the world steps by. */
  get period(): number {
    return this.link.controlPeriod;
  }

  /** Simulated seconds since the last reset. */
  get time(): number {
    return this.link.observe().time;
  }

  /** Serves the robot's interfaces on `graph`. */
  attach(graph: GraphServer): void {
    const n = this.names;
    this.graphs.push(graph);
    this.outlets.push({
      // Latched: a lockstep world publishes only when commanded, and a viewer that joins must still see the robot.
      joints: graph.publisher(n.jointStates, ROS_TYPE.jointState, { latched: true }),
      clock: graph.publisher(n.clock, ROS_TYPE.clock),
      controllerState: graph.publisher(n.controllerState, ROS_TYPE.controllerState),
      gripper: n.gripperState && this.scenario.robotConfig.gripper ? graph.publisher(n.gripperState, ROS_TYPE.jointState) : undefined,
      wrench: n.wrench ? graph.publisher(n.wrench, ROS_TYPE.wrench) : undefined,
      contacts: n.contacts ? graph.publisher(n.contacts, ROS_TYPE.jointState) : undefined,
      objects: this.objects.map((o) => [o, graph.publisher(n.objectPose(o), ROS_TYPE.pose), graph.publisher(n.observedPose(o), ROS_TYPE.pose)]),
      cameras: this.cameras.length ? n.cameras.map((topic) => graph.publisher(topic, ROS_TYPE.image)) : [],
    });
    graph.subscribe(n.trajectoryTopic, ROS_TYPE.trajectory, (message) => this.onTrajectory(message));
    graph.action(n.trajectoryAction, ROS_TYPE.followJointTrajectory, (goal) => this.followGoal(goal));
    if (n.gripperCommand && this.scenario.robotConfig.gripper) graph.action(n.gripperCommand, ROS_TYPE.gripperCommand, (goal) => this.gripperCommandGoal(goal));
    if (n.reset) graph.service(n.reset, ROS_TYPE.trigger, () => this.exclusive(() => this.reset()));
    if (n.setParameters) graph.service(n.setParameters, ROS_TYPE.setParameters, (request) => this.setParameters(request));
    if (n.pause) graph.service(n.pause, ROS_TYPE.setBool, (request) => this.pause(request));
    if (n.step) graph.service(n.step, ROS_TYPE.trigger, () => this.stepService());
  }

  /**
   * Resets the world with seed 0, runs one dry tick and, in real time, starts the clock. The dry
   * tick takes the path of a commanded tick on the real objects — a trajectory parsed and followed,
   * physics, every topic built, encoded and published — and is undone by a second reset (which
   * starts from nothing but the seed), so the first real tick does not pay for the code's first
   * run. It runs before the server says it is ready, so no client has yet subscribed to see it.
   */
  async start(): Promise<void> {
    await this.exclusive(() => this.reset());
    await this.exclusive(async () => {
      const hold = { joint_names: this.jointNames, points: [{ positions: Array.from(this.target), time_from_start: toStamp(this.period) }] };
      this.follow(trajectoryCommand(JointTrajectoryMsg.parse(hold), this.scenario.robotConfig, this.scenario.robotConfig.ros.gripper_joint));
      await this.step();
      return this.reset();
    });
    if (this.options.realtime) this.runClock();
  }

  /** Stops the clock, the graphs and the world. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.chain.catch(() => undefined);
    this.endGoals('the server is shutting down');
    await Promise.allSettled(this.graphs.map((g) => g.close()));
    for (const camera of this.cameras) camera.dispose();
    await this.link.close();
  }

  /** Runs world changes one at a time, in the order they arrive. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async reset(): Promise<{ success: boolean; message: string }> {
    this.endGoals('the world was reset');
    if (this.options.perturbation) this.link.perturb(this.options.perturbation(this.seed));
    const obs = await this.link.reset(this.seed);
    const robot = this.scenario.robotConfig;
    this.target = Float64Array.from(obs.position);
    this.gripperWidth = robot.gripper?.width[1] ?? 0;
    this.gripperEffort = undefined;
    this.steps = 0;
    this.publish(obs);
    // The task's facts about this seed (object setup, ...), as the in-process trace meta has them.
    // How the world is perturbed or calibrated stays hidden, as a physical arm's differences are.
    const { scenario: _s, seed: _seed, backend: _b, controlPeriod: _p, perturbation: _w, calibration: _c, ...meta } = this.link.trace().meta;
    const report: ResetReport = {
      seed: this.seed, time: obs.time, lockstep: !this.options.realtime, period: this.period, timestep: this.link.world.timestep, meta,
      // A task that briefs its policy does it here, as the in-process sim does in the first observation.
      ...(obs.brief ? { brief: obs.brief } : {}),
    };
    return { success: true, message: JSON.stringify(report) };
  }

  /** A trajectory on the controller's topic: follow it (in lockstep, step through it now); what was clamped is said to the sender. */
  private onTrajectory(message: unknown): string | undefined {
    const parsed = JointTrajectoryMsg.safeParse(withinPointLimit(message));
    if (!parsed.success) throw new Error(describeIssues(`A trajectory on ${this.names.trajectoryTopic}`, parsed.error));
    const command = trajectoryCommand(parsed.data, this.scenario.robotConfig, this.scenario.robotConfig.ros.gripper_joint);
    if (command.clamped) this.log(`sim-serve: ${command.clamped}`);
    void this.exclusive(async () => this.follow(command))
      .then((following) => this.stepThrough(following))
      .catch((err: Error) => this.log(`sim-serve: the trajectory could not be followed: ${err.message}`));
    return command.clamped;
  }

  private followGoal(served: ServedGoal): Promise<GoalOutcome> {
    let command: TrajectoryCommand;
    try {
      withinPointLimit((served.goal as { trajectory?: unknown } | null)?.trajectory);
      const parsed = FollowJointTrajectoryGoal.safeParse(served.goal);
      if (!parsed.success) throw new Error(describeIssues('The FollowJointTrajectory goal', parsed.error));
      command = trajectoryCommand(parsed.data.trajectory, this.scenario.robotConfig, this.scenario.robotConfig.ros.gripper_joint);
    } catch (err) {
      const error_string = (err as Error).message;
      return Promise.resolve({ status: GOAL_STATUS.aborted, result: { error_code: TRAJECTORY_ERROR.invalidJoints, error_string } });
    }
    if (command.clamped) this.log(`sim-serve: ${command.clamped}`);
    return new Promise<GoalOutcome>((resolve) => {
      void this.exclusive(async () => {
        const goal = { feedback: served.feedback, finish: resolve, note: command.clamped };
        const following = this.follow(command, goal);
        served.signal.addEventListener('abort', () => {
          if (this.following?.goal !== goal) return;
          this.following = undefined;
          this.target = Float64Array.from(this.link.observe().position);
          resolve({ status: GOAL_STATUS.canceled, result: { error_code: TRAJECTORY_ERROR.successful, error_string: 'canceled; holding' } });
        }, { once: true });
        return following;
      })
        .then((following) => this.stepThrough(following))
        .catch((err: Error) => resolve({ status: GOAL_STATUS.aborted, result: { error_code: TRAJECTORY_ERROR.invalidGoal, error_string: err.message } }));
    });
  }

  private gripperCommandGoal(served: ServedGoal): Promise<GoalOutcome> {
    const parsed = GripperCommandGoal.safeParse(served.goal);
    if (!parsed.success) return Promise.reject(new Error(describeIssues('The GripperCommand goal', parsed.error)));
    const { width: [lo, hi], effort } = this.scenario.robotConfig.gripper!;
    const { position, max_effort } = parsed.data.command;
    // The goal completes as the world steps: on the wall clock, or (lockstep) with the arm's commands or step calls.
    return new Promise<GoalOutcome>((resolve) => {
      void this.exclusive(async () => {
        this.gripperGoal?.finish(gripperOutcome(GOAL_STATUS.aborted, this.link.observe(), false, false));
        this.gripperWidth = Math.min(hi, Math.max(lo, position));
        // As the safety envelope does in-process: no finger pushes past its force limit.
        this.gripperEffort = max_effort > 0 ? Math.min(max_effort, effort) : undefined;
        if (this.gripperWidth !== position || max_effort > effort) {
          this.log(`sim-serve: a GripperCommand goal (position ${position} m, max_effort ${max_effort} N) was clamped into the gripper's opening [${lo}, ${hi}] m and force limit ${effort} N.`);
        }
        this.gripperGoal = { target: this.gripperWidth, steps: 0, lastWidth: this.link.observe().gripperWidth, feedback: served.feedback, finish: resolve };
        served.signal.addEventListener('abort', () => {
          if (this.gripperGoal?.finish !== resolve) return;
          this.gripperGoal = undefined;
          resolve(gripperOutcome(GOAL_STATUS.canceled, this.link.observe(), false, false));
        }, { once: true });
      });
    });
  }

  private setParameters(request: unknown): object {
    const parsed = SetParametersRequest.safeParse(request);
    if (!parsed.success) throw new Error(describeIssues('The set_parameters request', parsed.error));
    return {
      results: parsed.data.parameters.map((p) => {
        if (p.name !== 'seed') return { successful: false, reason: `No parameter '${p.name}'; this node has only 'seed'.` };
        const value = Number(p.value.integer_value);
        if (p.value.type !== PARAMETER_INTEGER || !Number.isInteger(value) || value < 0 || value > SEED_MAX) {
          return { successful: false, reason: `'seed' must be an integer parameter in 0..${SEED_MAX}.` };
        }
        this.seed = value;
        return { successful: true, reason: '' };
      }),
    };
  }

  private pause(request: unknown): object {
    const parsed = SetBoolRequest.safeParse(request);
    if (!parsed.success) throw new Error(describeIssues('The pause request', parsed.error));
    this.paused = parsed.data.data;
    return { success: true, message: this.paused ? 'paused' : 'running' };
  }

  private async stepService(): Promise<object> {
    if (this.options.realtime && !this.paused) return { success: false, message: 'The world runs in real time; pause it before stepping.' };
    await this.exclusive(() => this.step());
    return { success: true, message: JSON.stringify({ time: this.time }) };
  }

  /** Starts following a trajectory from the current target; a goal it replaces is aborted. */
  private follow(command: TrajectoryCommand, goal?: Following['goal']): Following {
    this.following?.goal?.finish({ status: GOAL_STATUS.aborted, result: { error_code: TRAJECTORY_ERROR.successful, error_string: 'preempted by a newer trajectory' } });
    this.following = { follower: new TrajectoryFollower(command, this.target, this.gripperWidth), steps: 0, goal };
    return this.following;
  }

  /**
   * Lockstep: steps until `following` ends (at least one period), is preempted or cancelled, the
   * world is reset or the server closes. Each period takes its own turn on the chain and the event
   * loop runs every few milliseconds, so what arrives meanwhile — a cancel, a newer trajectory, a
   * reset, a step call, a new client, Ctrl-C — is served mid-trajectory, not after it.
   */
  private async stepThrough(following: Following): Promise<void> {
    if (this.options.realtime) return;
    let yielded = performance.now();
    while (this.following === following && !this.closed) {
      await this.exclusive(() => (this.following === following ? this.step() : Promise.resolve()));
      if (performance.now() - yielded > YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        yielded = performance.now();
      }
    }
  }

  /** One control period: targets from the trajectory, physics, then every topic. */
  private async step(): Promise<void> {
    const f = this.following;
    if (f) {
      f.steps++;
      const target = f.follower.at(f.steps * this.period);
      this.target = target.position;
      if (target.gripperWidth !== undefined) this.gripperWidth = target.gripperWidth;
      if (target.gripperEffort !== undefined) this.gripperEffort = target.gripperEffort;
    }
    let obs: Observation;
    try {
      obs = await this.link.act({ position: this.target, gripperWidth: this.gripperWidth, gripperEffort: this.gripperEffort });
    } catch (err) {
      if (!(err instanceof SimDivergedError)) throw err;
      this.log(`sim-serve: ${err.message} The world is reset with seed ${this.seed}.`);
      await this.reset();
      return;
    }
    this.steps++;
    this.publish(obs);
    if (f && this.following === f) this.advanceGoal(f, obs);
    if (this.gripperGoal) this.advanceGripper(this.gripperGoal, obs);
  }

  private advanceGoal(f: Following, obs: Observation): void {
    const done = f.steps * this.period >= f.follower.duration - 1e-9;
    if (f.goal) {
      const desired = Array.from(this.target);
      const actual = Array.from(obs.position);
      const point = (positions: number[]) => ({ positions, velocities: [], accelerations: [], effort: [], time_from_start: toStamp(f.steps * this.period) });
      f.goal.feedback({
        header: { stamp: toStamp(obs.time), frame_id: '' },
        joint_names: this.jointNames,
        desired: point(desired),
        actual: { ...point(actual), velocities: Array.from(obs.velocity) },
        error: point(desired.map((q, i) => q - actual[i])),
      });
    }
    if (!done) return;
    this.following = undefined;
    f.goal?.finish({ status: GOAL_STATUS.succeeded, result: { error_code: TRAJECTORY_ERROR.successful, error_string: f.goal.note ?? '' } });
  }

  private advanceGripper(g: GripperGoal, obs: Observation): void {
    g.steps++;
    const reached = Math.abs(obs.gripperWidth - g.target) < GRIPPER_REACHED;
    const stalled = !reached && g.steps >= 3 && Math.abs(obs.gripperWidth - g.lastWidth) < GRIPPER_STALLED;
    g.lastWidth = obs.gripperWidth;
    g.feedback(gripperOutcome(GOAL_STATUS.executing, obs, stalled, reached).result as object);
    if (reached || stalled || g.steps * this.period >= GRIPPER_TIMEOUT) {
      this.gripperGoal = undefined;
      g.finish(gripperOutcome(reached || stalled ? GOAL_STATUS.succeeded : GOAL_STATUS.aborted, obs, stalled, reached));
    }
  }

  /** Ends every goal in flight (reset, shutdown). */
  private endGoals(why: string): void {
    const following = this.following;
    this.following = undefined;
    following?.goal?.finish({ status: GOAL_STATUS.aborted, result: { error_code: TRAJECTORY_ERROR.successful, error_string: why } });
    const gripper = this.gripperGoal;
    this.gripperGoal = undefined;
    if (gripper) gripper.finish({ status: GOAL_STATUS.aborted, result: { position: gripper.lastWidth, effort: 0, stalled: false, reached_goal: false } });
  }

  /**
   * Publishes the state after a reset or a step on every graph: first what a network link's tick
   * waits for (object poses and arbor's topics, then the joint state, which a link takes as the
   * tick's end), then what no link waits for (controller state, clock, camera images). Those are
   * built after the reply is on its way (a ROS 2 publish leaves at once; the camera renders for up
   * to a millisecond), still before the world steps again, so each topic's messages, order and
   * bytes are as before.
   */
  private publish(obs: Observation): void {
    const t = obs.time;
    const header = { stamp: toStamp(t), frame_id: '' };
    const joints = { header, name: this.jointNames, position: obs.position, velocity: obs.velocity, effort: obs.effort };
    const force = this.link.lastRow('gripper')?.[2] ?? 0;
    const gripper = namedVector(t, GRIPPER_FIELDS, [obs.gripperWidth, this.gripperWidth, force, obs.touch[0], obs.touch[1]]);
    const w = obs.wrench;
    const wrench = { header: { ...header, frame_id: 'wrist' }, wrench: { force: { x: w[0], y: w[1], z: w[2] }, torque: { x: w[3], y: w[4], z: w[5] } } };
    const contacts = namedVector(t, CONTACT_FIELDS, this.link.lastRow('contacts') ?? CONTACT_FIELDS.map(() => 0));
    const truth = this.link.objectPoses();
    const poses = this.objects.map((o) => [poseMessage(t, truth[o]), poseMessage(t, obs.objects[o] ?? truth[o])]);
    for (const out of this.outlets) {
      out.objects.forEach(([, truePose, observed], i) => {
        truePose(poses[i][0]);
        observed(poses[i][1]);
      });
      out.gripper?.(gripper);
      out.wrench?.(wrench);
      out.contacts?.(contacts);
      out.joints(joints);
    }
    const clock = { clock: header.stamp };
    const actual = Array.from(obs.position);
    const reference = Array.from(this.target);
    const point = (positions: number[], velocities: number[] = []) => ({ positions, velocities, accelerations: [], effort: [], time_from_start: { sec: 0, nanosec: 0 } });
    const controllerState = {
      header,
      joint_names: this.jointNames,
      reference: point(reference),
      feedback: point(actual, Array.from(obs.velocity)),
      error: point(reference.map((q, i) => q - actual[i])),
    };
    const images = this.cameraEvery && this.steps % this.cameraEvery === 0 ? this.cameras.map((c) => imageMessage(t, c)) : [];
    for (const out of this.outlets) {
      out.controllerState(controllerState);
      out.clock(clock);
      images.forEach((image, i) => out.cameras[i]?.(image));
    }
  }

  /**
   * Real time: one step per control period of wall time, each at its deadline on the monotonic
   * clock (`performance.now`): a timer sleeps until `SPIN_MS` before the deadline and the rest is
   * spun, since a timer wakes up to a millisecond early or late. Deadlines advance by whole periods,
   * so a late tick does not shift the ones after it; a step more than 5 periods late is not made up
   * for (the deadlines start again from now).
   */
  private runClock(): void {
    const periodMs = this.period * 1000;
    let deadline = performance.now() + periodMs;
    const wake = () => {
      if (this.closed) return;
      while (performance.now() < deadline);
      if (!this.paused) void this.exclusive(() => this.step()).catch((err: Error) => this.log(`sim-serve: a step failed: ${err.message}`));
      deadline += periodMs;
      const now = performance.now();
      if (deadline < now - 5 * periodMs) deadline = now;
      this.timer = setTimeout(wake, Math.max(0, deadline - now - SPIN_MS));
    };
    this.timer = setTimeout(wake, periodMs - SPIN_MS);
  }
}

/**
 * Refuses a trajectory of too many points before it is parsed: validating 100,000 points holds
 * the event loop for seconds, and the limit refuses them anyway.
 */
function withinPointLimit(message: unknown): unknown {
  const points = (message as { points?: unknown } | null)?.points;
  if (Array.isArray(points) && points.length > TRAJECTORY_LIMITS.points) {
    throw new Error(`The trajectory has ${points.length} points; at most ${TRAJECTORY_LIMITS.points} are taken. Send it in parts.`);
  }
  return message;
}

/** The MJCF camera of a camera topic `/camera/<name>/...` (or `<prefix>/<name>/image_raw`). */
function cameraName(topic: string, link: SimLink): string {
  const parts = topic.split('/').filter(Boolean);
  const name = parts.length >= 2 ? parts[parts.length - 2] : parts[0];
  const cameras = link.world.names('camera').filter(Boolean);
  if (!cameras.includes(name)) {
    throw new Error(`Camera topic ${topic} names camera '${name}', which ${link.scenario.worldPath} does not have; its cameras are ${cameras.join(', ') || 'none'}. Name topics /camera/<camera>/image_raw.`);
  }
  return name;
}

/** A depth image (32FC1, metres) from a ray camera. */
function imageMessage(time: number, camera: RayCamera): object {
  const image = camera.render();
  return {
    header: { stamp: toStamp(time), frame_id: 'camera' },
    height: image.height,
    width: image.width,
    encoding: '32FC1',
    is_bigendian: 0,
    step: image.width * 4,
    data: new Uint8Array(image.depth.buffer, image.depth.byteOffset, image.depth.byteLength),
  };
}

/** A GripperCommand result (also its feedback's shape). */
function gripperOutcome(status: number, obs: Observation, stalled: boolean, reached: boolean): GoalOutcome {
  return { status, result: { position: obs.gripperWidth, effort: obs.touch[0] + obs.touch[1], stalled, reached_goal: reached } };
}
