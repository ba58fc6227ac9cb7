/**
 * The evaluator of a study on one robot over the network (or the in-process sim under an
 * operator): episodes run one at a time in this thread, because there is one robot and, under an
 * operator, one terminal.
 *
 * An episode cut off by a dropped link (`LinkDroppedError`: the robot held, the episode did not
 * fail) is run again once the link reconnects, up to `tries` times; only then is it reported
 * `aborted`, and the study stops where it is, resumable, losing nothing.
 *
 * With an `Operator` (`arbor run --operator`), hardware is touched only as a person allows:
 *  - the sim gate: a candidate's first episode on the robot runs first in sim, same seed, and the
 *    robot sees the candidate only if that episode stayed inside the safety envelope;
 *  - reduced speed: a new candidate's first `reducedRuns` episodes run with the tool-point speed
 *    capped at robot.yaml's `safety.reduced_speed` (≤ 0.25 m/s, ISO 10218-1's reduced speed);
 *  - before each episode the operator sees what will run and answers run, skip or stop; on a
 *    robot without a reset service the operator resets the scene first; during the episode a key
 *    is an e-stop.
 * Every one of these steps is reported through `onEvent`, which the study's log keeps.
 */
import { LinkDroppedError } from '../robot/graph.ts';
import type { Backend } from '../robot/links.ts';
import { EmergencyStopError, safetyOf } from '../robot/safe-link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { EpisodeRunner, type EpisodeRun } from './episode.ts';
import type { EpisodeJob, EpisodeResult, Evaluator } from './evaluator.ts';
import { throttledFrames, type FrameThrottle, type LiveFrame } from './live.ts';

/** What the operator is shown before an episode. */
export interface EpisodePlan {
  /** The job. */
  job: EpisodeJob;
  /** Candidate id (-1 when the job has none). */
  candidate: number;
  /** 1-based episode number of this evaluate call, and how many it has. */
  index: number;
  /** Episodes in this evaluate call. */
  total: number;
  /** The robot, where episodes run (`ros2:/robot1`, `ws://...`). */
  backend: string;
  /** The tool-point speed cap (m/s) of this run, when it is reduced. */
  reducedSpeed?: number;
  /** The sim gate's verdict on this candidate, when it ran for this episode. */
  simGate?: string;
  /** True when the robot has no reset service: the operator resets the scene. */
  manualReset: boolean;
}

/** A person supervising a robot (the CLI's terminal, or a test's script). */
export interface Operator {
  /** Shows the plan and waits for the answer. */
  confirm(plan: EpisodePlan): Promise<'run' | 'skip' | 'stop'>;
  /** Waits until the operator has reset the scene for the planned episode. */
  sceneReset(plan: EpisodePlan): Promise<void>;
  /** Arms the e-stop key for the running episode: `trigger` halts the robot; returns the disarm function. */
  armEstop(trigger: (reason: string) => void): () => void;
  /** Lets go of the terminal when the study ends. */
  close?(): void;
}

/** Options of a `LinkEvaluator`. */
export interface LinkEvaluatorOptions {
  /** Tries per episode when the link drops (default 3). */
  tries?: number;
  /** Seconds each try waits for a dropped robot to come back (default 30). */
  reconnectSeconds?: number;
  /** Supervise every episode; absent: run unattended. */
  operator?: Operator;
  /** Episodes of a new candidate run at reduced speed (default 2; operator mode only). */
  reducedRuns?: number;
  /** Live frames of the robot (from its joint states) while episodes run, at most `fps` per second. */
  live?: { study: string; fps?: number; onFrame: (frame: LiveFrame) => void };
  /** The study's reply cache (prompt policies' model replies at temperature 0); absent: every call is sent. */
  cacheDir?: string;
  /** Study events: operator decisions, sim gate verdicts, reduced speed, e-stops, drops. */
  onEvent?: (event: { kind: string; message: string; candidate?: number; data?: unknown }) => void;
}

/** Why a sim episode fails the gate, or undefined when it stayed inside the envelope. */
export function envelopeBreach(run: Pick<EpisodeRun, 'trace'>): string | undefined {
  const safety = safetyOf(run.trace);
  const problems: string[] = [];
  if (safety?.rejected) problems.push(`${safety.rejected} command(s) rejected by the envelope`);
  if (safety?.estop) problems.push(`an e-stop (${safety.estop})`);
  const outside = run.trace.topics.get('/safety');
  if (outside) {
    const col = outside.fields.indexOf('workspace_violation');
    const width = outside.fields.length;
    let ticks = 0;
    for (let r = 0; r < outside.stamps.length; r++) if (outside.data[r * width + col] > 0) ticks++;
    if (ticks) problems.push(`the tool point left the workspace box in ${ticks} tick(s)`);
  }
  return problems.length ? problems.join('; ') : undefined;
}

export class LinkEvaluator implements Evaluator {
  private draining = false;
  private closing: Promise<void> | undefined;
  private running: Promise<unknown> = Promise.resolve();
  /** Episodes each candidate (by policy) has run on the robot. */
  private readonly runs = new Map<string, number>();
  /** Sim gate verdicts by policy: why it failed, or undefined when it passed. */
  private readonly gate = new Map<string, string | undefined>();

  private constructor(
    /** The scenario. */
    readonly scenario: LoadedScenario,
    /** Runs episodes on the robot. */
    readonly runner: EpisodeRunner,
    /** Runs the sim gate's episodes (operator mode). */
    private readonly sim: EpisodeRunner | undefined,
    private readonly options: LinkEvaluatorOptions,
  ) {}

  /** Connects to the robot on `backend` (and, under an operator, loads the sim for the gate). */
  static async create(scenario: LoadedScenario, backend: Backend, options: LinkEvaluatorOptions = {}): Promise<LinkEvaluator> {
    const tries = options.tries ?? 3;
    if (!Number.isInteger(tries) || tries < 1) throw new Error(`\`tries=${tries}\` must be a whole number of at least 1.`);
    const runner = await EpisodeRunner.create(scenario, backend, { reconnectSeconds: options.reconnectSeconds }, { cacheDir: options.cacheDir });
    try {
      const sim = options.operator ? await EpisodeRunner.create(scenario, undefined, undefined, { cacheDir: options.cacheDir }) : undefined;
      return new LinkEvaluator(scenario, runner, sim, options);
    } catch (err) {
      await runner.close();
      throw err;
    }
  }

  evaluate(jobs: EpisodeJob[], onResult?: (result: EpisodeResult) => void): Promise<EpisodeResult[]> {
    if (this.closing) return Promise.reject(new Error('The evaluator is closed; create a new one to evaluate more.'));
    const work = this.running.then(async () => {
      const results: EpisodeResult[] = [];
      let callbackError: { error: unknown } | undefined;
      for (let i = 0; i < jobs.length; i++) {
        const result = this.draining ? cancelled(jobs[i]) : await this.runJob(jobs[i], i + 1, jobs.length);
        results.push(result);
        try {
          onResult?.(result);
        } catch (error) {
          callbackError ??= { error };
        }
      }
      if (callbackError) throw callbackError.error;
      return results;
    });
    this.running = work.catch(() => undefined);
    return work;
  }

  drain(): void {
    this.draining = true;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.drain();
      await this.running;
      await this.runner.close();
      await this.sim?.close();
      this.options.operator?.close?.();
    })();
    return this.closing;
  }

  private event(kind: string, message: string, candidate: number, data?: unknown): void {
    this.options.onEvent?.({ kind, message, ...(candidate >= 0 ? { candidate } : {}), ...(data !== undefined ? { data } : {}) });
  }

  /** One job: the operator's checks, then the episode, run again after a dropped link. */
  private async runJob(job: EpisodeJob, index: number, total: number): Promise<EpisodeResult> {
    const candidate = job.candidate ?? -1;
    const key = JSON.stringify(job.policy);
    const operator = this.options.operator;
    const link = this.runner.link;
    let plan: EpisodePlan | undefined;
    if (operator) {
      const gate = await this.simGate(job, key, candidate);
      if (gate !== undefined) return failed(job, `The sim gate kept this candidate off the robot: ${gate}.`);
      const previous = this.runs.get(key) ?? 0;
      const reducedSpeed = previous < (this.options.reducedRuns ?? 2) ? link.robot.safety.reduced_speed : undefined;
      plan = { job, candidate, index, total, backend: link.backend, reducedSpeed, simGate: 'passed', manualReset: link.backend !== 'sim' && !link.robot.ros.reset_service };
      const answer = await operator.confirm(plan);
      this.event('operator', `Operator answered ${answer} for candidate ${candidate}, seed ${job.seed}.`, candidate, { answer, seed: job.seed, reducedSpeed });
      if (answer === 'stop') {
        this.drain();
        return cancelled(job);
      }
      if (answer === 'skip') return failed(job, 'The operator skipped this episode.');
      if (plan.manualReset) await operator.sceneReset(plan);
      link.limitToolSpeed(reducedSpeed);
      if (reducedSpeed !== undefined) this.event('reduced-speed', `Candidate ${candidate}, seed ${job.seed}: tool-point speed capped at ${reducedSpeed} m/s (run ${previous + 1}).`, candidate);
    }
    const tries = this.options.tries ?? 3;
    const started = performance.now();
    for (let attempt = 1; ; attempt++) {
      const disarm = operator?.armEstop((reason) => void link.estop(reason));
      try {
        // A robot link refuses a perturbation (its differences are its own); the sim takes it.
        const frames = this.liveFrames(job, candidate);
        const run = await this.runner.run(job.policy, job.seed, frames?.tick, job.perturbation);
        // The throttle may have skipped the last tick: a viewer must still see where the robot ended.
        frames?.last();
        this.runs.set(key, (this.runs.get(key) ?? 0) + 1);
        const { success, score, outcome, terms, metrics, trace, wallTime } = run;
        if (!Number.isFinite(score)) return failed(job, `The episode scored ${score}, so it counts as a crash.`, wallTime);
        return { ok: true, job, worker: 0, seed: job.seed, success, score, outcome, terms, metrics, trace, wallTime };
      } catch (err) {
        const wallTime = (performance.now() - started) / 1000;
        if (err instanceof EmergencyStopError) {
          this.event('estop', `E-stop during candidate ${candidate}, seed ${job.seed}: ${err.reason}.`, candidate);
          return failed(job, err.message, wallTime);
        }
        if (!(err instanceof LinkDroppedError)) return failed(job, (err as Error)?.message ?? String(err), wallTime);
        const safety = safetyOf(link.trace());
        const held = safety?.watchdog ? ` The watchdog held the robot ${safety.watchdog} time(s).` : '';
        this.event('link-dropped', `Seed ${job.seed} of candidate ${candidate} was cut off (try ${attempt} of ${tries}): ${err.reason}.${held}`, candidate, { seed: job.seed, attempt });
        if (attempt >= tries || this.draining) return { ok: false, job, worker: 0, seed: job.seed, reason: `${err.message}.${held}`, aborted: true, wallTime };
      } finally {
        disarm?.();
        link.limitToolSpeed(undefined);
      }
    }
  }

  /** The robot's state as live frames, throttled; undefined when nobody watches. */
  private liveFrames(job: EpisodeJob, candidate: number): FrameThrottle | undefined {
    const live = this.options.live;
    if (!live) return undefined;
    return throttledFrames(live.fps ?? 30, () => {
      const snapshot = this.runner.link.snapshot();
      if (snapshot) live.onFrame({ worker: 0, study: live.study, candidate, seed: job.seed, time: snapshot.time, qpos: snapshot.qpos });
    });
  }

  /** A new candidate's first episode runs in sim first; returns why it breached the envelope, if it did (remembered per candidate). */
  private async simGate(job: EpisodeJob, key: string, candidate: number): Promise<string | undefined> {
    if (this.gate.has(key)) return this.gate.get(key);
    let verdict: string | undefined;
    try {
      verdict = envelopeBreach(await this.sim!.run(job.policy, job.seed));
    } catch (err) {
      verdict = `the sim episode failed (${(err as Error).message})`;
    }
    this.gate.set(key, verdict);
    this.event('sim-gate', `Sim gate for candidate ${candidate} on seed ${job.seed}: ${verdict ?? 'passed, inside the envelope'}.`, candidate, { seed: job.seed, passed: verdict === undefined });
    return verdict;
  }
}

function failed(job: EpisodeJob, reason: string, wallTime = 0): EpisodeResult {
  return { ok: false, job, worker: 0, seed: job.seed, reason, wallTime };
}

function cancelled(job: EpisodeJob): EpisodeResult {
  return failed(job, 'cancelled');
}
