/**
 * Instructed sorting: cubes of different colours and sizes, coloured zones, and an instruction in
 * words drawn per seed ("put the largest cube in the blue zone"), some of them ambiguous or
 * impossible on purpose, where the right answer is to refuse. Made for prompt policies (a
 * language planner whose plan the pick-and-place skill carries out); scored on which cube ended
 * where, or on a right refusal, and on what planning cost.
 */
import type { ControllerFamily, Task } from '../task.ts';
import { PICK_PLACE_PARAMS } from '../grasp/controller.ts';
import { PHASE_DOCS, PLAN_STEPS, PickPlaceSkill, REACH_PHASES } from '../grasp/skill.ts';
import { FirstCubeController } from './controller.ts';
import { SortInstructedScene } from './scene.ts';
import { SortInstructedSpec } from './schema.ts';
import { scoreSortInstructed } from './score.ts';
import { summarizeSortInstructed } from './summary.ts';

const sort: ControllerFamily<SortInstructedSpec, keyof typeof PICK_PLACE_PARAMS> = {
  description: 'The pick-and-place skill (approach, descend, grasp, lift, transport, place, release, retreat); without a planner it moves the first cube into the first zone.',
  params: PICK_PLACE_PARAMS,
  create: (context, params, spec) => new FirstCubeController(context, spec, params),
  skill: {
    phases: PHASE_DOCS,
    steps: PLAN_STEPS,
    reach: REACH_PHASES,
    create: (context, spec) => {
      const { x, y } = spec.randomization.cube_area;
      return new PickPlaceSkill(context, { object: Object.keys(spec.cubes)[0], point: [(x[0] + x[1]) / 2, (y[0] + y[1]) / 2] });
    },
  },
};

const sortInstructed: Task<SortInstructedSpec> = {
  kind: 'sort_instructed',
  description:
    'Carry out an instruction in words about cubes of different colours and sizes and coloured zones on a table ' +
    '(move a cube or several into a zone), or refuse it when it is ambiguous or impossible.',
  schema: SortInstructedSpec,
  objects: (spec) => Object.keys(spec.cubes),
  requiredNames: (spec) => [
    ...Object.keys(spec.cubes).map((name) => ({ kind: 'body' as const, name, field: `task.cubes.${name}` })),
    ...Object.entries(spec.zones).flatMap(([name, zone]) => (zone.geom ? [{ kind: 'geom' as const, name: zone.geom, field: `task.zones.${name}.geom` }] : [])),
  ],
  targets: (spec) => Object.values(spec.zones).flatMap((zone) => (zone.geom ? [zone.geom] : [])),
  scene: (world, spec, scenario) => new SortInstructedScene(world, spec, scenario.worldPath),
  controllers: { sort },
  score: (trace, spec) => scoreSortInstructed(trace, spec),
  summarize: (trace, spec) => summarizeSortInstructed(trace, spec),
};

export default sortInstructed;
