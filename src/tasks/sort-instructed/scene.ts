/**
 * Instructed sorting in a sim world: each seed's draw sets the cubes (size, mass, friction, pose)
 * and moves the zone geoms, and the brief tells the policy the instruction, each cube's colour and
 * size, and each zone's colour, centre and size.
 */
import { z } from 'zod';
import type { Pose, TaskBrief } from '../../robot/link.ts';
import { applyObjectSetup } from '../../sim/randomize.ts';
import type { World } from '../../sim/world.ts';
import type { TaskScene } from '../task.ts';
import { drawEpisode, type EpisodeDraw } from './draw.ts';
import type { SortInstructedSpec } from './schema.ts';

/** The cube sizes and zone centres as a trace's meta holds them, checked before they touch a model. */
const StoredDraw = z.object({
  cubes: z.array(z.object({ name: z.string(), halfSize: z.number().positive(), mass: z.number().positive(), friction: z.number().positive(), x: z.number(), y: z.number(), yaw: z.number() })),
  zones: z.array(z.object({ name: z.string(), x: z.number(), y: z.number() })),
});

export class SortInstructedScene implements TaskScene {
  private readonly cubes: { name: string; body: number; geom: number; qpos: number }[];
  private readonly zoneGeoms: Map<string, number>;
  private draw: EpisodeDraw | undefined;

  constructor(
    private readonly world: World,
    private readonly spec: SortInstructedSpec,
    worldPath: string,
  ) {
    const { model } = world;
    this.cubes = Object.keys(spec.cubes).map((name) => {
      const body = world.id('body', name);
      const joint = (model.body_jntadr as Int32Array)[body];
      if (joint < 0 || (model.jnt_type as Int32Array)[joint] !== world.mj.mjtJoint.mjJNT_FREE.value) {
        throw new Error(`Cube '${name}' in ${worldPath} needs a free joint to be picked; add <freejoint/> to its body.`);
      }
      return { name, body, geom: (model.body_geomadr as Int32Array)[body], qpos: (model.jnt_qposadr as Int32Array)[joint] };
    });
    this.zoneGeoms = new Map(Object.entries(spec.zones).flatMap(([name, zone]) => (zone.geom ? [[name, world.id('geom', zone.geom)] as const] : [])));
    // Fails now, naming the area, if the cubes or zones cannot be spread as the scenario asks.
    drawEpisode(spec, 0);
  }

  reset(seed: number): Record<string, unknown> {
    const draw = drawEpisode(this.spec, seed);
    this.apply(draw.cubes, draw.zones);
    this.draw = draw;
    return { draw: { cubes: draw.cubes, zones: draw.zones }, instruction: draw.instruction };
  }

  brief(): TaskBrief {
    const draw = this.draw;
    if (!draw) throw new Error('The scene was asked for its brief before its first reset.');
    const [hx, hy] = this.spec.zone_half_size;
    return {
      instruction: draw.instruction.text,
      objects: Object.fromEntries(draw.cubes.map((c) => [c.name, { colour: c.colour, size: 2 * c.halfSize }])),
      places: Object.fromEntries(draw.zones.map((z) => [z.name, { colour: z.colour, center: [z.x, z.y], half_size: [hx, hy] }])),
      robot_base: [...this.spec.robot_base],
    };
  }

  observe(truth: Readonly<Record<string, Pose>>): Record<string, Pose> {
    return { ...truth };
  }

  restore(meta: Readonly<Record<string, unknown>>): Record<number, [number, number, number]> {
    const stored = StoredDraw.safeParse(meta.draw);
    if (!stored.success) return {};
    const cubes = stored.data.cubes.filter((c) => this.cubes.some((k) => k.name === c.name));
    this.apply(cubes, stored.data.zones);
    return Object.fromEntries(cubes.map((c) => [this.cubes.find((k) => k.name === c.name)!.geom, [c.halfSize, c.halfSize, c.halfSize]]));
  }

  /** Sizes, masses and poses of the cubes, and the zones where the draw puts them. */
  private apply(cubes: readonly z.infer<typeof StoredDraw>['cubes'][number][], zones: readonly { name: string; x: number; y: number }[]): void {
    const [hx, hy] = this.spec.zone_half_size;
    for (const zone of zones) {
      const geom = this.zoneGeoms.get(zone.name);
      if (geom !== undefined) this.world.placeFlatGeom(geom, [zone.x, zone.y], [hx, hy]);
    }
    for (const cube of cubes) {
      const body = this.cubes.find((k) => k.name === cube.name)!.body;
      applyObjectSetup(this.world, body, { x: cube.x, y: cube.y, yaw: cube.yaw, halfSize: cube.halfSize, mass: cube.mass, friction: cube.friction });
    }
    // Each setup recomputes the model's constants, which puts every other free body back at its
    // model pose: set all the poses again once the last one is done.
    const qpos = this.world.data.qpos as Float64Array;
    for (const cube of cubes) {
      const { qpos: adr } = this.cubes.find((k) => k.name === cube.name)!;
      qpos.set([cube.x, cube.y, cube.halfSize, Math.cos(cube.yaw / 2), 0, 0, Math.sin(cube.yaw / 2)], adr);
    }
  }
}
