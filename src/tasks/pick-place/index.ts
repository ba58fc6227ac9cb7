/**
 * The pick-and-place task: pick a randomized cube off the table and leave it released and
 * resting inside the target zone. Scored from the object's pose, the gripper and the contacts.
 */
import type { ControllerFamily, Task } from '../task.ts';
import { PICK_PLACE_PARAMS, PickPlaceController, type SkillAim } from '../grasp/controller.ts';
import { PHASE_DOCS, PickPlaceSkill, REACH_PHASES } from '../grasp/skill.ts';
import { summarizePickPlace } from './summary.ts';
import { PickPlaceScene } from './scene.ts';
import { PickPlaceSpec } from './schema.ts';
import { scorePickPlace } from './score.ts';

const family: ControllerFamily<PickPlaceSpec, keyof typeof PICK_PLACE_PARAMS> = {
  description: 'A skill state machine: approach, descend, grasp, lift, transport, place, release, retreat, with one IK step per tick.',
  params: PICK_PLACE_PARAMS,
  create: (context, params, spec) => new PickPlaceController(context, aimOf(spec), params),
  skill: { phases: PHASE_DOCS, reach: REACH_PHASES, create: (context, spec) => new PickPlaceSkill(context, aimOf(spec)) },
};

const pickPlace: Task<PickPlaceSpec> = {
  kind: 'pick_place',
  description: 'Pick a randomized cube off the table with a parallel gripper and leave it released and resting inside the target zone.',
  schema: PickPlaceSpec,
  hidden: ['perception'],
  objects: (spec) => [spec.object],
  requiredNames: (spec) => [
    { kind: 'body', name: spec.object, field: 'task.object' },
    ...(spec.zone.geom ? [{ kind: 'geom' as const, name: spec.zone.geom, field: 'task.zone.geom' }] : []),
  ],
  targets: (spec) => (spec.zone.geom ? [spec.zone.geom] : []),
  scene: (world, spec, scenario) => new PickPlaceScene(world, spec, scenario.worldPath),
  controllers: { pick_place: family },
  score: (trace, spec, scenario) => scorePickPlace(trace, spec, scenario.episode.duration),
  summarize: (trace, spec, scenario) => summarizePickPlace(trace, spec, scenario.episode.duration),
};

/** The skill's aim in a pick-and-place scenario: its object, and the zone's centre. */
function aimOf(spec: PickPlaceSpec): SkillAim {
  return { object: spec.object, point: spec.zone.center };
}

export default pickPlace;
