/**
 * The pick-and-place skill as primitives for code policies (`arbor.skill` in the sandbox): each
 * phase of the controller, one control tick at a time, with whatever parameters the code passes.
 * Phases called in order with the same parameters run exactly as the `params` controller does.
 * Its plan language (the steps a prompt policy's planner may write) is declared here too.
 */
import type { PolicyContext } from '../../policy/policy.ts';
import type { Action, Observation } from '../../robot/link.ts';
import type { PlanStepDone, PlanStepSpec, SkillTarget, TaskSkill } from '../task.ts';
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

/** Gripper opening (m) under which closed fingers hold nothing. */
const EMPTY_WIDTH = 0.005;
/** Why a pick failed when they do. */
const CLOSED_ON_NOTHING = 'the gripper closed on nothing';

/** The two gripper steps share their line in the plan language's text. */
const GRIPPER_DOC = 'open or close the gripper';

/**
 * The skill's plan language: what a planner may ask of it, and how each step runs on the phases
 * above (picking is the first four, placing the last four). After a pick the gripper must hold
 * something; after a place the cube must lie inside the place.
 */
export const PLAN_STEPS = {
  pick: {
    doc: 'pick up an object (the hand must be empty)',
    args: { object: 'object' },
    phases: ['approach', 'descend', 'grasp', 'lift'],
    hand: { change: 'take', verb: 'picks' },
    check: { doc: CLOSED_ON_NOTHING, failure: ({ observation }) => (observation.gripperWidth < EMPTY_WIDTH ? CLOSED_ON_NOTHING : undefined) },
  },
  place: {
    doc: 'put the held object down inside a place (zone)',
    args: { at: 'place' },
    phases: ['transport', 'place', 'release', 'retreat'],
    hand: { change: 'put', verb: 'places' },
    check: { doc: 'a cube landed outside its place', failure: outsidePlace },
  },
  move: { doc: 'carry the hand to above (X, Y), in metres, world frame', args: { to: 'point' }, phases: ['transport'] },
  open: { doc: GRIPPER_DOC, args: {}, phases: ['release'], hand: { change: 'release' } },
  close: { doc: GRIPPER_DOC, args: {}, phases: ['grasp'] },
} as const satisfies Record<string, PlanStepSpec & { phases: readonly (keyof typeof PHASE_DOCS)[] }>;

/** Why a place failed: the object it held came to rest outside the place (its centre beyond the half extents). */
function outsidePlace({ observation, brief, aim, held }: PlanStepDone): string | undefined {
  const pose = held !== undefined ? observation.objects[held] : undefined;
  if (!pose || aim.place === undefined) return undefined;
  const place = brief.places[aim.place];
  const [x, y] = pose.position;
  if (Math.abs(x - place.center[0]) > place.half_size[0] || Math.abs(y - place.center[1]) > place.half_size[1]) {
    return `${held} ended at (${x.toFixed(3)}, ${y.toFixed(3)}) m, outside ${aim.place}`;
  }
  return undefined;
}

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
