/**
 * Policies: what turns observations into actions, as tasks implement them (their controllers) and
 * episodes run them. The policy files that choose one (params, code, prompt) and their validation
 * against a scenario are in file.ts.
 */
import { z } from 'zod';
import type { Action, Observation } from '../robot/link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { Kinematics } from '../sim/kinematics.ts';

export interface Policy {
  /** Called with the first observation of an episode (a planner may think here). */
  reset(observation: Observation): void | Promise<void>;
  /** The action for this control tick. */
  act(observation: Observation): Action | Promise<Action>;
  /** The controller's current phase, for traces and people. */
  readonly phase: string;
  /** True once the policy has nothing more to do. */
  readonly done: boolean;
  /**
   * Measurements of the policy itself, merged into the episode's metrics and kept in the trace
   * meta (`meta.policy.metrics`) for the scorer. A policy that calls models reports `cost_usd`
   * (dollars spent; the study adds them up), `planner_usd` (what its calls cost at list price,
   * cache hits included: the price of the policy) and `planner_s` (seconds spent planning).
   */
  metrics?(): Record<string, number>;
  /** What the policy decided about the episode (a plan, a refusal, why it could not act), kept in the trace meta (`meta.policy.decision`). */
  decision?(): PolicyDecision;
  /** Frees what the policy holds (a sandbox); called once the episode ends, whatever happened. */
  dispose?(): void;
}

/**
 * What a policy decided about its episode, as the trace meta keeps it for the scorer: the same on
 * every backend, since the episode runner writes it, not the link.
 */
export const PolicyDecision = z.object({
  /** What the policy set out to do (a planner's plan, as JSON). */
  plan: z.unknown().optional(),
  /** Set when the policy declined the task on purpose: its reason. */
  refused: z.string().optional(),
  /** Set when the policy could not act at all (a malformed or unsafe plan): why. */
  failed: z.string().optional(),
  /** What happened on the way, in order (a failed step, a new plan). */
  notes: z.array(z.string()).default([]),
});
export type PolicyDecision = z.input<typeof PolicyDecision>;

/** A policy's record in a trace's meta (`meta.policy`), read back through zod. */
export const PolicyRecord = z.object({
  /** What it decided. */
  decision: PolicyDecision.default({ notes: [] }),
  /** Its metrics. */
  metrics: z.record(z.string(), z.number()).default({}),
});
export type PolicyRecord = z.infer<typeof PolicyRecord>;

/** What a policy needs besides its parameters. */
export interface PolicyContext {
  /** The scenario (task, robot). */
  scenario: LoadedScenario;
  /** Kinematics of the robot's tool site, for inverse kinematics. */
  kinematics: Kinematics;
  /** Control period in seconds. */
  controlPeriod: number;
  /** A directory the policy may keep a cache in, shared by every episode of one study (absent: no cache). */
  cacheDir?: string;
}
