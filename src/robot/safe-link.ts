/**
 * `SafeLink` wraps every link, in sim too: each command passes the robot's safety envelope
 * (position, velocity and acceleration limits, the workspace box, the links above the table top,
 * the gripper's force limit); a
 * watchdog holds a robot that moves on its own clock (a network link) when commands or joint
 * states stop arriving; an e-stop holds it and refuses commands until the next reset. Every
 * intervention is recorded on the `/safety` topic of the episode's trace and summarised in its
 * meta, so the log of an episode says what was changed.
 */
import { z } from 'zod';
import type { AxisValue } from '../scenario/perturbation.ts';
import type { RobotConfig } from '../scenario/robot.ts';
import type { Kinematics } from '../sim/kinematics.ts';
import { Trace, TraceRecorder, type TopicWriter } from '../trace/trace.ts';
import { SAFETY_FIELDS, TOPIC, TYPE } from '../trace/topics.ts';
import type { Action, Observation, RobotLink } from './link.ts';
import { SafetyEnvelope } from './safety.ts';

/** Thrown by `act` after an e-stop, until the next `reset`. */
export class EmergencyStopError extends Error {
  constructor(readonly reason: string) {
    super(`Emergency stop: ${reason}. The robot holds; reset starts a new episode.`);
    this.name = 'EmergencyStopError';
  }
}

/** One intervention of the envelope, kept in the trace meta (the first few of an episode). */
const Intervention = z.object({
  /** Episode time (s). */
  time: z.number(),
  /** `clamp`, `reject`, `watchdog` or `estop`. */
  kind: z.enum(['clamp', 'reject', 'watchdog', 'estop']),
  /** What happened, in a sentence. */
  detail: z.string(),
});
export type Intervention = z.infer<typeof Intervention>;

/** The trace meta's `safety` section, which SafeLink writes: read back through `safetyOf`, never by cast. */
const SafetySummary = z.object({
  position_clamps: z.number(),
  velocity_clamps: z.number(),
  acceleration_clamps: z.number(),
  rejected: z.number(),
  watchdog: z.number(),
  /** Why the e-stop fired, or null. */
  estop: z.string().nullable(),
  interventions: z.array(Intervention),
});
export type SafetySummary = z.infer<typeof SafetySummary>;

/** The safety section of a trace's meta; undefined when the trace has none (or one this arbor cannot read). */
export function safetyOf(trace: Pick<Trace, 'meta'>): SafetySummary | undefined {
  return SafetySummary.safeParse(trace.meta.safety).data;
}

/** Interventions kept verbatim per episode; the rest are only counted. */
const LOGGED = 50;

export class SafeLink implements RobotLink {
  readonly robot: RobotConfig;
  private readonly envelope: SafetyEnvelope;
  private recorder = new TraceRecorder();
  private safety!: TopicWriter;
  /** The last two targets sent: velocity and acceleration limits compare against them. */
  private sent: Float64Array;
  private before: Float64Array;
  private counts = { position_clamps: 0, velocity_clamps: 0, acceleration_clamps: 0, rejected: 0, watchdog: 0 };
  private log: Intervention[] = [];
  private estopReason: string | undefined;
  private lastCommand = 0;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  /** Tool-point speed cap (m/s) for reduced-speed runs; undefined for full speed. */
  private speedCap: number | undefined;
  /** Where a target puts the tool point and the links, for the envelope. */
  private readonly geometry = { toolPoint: (q: Float64Array) => this.kinematics.pose(q).pos, lowestPoint: (q: Float64Array) => this.kinematics.lowestPoint(q) };

  constructor(
    /** The link this one guards. */
    readonly inner: RobotLink,
  ) {
    this.robot = inner.robot;
    this.envelope = new SafetyEnvelope(inner.robot);
    this.sent = Float64Array.from(inner.robot.home);
    this.before = this.sent;
  }

  get backend(): string {
    return this.inner.backend;
  }

  get controlPeriod(): number {
    return this.inner.controlPeriod;
  }

  get kinematics(): Kinematics {
    return this.inner.kinematics;
  }

  /**
   * Caps the tool-point speed of the next episodes (m/s), as for a new candidate's first runs on
   * hardware; `undefined` lifts the cap. Joint steps are scaled down so the tool point moves at most
   * `speed × dt` per period.
   */
  limitToolSpeed(speed: number | undefined): void {
    if (speed !== undefined && !(speed > 0)) throw new Error(`A tool speed cap must be positive; got ${speed}.`);
    this.speedCap = speed;
  }

  async reset(seed: number): Promise<Observation> {
    this.disarm();
    this.estopReason = undefined;
    this.stopping = undefined;
    const obs = await this.inner.reset(seed);
    // Limits compare against what was sent; the episode starts from where the robot stands.
    this.sent = Float64Array.from(obs.position);
    this.before = this.sent;
    this.counts = { position_clamps: 0, velocity_clamps: 0, acceleration_clamps: 0, rejected: 0, watchdog: 0 };
    this.log = [];
    this.recorder = new TraceRecorder();
    this.safety = this.recorder.topic(TOPIC.safety, TYPE.safety, SAFETY_FIELDS);
    this.record(obs, 0, 0, 0, false);
    this.arm();
    return obs;
  }

  async act(action: Action): Promise<Observation> {
    if (this.estopReason !== undefined) throw new EmergencyStopError(this.estopReason);
    const dt = this.inner.controlPeriod;
    const verdict = this.envelope.filter(this.sent, this.before, action.position, dt, this.geometry);
    let position = verdict.position;
    if (this.speedCap !== undefined && !verdict.rejected) position = this.capToolSpeed(position, dt);
    const time = this.inner.observe().time;
    if (verdict.rejected) this.note(time, 'reject', `command rejected: ${verdict.rejected}`);
    else if (verdict.positionClamps + verdict.velocityClamps + verdict.accelerationClamps > 0) {
      this.note(time, 'clamp', `${verdict.positionClamps} position, ${verdict.velocityClamps} velocity and ${verdict.accelerationClamps} acceleration clamps`);
    }
    this.counts.position_clamps += verdict.positionClamps;
    this.counts.velocity_clamps += verdict.velocityClamps;
    this.counts.acceleration_clamps += verdict.accelerationClamps;
    if (verdict.rejected) this.counts.rejected++;
    this.before = this.sent;
    this.sent = position;
    this.lastCommand = performance.now();
    const obs = await this.inner.act({
      position,
      gripperWidth: this.envelope.gripperWidth(action.gripperWidth),
      gripperEffort: this.envelope.gripperEffort(action.gripperEffort),
    });
    this.record(obs, verdict.positionClamps, verdict.velocityClamps, verdict.accelerationClamps, verdict.rejected !== undefined);
    return obs;
  }

  observe(): Observation {
    return this.inner.observe();
  }

  /** Passes a perturbation to the sim; any other link refuses it (`arbor sim-serve --perturb` perturbs a served sim). */
  perturb(values: readonly AxisValue[]): void {
    if (!this.inner.perturb) {
      if (values.length === 0) return;
      throw new Error(`The ${this.inner.backend} backend cannot be perturbed from here; perturb the sim (--backend sim), or serve a perturbed one with arbor sim-serve --perturb FILE.`);
    }
    this.inner.perturb(values);
  }

  snapshot(): { time: number; qpos: Float64Array } | undefined {
    return this.inner.snapshot?.();
  }

  /** The inner link's topics with `/safety` and a summary of the interventions in the meta. */
  trace(): Trace {
    const inner = this.inner.trace();
    const topics = new Map(inner.topics);
    const safety = this.recorder.finish().topics.get(TOPIC.safety);
    if (safety) topics.set(TOPIC.safety, safety);
    const summary: SafetySummary = { ...this.counts, estop: this.estopReason ?? null, interventions: this.log };
    const meta = { ...inner.meta, safety: summary };
    return new Trace(topics, meta, inner.images);
  }

  /** Holds the robot; idempotent, so every way an episode ends may call it. */
  stop(): Promise<void> {
    this.disarm();
    this.stopping ??= this.inner.stop();
    return this.stopping;
  }

  /** Emergency stop: hold now and refuse commands until the next reset. */
  async estop(reason: string): Promise<void> {
    this.estopReason = reason;
    this.note(this.safeTime(), 'estop', reason);
    this.stopping = undefined;
    await this.stop();
  }

  /** The joint targets last sent to the robot (after the envelope): what it is moving to. */
  get lastTarget(): Float64Array {
    return this.sent.slice();
  }

  /** True after an e-stop, until the next reset. */
  get stopped(): boolean {
    return this.estopReason !== undefined;
  }

  async close(): Promise<void> {
    this.disarm();
    await this.inner.close();
  }

  /** Scales a joint step down so the tool point moves at most `speedCap × dt`. */
  private capToolSpeed(target: Float64Array, dt: number): Float64Array {
    const from = this.kinematics.pose(this.sent).pos;
    const to = this.kinematics.pose(target).pos;
    const distance = Math.hypot(to[0] - from[0], to[1] - from[1], to[2] - from[2]);
    const most = this.speedCap! * dt;
    if (distance <= most) return target;
    const f = most / distance;
    const capped = new Float64Array(target.length);
    for (let i = 0; i < target.length; i++) capped[i] = this.sent[i] + f * (target[i] - this.sent[i]);
    return capped;
  }

  private record(obs: Observation, positionClamps: number, velocityClamps: number, accelerationClamps: number, rejected: boolean): void {
    const tcp = this.kinematics.pose(obs.position).pos;
    const outside = this.envelope.inWorkspace(tcp) ? 0 : 1;
    this.safety.push(obs.time, [positionClamps, velocityClamps, outside, accelerationClamps, rejected ? 1 : 0]);
  }

  private note(time: number, kind: Intervention['kind'], detail: string): void {
    if (this.log.length < LOGGED) this.log.push({ time, kind, detail });
  }

  private safeTime(): number {
    try {
      return this.inner.observe().time;
    } catch {
      return 0;
    }
  }

  /**
   * Starts the watchdog: it holds the robot when commands or joint states stop for too long. The
   * in-process sim does not move between commands, so only links that report `stateAge` need it.
   */
  private arm(): void {
    if (!this.inner.stateAge) return;
    const limit = this.robot.safety.watchdog;
    this.lastCommand = performance.now();
    this.watchdogTimer = setInterval(() => {
      const quiet = (performance.now() - this.lastCommand) / 1000;
      const stale = this.inner.stateAge?.() ?? 0;
      if (quiet <= limit && stale <= limit) return;
      // A robot silent while a command waits for its answer is the graver fault; name it first.
      const why = stale > limit ? `no joint state for ${stale.toFixed(2)} s` : `no command for ${quiet.toFixed(2)} s`;
      this.counts.watchdog++;
      this.note(this.safeTime(), 'watchdog', `watchdog: ${why} (limit ${limit} s); holding`);
      // Hold until commands come again; they then move on from the held target under the same limits.
      this.lastCommand = performance.now();
      void this.inner.stop().catch(() => undefined);
    }, Math.max(10, (limit * 1000) / 4));
    this.watchdogTimer.unref();
  }

  private disarm(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }
}
