/** Builds a runnable policy from a policy file. */
import { PICK_PLACE_PARAMS, PickPlaceController, type PickPlaceParams } from './pick-place.ts';
import type { Policy, PolicyContext, PolicyFile } from './policy.ts';

export function createPolicy(file: PolicyFile, context: PolicyContext): Policy {
  const missing = Object.keys(PICK_PLACE_PARAMS).filter((name) => !(name in file.params));
  if (missing.length) {
    throw new Error(
      `The pick_place controller needs parameters ${missing.join(', ')}; add them to scenario ${context.scenario.file} (policy.params).`,
    );
  }
  return new PickPlaceController(context, file.params as PickPlaceParams);
}
