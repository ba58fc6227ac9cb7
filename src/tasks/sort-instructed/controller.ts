/**
 * The sorting task's own controller for `params` policies: the pick-and-place skill without a
 * planner, which cannot read the instruction, so it moves the first cube into the first zone. The
 * skill's phases are the pick-and-place controller's; a prompt policy aims them step by step.
 */
import type { Policy, PolicyContext } from '../../policy/policy.ts';
import type { Action, Observation } from '../../robot/link.ts';
import { PickPlaceController, type PickPlaceParams } from '../grasp/controller.ts';
import type { SortInstructedSpec } from './schema.ts';

export class FirstCubeController implements Policy {
  private skill: PickPlaceController | undefined;

  constructor(
    private readonly context: PolicyContext,
    private readonly spec: SortInstructedSpec,
    private readonly params: PickPlaceParams,
  ) {}

  get phase(): string {
    return this.skill?.phase ?? 'approach';
  }

  get done(): boolean {
    return this.skill?.done ?? false;
  }

  reset(obs: Observation): void {
    // The zones move every seed: where the first one is, the brief says.
    const zone = Object.keys(this.spec.zones)[0];
    const place = obs.brief?.places[zone];
    if (!place) throw new Error(`The first observation has no brief placing zone '${zone}'; the in-process sim and \`arbor sim-serve\` brief it at reset.`);
    this.skill = new PickPlaceController(this.context, { object: Object.keys(this.spec.cubes)[0], point: place.center }, this.params);
    this.skill.reset(obs);
  }

  act(obs: Observation): Action {
    if (!this.skill) throw new Error('act() was called before reset().');
    return this.skill.act(obs);
  }
}
