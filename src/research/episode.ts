/**
 * One episode, end to end: reset the link with a seed, run the policy at the control rate until
 * the episode's duration, score the recorded topics. An `EpisodeRunner` keeps one world loaded
 * and runs many episodes on it (one per worker thread in a study).
 */
import { createPolicy } from '../policy/create.ts';
import type { PolicyFile } from '../policy/policy.ts';
import { SimLink } from '../robot/sim-link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { scorePickPlace, type EpisodeScore } from '../scoring/pick-place.ts';
import { Kinematics } from '../sim/kinematics.ts';
import type { Trace } from '../trace/trace.ts';

/** A finished episode: its score and its trace. */
export interface EpisodeRun extends EpisodeScore {
  /** The seed the episode ran with. */
  seed: number;
  /** The recorded topics. */
  trace: Trace;
  /** Wall-clock seconds the episode took. */
  wallTime: number;
}

/** Hold still this long after the policy is done, so the object can settle before scoring. */
const SETTLE_AFTER_DONE = 0.5;

export class EpisodeRunner {
  private constructor(
    /** The scenario episodes run in. */
    readonly scenario: LoadedScenario,
    /** The sim link (one MuJoCo world). */
    readonly link: SimLink,
    private readonly kinematics: Kinematics,
  ) {}

  static async create(scenario: LoadedScenario): Promise<EpisodeRunner> {
    const link = await SimLink.create(scenario);
    const world = link.world;
    const kinematics = new Kinematics(
      world,
      scenario.robotConfig.joints.map((j) => j.name),
      world.id('site', scenario.robotConfig.tcp_site),
    );
    return new EpisodeRunner(scenario, link, kinematics);
  }

  /**
   * Runs one episode. `onTick` sees every control tick (for live viewing); it must be cheap.
   * Throws when the policy throws, the sim diverges, or the wall-time limit passes.
   */
  async run(policyFile: PolicyFile, seed: number, onTick?: (phase: string) => void): Promise<EpisodeRun> {
    const { scenario, link } = this;
    const started = performance.now();
    const limitMs = scenario.episode.wall_time_limit * 1000;
    const policy = createPolicy(policyFile, { scenario, kinematics: this.kinematics, controlPeriod: link.controlPeriod });
    let obs = await link.reset(seed);
    policy.reset(obs);
    const ticks = Math.round(scenario.episode.duration / link.controlPeriod);
    let doneAt: number | undefined;
    for (let tick = 0; tick < ticks; tick++) {
      obs = await link.act(policy.act(obs));
      onTick?.(policy.phase);
      if (policy.done) {
        doneAt ??= obs.time;
        if (obs.time - doneAt >= SETTLE_AFTER_DONE) break;
      }
      if ((tick & 31) === 0 && performance.now() - started > limitMs) {
        throw new Error(`The episode ran over its wall-time limit of ${scenario.episode.wall_time_limit} s (seed ${seed}).`);
      }
    }
    const trace = link.trace();
    const scored = scorePickPlace(trace, scenario);
    return { ...scored, seed, trace, wallTime: (performance.now() - started) / 1000 };
  }

  async close(): Promise<void> {
    this.kinematics.dispose();
    await this.link.close();
  }
}
