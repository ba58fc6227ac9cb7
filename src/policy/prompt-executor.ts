/**
 * Carries out a checked plan on the task's skill, one control tick at a time: each step runs the
 * phases the skill maps it to (pick: approach … lift), aimed at the step's object or place. After
 * each step it looks at the observation to say whether the step worked (the gripper holds
 * something after a pick; the cube lies inside the place after a place), so the policy can re-plan.
 */
import type { Action, Observation, TaskBrief } from '../robot/link.ts';
import type { PlanSkill, SkillTarget, TaskSkill } from '../tasks/task.ts';
import type { PlanStep } from './prompt-plan.ts';

/** Gripper opening (m) under which closed fingers hold nothing. */
const EMPTY_WIDTH = 0.005;
/** Where in a place a cube may go, as fractions of its half extents; the centre first. */
const SPOTS: readonly [number, number][] = [[0, 0], [0.6, 0.6], [-0.6, -0.6], [0.6, -0.6], [-0.6, 0.6], [0.6, 0], [-0.6, 0], [0, 0.6], [0, -0.6]];
/** A spot this far (m) from every other object is free enough: the centre is kept when it is. */
const CLEARANCE = 0.09;

/** The step being carried out. */
interface Running {
  /** Its number over the episode (1-based, across re-plans). */
  number: number;
  /** The step. */
  step: Exclude<PlanStep, { skill: 'refuse' }>;
  /** Its phases and the one running. */
  phases: readonly string[];
  at: number;
  /** What its phases aim at. */
  target: SkillTarget;
}

export class PlanExecutor {
  private queue: Exclude<PlanStep, { skill: 'refuse' }>[] = [];
  private running: Running | undefined;
  private steps = 0;
  private last: Action | undefined;
  /** The object the hand holds, as far as the steps tell. */
  held: string | undefined;

  constructor(
    private readonly skill: TaskSkill,
    private readonly phasesOf: Readonly<Record<Exclude<PlanSkill, 'refuse'>, readonly string[]>>,
    private readonly brief: TaskBrief,
    private readonly params: Readonly<Record<string, number>>,
  ) {}

  /** Starts the episode's skill from its first observation. */
  start(obs: Observation): void {
    this.skill.reset(obs, this.params);
    this.last = { position: Array.from(obs.position), gripperWidth: obs.gripperWidth };
  }

  /** Follows `steps` from now on (a new plan replaces what was left of the old). */
  follow(steps: readonly PlanStep[]): void {
    this.queue = steps.filter((s): s is Exclude<PlanStep, { skill: 'refuse' }> => s.skill !== 'refuse');
    this.running = undefined;
  }

  /** True once every step is done. */
  get finished(): boolean {
    return this.running === undefined && this.queue.length === 0;
  }

  /** What runs now, for traces and people: `step 2 place/transport`. */
  get phase(): string {
    const r = this.running;
    return r ? `step ${r.number} ${r.step.skill}/${r.phases[r.at]}` : this.finished ? 'done' : 'next step';
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
      this.running = { number: ++this.steps, step, phases: this.phasesOf[step.skill], at: 0, target: this.targetOf(step, obs) };
    }
    const r = this.running;
    const { action, done } = this.skill.step(r.phases[r.at], obs, this.params, r.target);
    this.last = action;
    if (!done || ++r.at < r.phases.length) return { action };
    this.running = undefined;
    const failure = this.check(r, obs);
    if (failure) this.queue = [];
    return failure ? { action, failure } : { action };
  }

  /** What a step's phases aim at, chosen when the step begins. */
  private targetOf(step: Running['step'], obs: Observation): SkillTarget {
    switch (step.skill) {
      case 'pick':
        return { object: step.object };
      case 'place':
        return { point: this.freeSpot(step.at, obs) };
      case 'move':
        return { point: step.to };
      default:
        return {};
    }
  }

  /** Whether a finished step did its job, from the observation; the reason when it did not. */
  private check(r: Running, obs: Observation): string | undefined {
    const { step } = r;
    const name = `step ${r.number} (${step.skill}${step.skill === 'pick' ? ` ${step.object}` : step.skill === 'place' ? ` at ${step.at}` : ''})`;
    if (step.skill === 'pick') {
      if (obs.gripperWidth < EMPTY_WIDTH) return `${name} failed: the gripper closed on nothing`;
      this.held = step.object;
    } else if (step.skill === 'place') {
      const held = this.held;
      this.held = undefined;
      const pose = held !== undefined ? obs.objects[held] : undefined;
      const place = this.brief.places[step.at];
      if (pose && (Math.abs(pose.position[0] - place.center[0]) > place.half_size[0] || Math.abs(pose.position[1] - place.center[1]) > place.half_size[1])) {
        return `${name} failed: ${held} ended at (${pose.position[0].toFixed(3)}, ${pose.position[1].toFixed(3)}) m, outside ${step.at}`;
      }
    } else if (step.skill === 'open') {
      this.held = undefined;
    }
    return undefined;
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
