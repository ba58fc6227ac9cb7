/**
 * The machining task: follow a path on a workpiece (deburr an edge, trace a contour) with the
 * tool pressing on it, its normal force in a band. Scored from where the tool touched and how
 * hard (`/tool_contact`) against the path (`/target_path`); the contact map it derives from those
 * is the image a vision check compares with the path's.
 */
import type { ControllerFamily, Task } from '../task.ts';
import { MACHINING_PARAMS, MachiningController } from './controller.ts';
import { machiningImages } from './images.ts';
import { CORNER, MachiningScene } from './scene.ts';
import { MachiningSpec } from './schema.ts';
import { scoreMachining } from './score.ts';
import { TOOL_CONTACT } from './topics.ts';

const family: ControllerFamily<MachiningSpec, keyof typeof MACHINING_PARAMS> = {
  description: `Approach, tare the wrist sensor, touch, follow the path at a feed rate under admittance force control along the normal, retract; observes '${CORNER}' beside the workpiece.`,
  params: MACHINING_PARAMS,
  create: (context, params, spec) => new MachiningController(context, spec, params),
};

const machining: Task<MachiningSpec> = {
  kind: 'machining',
  description: 'Follow a path on a randomized workpiece (an edge to deburr, a contour to trace) with the tool in contact and its normal force in a band.',
  schema: MachiningSpec,
  objects: (spec) => [spec.workpiece],
  requiredNames: (spec) => [{ kind: 'body', name: spec.workpiece, field: 'task.workpiece' }],
  targets: (spec) => [spec.workpiece],
  scene: (world, spec, scenario) => new MachiningScene(world, spec, scenario),
  controllers: { machining: family },
  score: (trace, spec, scenario) => scoreMachining(trace, spec, scenario.episode.duration),
  images: (trace, spec) => machiningImages(trace, spec),
  plots: (spec) => [
    {
      title: 'tool normal force',
      series: [{ topic: TOOL_CONTACT.name, field: 'normal_force', label: 'normal force', unit: 'N' }],
      band: [spec.force.band[0], spec.force.band[1]],
    },
  ],
};

export default machining;
