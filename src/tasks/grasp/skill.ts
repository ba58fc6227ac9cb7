/**
 * The pick-and-place skill as primitives for code policies (`arbor.skill` in the sandbox): each
 * phase of the controller, one control tick at a time, with whatever parameters the code passes.
 * Phases called in order with the same parameters run exactly as the `params` controller does.
 */
import type { PolicyContext } from '../../policy/policy.ts';
import type { Action, Observation } from '../../robot/link.ts';
import type { PlanSkill, SkillTarget, TaskSkill } from '../task.ts';
import { PickPlaceController, type PickPlaceParams, type SkillAim } from './controller.ts';

/** What each phase does, for the helper API's documentation. */
export const PHASE_DOCS = {
  approach: 'move above the observed cube (plus grasp_offset_x/y) at approach_height, gripper open, wrist turned to the cube',
  descend: 'go down to grasp_depth below the cube top where approach ended',
  grasp: 'close at close_speed until both pads touch, squeeze, wait grasp_wait',
  lift: 'rise to lift_height at transport_speed',
  transport: 'carry to above the zone centre at lift_height',
  place: 'lower until the cube bottom is place_height above the table',
  release: 'open the gripper and wait release_wait',
  retreat: 'rise approach_height above the release point',
  done: 'hold still',
} as const;

/** How a planner's steps run on these phases: picking is the first four, placing the last four. */
export const PLAN_STEPS = {
  pick: ['approach', 'descend', 'grasp', 'lift'],
  place: ['transport', 'place', 'release', 'retreat'],
  move: ['transport'],
  open: ['release'],
  close: ['grasp'],
} as const satisfies Record<Exclude<PlanSkill, 'refuse'>, readonly (keyof typeof PHASE_DOCS)[]>;

/** The phases that put the open fingers around the cube (identify's close-on-the-object test closes them there). */
export const REACH_PHASES = ['approach', 'descend'] as const satisfies readonly (keyof typeof PHASE_DOCS)[];

export class PickPlaceSkill implements TaskSkill<keyof PickPlaceParams> {
  private controller: PickPlaceController | undefined;

  constructor(
    private readonly context: PolicyContext,
    private readonly aim: SkillAim,
  ) {}

  reset(observation: Observation, params: Readonly<PickPlaceParams>): void {
    this.controller = new PickPlaceController(this.context, this.aim, { ...params });
    this.controller.reset(observation);
  }

  step(phase: string, observation: Observation, params: Readonly<PickPlaceParams>, target?: SkillTarget): { action: Action; done: boolean } {
    if (!this.controller) throw new Error('arbor.skill.step() was called before the episode started; call it from act().');
    return this.controller.step(phase, observation, { ...params }, target);
  }
}
