/**
 * Pick-and-place in a sim world: each seed draws the cube (pose, size, mass, friction) and the
 * error of the policy's perception; the zone geom is drawn where the scenario puts it.
 */
import { z } from 'zod';
import type { Pose } from '../../robot/link.ts';
import { applyObjectSetup, type ObjectSetup } from '../../sim/randomize.ts';
import { Rng } from '../../scenario/rng.ts';
import type { World } from '../../sim/world.ts';
import type { TaskScene } from '../task.ts';
import type { PickPlaceSpec, Randomization } from './schema.ts';

/** Draws the object setup of `seed`; every value lies inside its range. */
export function sampleObjectSetup(ranges: Randomization, seed: number): ObjectSetup {
  const rng = new Rng(seed);
  const draw = ([lo, hi]: readonly [number, number]) => rng.uniform(lo, hi);
  return {
    x: draw(ranges.object_x),
    y: draw(ranges.object_y),
    yaw: draw(ranges.object_yaw),
    halfSize: draw(ranges.object_half_size),
    mass: draw(ranges.object_mass),
    friction: draw(ranges.object_friction),
  };
}

/**
 * The error of the object position the policy observes in episode `seed`: the scenario's
 * systematic offset plus a seeded jitter. Drawn from its own stream, so adding perception
 * error to a scenario leaves its object setups as they were.
 */
export function samplePerceptionError(perception: PickPlaceSpec['perception'], seed: number): [number, number] {
  const rng = new Rng(seed ^ 0x5eed_cafe);
  const j = perception.object_jitter;
  return [perception.object_offset[0] + rng.uniform(-j, j), perception.object_offset[1] + rng.uniform(-j, j)];
}

/** The object setup as a trace's meta holds it (JSON), checked before it touches a model. */
const StoredSetup = z.object({
  x: z.number(),
  y: z.number(),
  yaw: z.number(),
  halfSize: z.number().positive(),
  mass: z.number().positive(),
  friction: z.number().positive(),
});

export class PickPlaceScene implements TaskScene {
  private readonly body: number;
  private readonly geom: number;
  private readonly zoneGeom: number;
  private perceptionError: [number, number] = [0, 0];

  constructor(
    private readonly world: World,
    private readonly spec: PickPlaceSpec,
    worldPath: string,
  ) {
    this.body = world.id('body', spec.object);
    this.geom = (world.model.body_geomadr as Int32Array)[this.body];
    const joint = (world.model.body_jntadr as Int32Array)[this.body];
    if (joint < 0 || (world.model.jnt_type as Int32Array)[joint] !== world.mj.mjtJoint.mjJNT_FREE.value) {
      throw new Error(`Body '${spec.object}' in ${worldPath} needs a free joint to be picked; add <freejoint/> to it.`);
    }
    this.zoneGeom = spec.zone.geom ? world.id('geom', spec.zone.geom) : -1;
  }

  reset(seed: number): Record<string, unknown> {
    const { spec } = this;
    const setup = sampleObjectSetup(spec.randomization, seed);
    applyObjectSetup(this.world, this.body, setup);
    this.perceptionError = samplePerceptionError(spec.perception, seed);
    if (this.zoneGeom >= 0) this.world.placeFlatGeom(this.zoneGeom, spec.zone.center, spec.zone.half_size);
    return { object: spec.object, objectSetup: setup, perceptionError: this.perceptionError, zone: spec.zone };
  }

  observe(truth: Readonly<Record<string, Pose>>): Record<string, Pose> {
    const pose = truth[this.spec.object];
    if (!pose) return { ...truth };
    // The policy sees the object through the (miscalibrated) perception; topics keep the truth.
    const [ex, ey] = this.perceptionError;
    return { ...truth, [this.spec.object]: { position: [pose.position[0] + ex, pose.position[1] + ey, pose.position[2]], orientation: pose.orientation } };
  }

  restore(meta: Readonly<Record<string, unknown>>): Record<number, [number, number, number]> {
    if (this.zoneGeom >= 0) this.world.placeFlatGeom(this.zoneGeom, this.spec.zone.center, this.spec.zone.half_size);
    const setup = StoredSetup.safeParse(meta.objectSetup);
    if (!setup.success) return {};
    applyObjectSetup(this.world, this.body, setup.data);
    const h = setup.data.halfSize;
    return { [this.geom]: [h, h, h] };
  }
}
