/**
 * Carries out a checked plan on the task's skill, one control tick at a time: each step runs the
 * phases its declaration lists, aimed at the step's object, place or point. After each step the
 * step's own check (declared by the skill) looks at the observation to say whether it worked, so
 * the policy can re-plan; what the hand holds follows the steps' declared hand changes.
 */
import type { Action, Observation, TaskBrief } from '../robot/link.ts';
import type { PlanAim, PlanLanguage, PlanStepSpec, SkillTarget, TaskSkill } from '../tasks/task.ts';
import { aimOf, namedIn, type PlanStep } from './prompt-plan.ts';

/** Where in a place an object may go, as fractions of its half extents; the centre first. */
const SPOTS: readonly [number, number][] = [[0, 0], [0.6, 0.6], [-0.6, -0.6], [0.6, -0.6], [-0.6, 0.6], [0.6, 0], [-0.6, 0], [0, 0.6], [0, -0.6]];
/** A spot this far (m) from every other object is free enough: the centre is kept when it is. */
const CLEARANCE = 0.09;

/** A step of the plan with its declaration and what it aims at. */
interface Step {
  /** Its name. */
  name: string;
  /** Its declaration in the skill's plan language. */
  spec: PlanStepSpec;
  /** What it aims at. */
  aim: PlanAim;
}

/** The step being carried out. */
interface Running extends Step {
  /** Its number over the episode (1-based, across re-plans). */
  number: number;
  /** The phase running, as an index into `spec.phases`. */
  at: number;
  /** What its phases aim at. */
  target: SkillTarget;
}

export class PlanExecutor {
  private queue: Step[] = [];
  private running: Running | undefined;
  private steps = 0;
  private last: Action | undefined;
  /** The object the hand holds, as far as the steps tell. */
  held: string | undefined;

  constructor(
    private readonly skill: TaskSkill,
    private readonly language: PlanLanguage,
    private readonly brief: TaskBrief,
    private readonly params: Readonly<Record<string, number>>,
  ) {}

  /** Starts the episode's skill from its first observation. */
  start(obs: Observation): void {
    this.skill.reset(obs, this.params);
    this.last = { position: Array.from(obs.position), gripperWidth: obs.gripperWidth };
  }

  /** Follows `steps` from now on (a new plan replaces what was left of the old); steps outside the skill's language (a refusal) are not carried out. */
  follow(steps: readonly PlanStep[]): void {
    this.queue = steps.flatMap((step) => {
      if (!Object.hasOwn(this.language, step.skill)) return [];
      const spec = this.language[step.skill];
      return [{ name: step.skill, spec, aim: aimOf(step, spec) }];
    });
    this.running = undefined;
  }

  /** True once every step is done. */
  get finished(): boolean {
    return this.running === undefined && this.queue.length === 0;
  }

  /** What runs now, for traces and people: `step 2 NAME/PHASE`, the step's name and the phase running. */
  get phase(): string {
    const r = this.running;
    return r ? `step ${r.number} ${r.name}/${r.spec.phases[r.at]}` : this.finished ? 'done' : 'next step';
  }

  /** The last action sent: what holding still means. */
  hold(): Action {
    if (!this.last) throw new Error('The plan executor was asked to hold before it started.');
    return this.last;
  }

  /** One control tick; `failure` says, when a step just ended without doing what it should, what went wrong. */
  tick(obs: Observation): { action: Action; failure?: string } {
    if (!this.running) {
      const step = this.queue.shift();
      if (!step) return { action: this.hold() };
      this.running = { ...step, number: ++this.steps, at: 0, target: this.targetOf(step.aim, obs) };
    }
    const r = this.running;
    const { phases } = r.spec;
    const { action, done } = this.skill.step(phases[r.at], obs, this.params, r.target);
    this.last = action;
    if (!done || ++r.at < phases.length) return { action };
    this.running = undefined;
    const failure = this.check(r, obs);
    if (failure) this.queue = [];
    return failure ? { action, failure } : { action };
  }

  /** What a step's phases aim at, chosen when the step begins: its object, and its place (a free spot in it) or point. */
  private targetOf(aim: PlanAim, obs: Observation): SkillTarget {
    const point = aim.place !== undefined ? this.freeSpot(aim.place, obs) : aim.point;
    return { ...(aim.object !== undefined ? { object: aim.object } : {}), ...(point ? { point } : {}) };
  }

  /** Whether a finished step did its job, by its declared check; the reason when it did not. What the hand holds then follows its hand change. */
  private check(r: Running, obs: Observation): string | undefined {
    const failure = r.spec.check?.failure({ observation: obs, brief: this.brief, aim: r.aim, held: this.held });
    const hand = r.spec.hand;
    // A take that failed holds nothing; the hand was empty before it.
    if (hand) this.held = hand.change === 'take' && failure === undefined ? r.aim.object : undefined;
    return failure === undefined ? undefined : `step ${r.number} (${r.name}${namedIn(r.aim)}) failed: ${failure}`;
  }

  /** Where in a place to put the held object: the centre, or the spot farthest from the objects already there. */
  private freeSpot(place: string, obs: Observation): [number, number] {
    const { center, half_size } = this.brief.places[place];
    const others = Object.entries(obs.objects).filter(([name]) => name !== this.held).map(([, p]) => p.position);
    const clearance = ([x, y]: [number, number]) => Math.min(Infinity, ...others.map((p) => Math.hypot(p[0] - x, p[1] - y)));
    const spots = SPOTS.map(([fx, fy]): [number, number] => [center[0] + fx * half_size[0], center[1] + fy * half_size[1]]);
    if (clearance(spots[0]) >= CLEARANCE) return spots[0];
    return spots.reduce((best, spot) => (clearance(spot) > clearance(best) ? spot : best));
  }
}
