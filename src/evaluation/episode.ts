/**
 * One episode, end to end: reset the link with a seed, run the policy at the control rate until
 * the episode's duration, add the images the task derives from its topics, score the recorded
 * topics with the task's scorer and join in the scenario's vision checks. An `EpisodeRunner`
 * keeps one link open and runs many episodes on it (one per worker thread in a study). Every
 * episode ends with `stop()`, however it ends.
 */
import { createPolicy } from '../policy/create.ts';
import type { PolicyFile } from '../policy/file.ts';
import { createLink, type Backend, type LinkOptions } from '../robot/links.ts';
import type { SafeLink } from '../robot/safe-link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { withVision } from '../scoring/vision-checks.ts';
import type { PhaseMark, Score, Task } from '../tasks/task.ts';
import { Trace } from '../trace/trace.ts';
import type { Observation } from '../robot/link.ts';
import type { AxisValue } from '../scenario/perturbation.ts';

/** A finished episode: its score and its trace. */
export interface EpisodeRun extends Score {
  /** The seed the episode ran with. */
  seed: number;
  /** The recorded topics. */
  trace: Trace;
  /** Wall-clock seconds the episode took. */
  wallTime: number;
}

/** Hold still this long after the policy is done, so the world can settle before scoring. */
const SETTLE_AFTER_DONE = 0.5;

/** How a runner's policies run. */
export interface RunnerOptions {
  /** A directory policies may keep a cache in, shared by a study's episodes (prompt policies: model replies). */
  cacheDir?: string;
}

export class EpisodeRunner {
  private constructor(
    /** The scenario episodes run in. */
    readonly scenario: LoadedScenario,
    /** The link, inside its safety envelope. */
    readonly link: SafeLink,
    private readonly task: Task,
    private readonly options: RunnerOptions,
  ) {}

  static async create(scenario: LoadedScenario, backend?: Backend, linkOptions?: LinkOptions, options: RunnerOptions = {}): Promise<EpisodeRunner> {
    return new EpisodeRunner(scenario, await createLink(scenario, backend, linkOptions), scenario.taskDef, options);
  }

  /**
   * Runs one episode. `onTick` sees every control tick (for live viewing); it must be cheap.
   * Throws when the policy throws, the sim diverges, the link fails, or the wall-time limit passes.
   */
  async run(policyFile: PolicyFile, seed: number, onTick?: (phase: string) => void, perturbation: readonly AxisValue[] = []): Promise<EpisodeRun> {
    const { scenario, link } = this;
    const started = performance.now();
    const limitMs = scenario.episode.wall_time_limit * 1000;
    const policy = createPolicy(policyFile, { scenario, kinematics: link.kinematics, controlPeriod: link.controlPeriod, cacheDir: this.options.cacheDir });
    // The policy's phase changes go into the trace meta (no topic changes), so the evidence of a
    // failed episode can say which phase failed and where the tool was.
    const phases: PhaseMark[] = [];
    const mark = (obs: Observation) => {
      const last = phases.at(-1);
      if (policy.phase === last?.phase) return;
      const tool = link.kinematics.pose(obs.position).pos;
      const entry: PhaseMark = { t: round(obs.time), phase: policy.phase, tool: [round(tool[0]), round(tool[1]), round(tool[2])] };
      // A phase left in the tick it was entered was never acted in: the later one replaces it.
      if (last && last.t === entry.t) phases[phases.length - 1] = entry;
      else phases.push(entry);
    };
    try {
      link.perturb(perturbation);
      let obs = await link.reset(seed);
      await policy.reset(obs);
      mark(obs);
      const ticks = Math.round(scenario.episode.duration / link.controlPeriod);
      let doneAt: number | undefined;
      for (let tick = 0; tick < ticks; tick++) {
        const action = await policy.act(obs);
        mark(obs);
        obs = await link.act(action);
        onTick?.(policy.phase);
        if (policy.done) {
          doneAt ??= obs.time;
          if (obs.time - doneAt >= SETTLE_AFTER_DONE) break;
        }
        if ((tick & 31) === 0 && performance.now() - started > limitMs) {
          throw new Error(`The episode ran over its wall-time limit of ${scenario.episode.wall_time_limit} s (seed ${seed}).`);
        }
      }
    } finally {
      await link.stop();
      policy.dispose?.();
    }
    const recorded = link.trace();
    // What the policy decided and measured goes into the meta too: a scorer may judge a refusal, or
    // weigh what planning cost.
    const own = policy.metrics?.();
    const decision = policy.decision?.();
    const record = own || decision ? { policy: { metrics: own ?? {}, decision: decision ?? {} } } : {};
    const { trace, scored } = scoreTrace(new Trace(recorded.topics, { ...recorded.meta, phases, ...record }, recorded.images), this.task, scenario);
    const metrics = own ? { ...scored.metrics, ...own } : scored.metrics;
    return { ...scored, metrics, seed, trace, wallTime: (performance.now() - started) / 1000 };
  }

  async close(): Promise<void> {
    await this.link.close();
  }
}

/** Rounds to 0.1 mm or 0.1 ms: enough for a summary, small in the meta. */
function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

/**
 * Scores recorded topics as every episode is scored: the task's images derived from them, the
 * task's scorer, the scenario's vision checks. Returns the score and the trace with those images.
 */
export function scoreTrace(recorded: Trace, task: Task, scenario: LoadedScenario): { trace: Trace; scored: Score } {
  const trace = withTaskImages(recorded, task, scenario);
  return { trace, scored: withVision(task.score(trace, scenario.task, scenario), trace, scenario) };
}

/** The trace with the images its task derives from the topics (none for most tasks). */
export function withTaskImages(trace: Trace, task: Task, scenario: LoadedScenario): Trace {
  const derived = task.images?.(trace, scenario.task, scenario) ?? [];
  if (derived.length === 0) return trace;
  return new Trace(trace.topics, trace.meta, new Map([...trace.images, ...derived.map((image) => [image.name, image] as const)]));
}
