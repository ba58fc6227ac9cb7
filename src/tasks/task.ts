/**
 * What a task kind brings to arbor: the `task:` section of its scenarios, how it sets up and
 * randomizes a sim world, which objects it tracks, the controller families a `params` policy can
 * tune, and the scorer. Everything outside `src/tasks/<kind>/` works through this interface and
 * the task-neutral `Score`, so a new task is a new folder and nothing else.
 */
import { z } from 'zod';
import type { Policy, PolicyContext } from '../policy/policy.ts';
import type { Action, Observation, Pose, TaskBrief } from '../robot/link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { World } from '../sim/world.ts';
import type { ImageSeries, Trace, TraceRecorder } from '../trace/trace.ts';

/** A scored episode, the same shape for every task. Higher is better. */
export interface Score {
  /** The task was done. */
  success: boolean;
  /** Score in [0, 1] where the task can bound it; higher is better. */
  score: number;
  /** How the episode ended, one word (`success`, `drop`, `timeout`, ...). */
  outcome: string;
  /** Each score term before weighting, by name, in [0, 1] where possible. */
  terms: Record<string, number>;
  /** The measurements behind the score, by name. */
  metrics: Record<string, number | string | boolean>;
}

/**
 * A controller family a `params` policy tunes: its parameter names and how to build it. `Spec` is
 * its task's parsed `task:` section and `Name` its parameter names, so a family reads both typed.
 */
export interface ControllerFamily<Spec extends TaskSpec = TaskSpec, Name extends string = string> {
  /** One line on what the controller does. */
  description: string;
  /**
   * Every parameter the controller reads, with what it does and its unit. A scenario gives each
   * one a range and a default (`policy.params`), and may give no others: the descriptions live here
   * only.
   */
  params: Readonly<Record<Name, string>>;
  /** Builds the controller for one episode of a scenario whose task section is `spec`. `params` holds exactly the names above. */
  create(context: PolicyContext, params: Readonly<Record<Name, number>>, spec: Spec): Policy;
  /** The controller's phases as primitives a code policy can sequence itself (optional). */
  skill?: SkillPrimitives<Spec, Name>;
}

/**
 * A controller's phases, callable one control tick at a time: the primitives of the helper API of
 * code policies (`arbor.skill`). Phases called in their usual order behave as the controller does.
 */
export interface SkillPrimitives<Spec extends TaskSpec = TaskSpec, Name extends string = string> {
  /** Phase names in their usual order, each with what it does. */
  readonly phases: Readonly<Record<string, string>>;
  /** The skill's hold on one episode of a scenario whose task section is `spec`. */
  create(context: PolicyContext, spec: Spec): TaskSkill<Name>;
  /**
   * The skill's plan language (optional): the steps a planner may write, by name, each with its
   * arguments and the phases it runs. A prompt policy can plan only on a skill that has this; the
   * planner's schema, the text the model reads and the checks are built from it
   * (src/policy/prompt-plan.ts).
   */
  readonly steps?: PlanLanguage;
  /**
   * The phases that bring the open gripper around the task's object, ready to close, in order
   * (optional): what `arbor identify`'s close-on-the-object test runs before it closes.
   */
  readonly reach?: readonly string[];
}

/** A skill's plan language: its steps by the name a plan gives them (`"skill": NAME`), in the order the model reads them. */
export type PlanLanguage = Readonly<Record<string, PlanStepSpec>>;

/**
 * What a plan step's argument names: an object the scene holds (`NAME`), a place it has
 * (`PLACE`), or a point [x, y] in metres, world frame (`[X, Y]`). Each kind is checked against
 * the scene and the robot's workspace before anything moves.
 */
export type PlanArgKind = 'object' | 'place' | 'point';

/** What a step aims at: its arguments' values by kind. */
export interface PlanAim {
  /** The object it names. */
  object?: string;
  /** The place it names. */
  place?: string;
  /** The point it names [x, y] (m, world). */
  point?: readonly [number, number];
}

/**
 * How a step changes what the hand holds: `take` holds the object it names afterwards and needs an
 * empty hand; `put` leaves the hand empty and needs something in it; `release` leaves it empty.
 * `verb` (third person) names a step that takes or puts in the message when the hand is not as it needs.
 */
export type PlanHand = { change: 'take' | 'put'; verb: string } | { change: 'release' };

/** A finished step, as its check sees it. */
export interface PlanStepDone {
  /** The observation when its last phase finished. */
  observation: Observation;
  /** The episode's brief (the scene's objects and places). */
  brief: TaskBrief;
  /** What the step aimed at. */
  aim: PlanAim;
  /** The object the hand held when the step began, as far as the steps tell. */
  held: string | undefined;
}

/** One step of a skill's plan language. */
export interface PlanStepSpec {
  /** One line on what it does, for the model; steps with the same line share it (`{"skill": "a"} / {"skill": "b"}   line`). */
  doc: string;
  /** Its arguments by their key in the step's JSON, each with its kind, in order; at most one of each kind ({} for none). */
  args: Readonly<Record<string, PlanArgKind>>;
  /** The skill's phases it runs, in order. */
  phases: readonly string[];
  /** How it changes what the hand holds (absent: it does not). */
  hand?: PlanHand;
  /** What is checked once it has run (absent: nothing). */
  check?: {
    /** The failure it catches, in a few words, for the people and LLM researchers who read the guide: `the gripper closed on nothing`. */
    doc: string;
    /** Why the step failed, from what is observed when it finished; undefined when it did its job. */
    failure(done: PlanStepDone): string | undefined;
  };
}

/** What a phase aims at when a planner chooses; absent fields keep what the skill aimed at before. */
export interface SkillTarget {
  /** The tracked object to take from now on. */
  object?: string;
  /** The point [x, y] (m, world) to carry to and set down at from now on. */
  point?: readonly [number, number];
}

/** The skill primitives during one episode; `Name` are its controller's parameter names. */
export interface TaskSkill<Name extends string = string> {
  /** Starts an episode from its first observation, with a value for every controller parameter. */
  reset(observation: Observation, params: Readonly<Record<Name, number>>): void;
  /** One control tick of `phase` (aimed at `target`, if given): the action to send, and whether the phase is finished. */
  step(phase: string, observation: Observation, params: Readonly<Record<Name, number>>, target?: SkillTarget): { action: Action; done: boolean };
}

/** A controller phase change as an episode records it in the trace meta (`meta.phases`). */
const PhaseMark = z.object({
  /** Episode time of the change (s). */
  t: z.number(),
  /** The phase entered. */
  phase: z.string(),
  /** Where the tool point was then (m, world), from the measured joints. */
  tool: z.tuple([z.number(), z.number(), z.number()]),
});
export type PhaseMark = z.infer<typeof PhaseMark>;

/** The phase marks the episode runner keeps in a trace's meta, read back through zod (none when absent or unreadable). */
export function phaseMarksOf(trace: Pick<Trace, 'meta'>): PhaseMark[] {
  return z.array(PhaseMark).safeParse(trace.meta.phases).data ?? [];
}

/** The task's hold on one sim world: made once per world, reset once per episode. */
export interface TaskScene {
  /**
   * Draws the episode of `seed` into the world: randomizes what the task randomizes and moves
   * what the scenario places. The world's state was just reset; the robot is set after this, so
   * this may reset the state again (e.g. `mj_setConst`). Returns facts to keep in the trace meta.
   */
  reset(seed: number): Record<string, unknown>;
  /**
   * The object poses the policy observes, given the true ones (a task with perception error adds
   * it here; topics keep the truth).
   */
  observe(truth: Readonly<Record<string, Pose>>): Record<string, Pose>;
  /**
   * What the policy is told at the start of the episode drawn by the last `reset` (optional): an
   * instruction and facts about the scene. It reaches the policy in the first observation.
   */
  brief?(): TaskBrief;
  /** Records the task's own topics for this control tick (optional). */
  record?(time: number, recorder: TraceRecorder): void;
  /**
   * Puts the world's model back in the configuration of a recorded episode, from its trace meta
   * (what `reset` returned), for replay; returns the geoms whose size differs from the model's.
   */
  restore?(meta: Readonly<Record<string, unknown>>): Record<number, [number, number, number]>;
}

/** Everything arbor knows about one task kind. `Spec` is the parsed `task:` section. */
export interface Task<Spec extends TaskSpec = TaskSpec> {
  /** The `task.kind` value scenarios use, e.g. `pick_place`. */
  readonly kind: string;
  /** One line on the task, for people and LLM researchers. */
  readonly description: string;
  /** zod schema of the scenario's `task:` section (with `kind`), defaults filled in. */
  readonly schema: z.ZodType<Spec, unknown>;
  /**
   * Keys of the `task:` section that model what a policy cannot know (a calibration error): LLM
   * researchers are not shown them, so they learn them from the evidence as a person would.
   */
  readonly hidden?: readonly string[];
  /** The bodies whose poses the task's policies observe and its scorer reads (`/object_pose/<name>`). */
  objects(spec: Spec): string[];
  /**
   * Names the task needs in the world (bodies, geoms, sites), checked by `arbor check` and when a
   * world is loaded; a missing one is reported with what exists.
   */
  requiredNames?(spec: Spec): { kind: 'body' | 'geom' | 'site'; name: string; field: string }[];
  /** Geoms that mark where the task wants things (zones, paths): the viewer outlines them. */
  targets?(spec: Spec): string[];
  /** Sets up a loaded sim world for this task (throws naming the fix when the world does not fit). */
  scene(world: World, spec: Spec, scenario: LoadedScenario): TaskScene;
  /** Controller families by name; `policy.controller` picks one. */
  readonly controllers: Readonly<Record<string, ControllerFamily<Spec>>>;
  /** Scores one episode from its topics alone: the fixed harness researchers never change. */
  score(trace: Trace, spec: Spec, scenario: LoadedScenario): Score;
  /**
   * A few lines on what happened in an episode, for an LLM researcher reading why it failed: which
   * phase failed, contact and gripper events, the object's trajectory (optional).
   */
  summarize?(trace: Trace, spec: Spec, scenario: LoadedScenario): string[];
  /**
   * Images the task derives from an episode's topics (e.g. where the tool touched, and where it
   * should have), added to the trace before scoring: vision checks and the viewer read them like
   * camera images. From topics only, so they serve a physical robot's episodes too.
   */
  images?(trace: Trace, spec: Spec, scenario: LoadedScenario): ImageSeries[];
  /** Plots of the task's own topics the viewer draws beside a replay (e.g. a force with its band). */
  plots?(spec: Spec): TaskPlot[];
}

/** One plotted field of a task's topic. */
export interface TaskPlotSeries {
  /** The topic, e.g. `/tool_contact`. */
  topic: string;
  /** The field of that topic. */
  field: string;
  /** Legend label. */
  label: string;
  /** Unit shown on the axis. */
  unit: string;
}

/** A plot of some of the task's topic fields, with an optional band where the values should stay. */
export interface TaskPlot {
  /** Title over the plot. */
  title: string;
  /** The plotted fields. */
  series: TaskPlotSeries[];
  /** The values' target band [low, high], drawn as two lines (absent: none). */
  band?: [number, number];
}

/** The smallest shape of any `task:` section. */
export interface TaskSpec {
  /** The task kind. */
  kind: string;
}
