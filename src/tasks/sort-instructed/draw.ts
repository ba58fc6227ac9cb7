/**
 * An episode of instructed sorting drawn from its seed alone: each cube's size, mass, friction and
 * pose, each zone's centre, and the instruction with what it wants. The sim scene applies the
 * draw; the scorer draws it again from the trace's seed, so the same scorer judges an episode on a
 * physical robot whose operator set the table as the draw says.
 */
import { Rng } from '../../scenario/rng.ts';
import { expectedOutcome, fill, wording, type Expected, type Goal, type Placed } from './instructions.ts';
import type { Area, SortInstructedSpec } from './schema.ts';

/** One cube of an episode. */
export interface CubeDraw extends Placed {
  /** Yaw about z (rad). */
  yaw: number;
  /** Mass (kg). */
  mass: number;
  /** Sliding friction. */
  friction: number;
}

/** An episode's draw. */
export interface EpisodeDraw {
  /** The cubes, in the scenario's order. */
  cubes: CubeDraw[];
  /** The zones, in the scenario's order (halfSize 0: their size is the scenario's). */
  zones: Placed[];
  /** The instruction. */
  instruction: {
    /** Its goal. */
    goal: Goal;
    /** Its wording, filled. */
    text: string;
    /** What it wants. */
    expected: Expected;
  };
}

/** Tries per cube or zone before the area is declared too small for its spacing. */
const PLACEMENT_TRIES = 2000;

/** Draws the episode of `seed`. Throws naming the area when the things do not fit with their spacing. */
export function drawEpisode(spec: SortInstructedSpec, seed: number): EpisodeDraw {
  const r = spec.randomization;
  const cubeRng = new Rng(seed);
  const draw = (range: readonly [number, number]) => cubeRng.uniform(range[0], range[1]);
  const cubePoints = scatter(Object.keys(spec.cubes).length, r.cube_area, r.cube_spacing, cubeRng, 'randomization.cube_area');
  const cubes = Object.entries(spec.cubes).map(([name, cube], i) => ({
    name,
    colour: cube.colour,
    x: cubePoints[i][0],
    y: cubePoints[i][1],
    halfSize: draw(r.cube_half_size),
    yaw: draw(r.cube_yaw),
    mass: draw(r.cube_mass),
    friction: draw(r.cube_friction),
  }));
  // Zones and the instruction from streams of their own: adding a cube moves neither.
  const zonePoints = scatter(Object.keys(spec.zones).length, r.zone_area, r.zone_spacing, new Rng(seed ^ 0x20ae_51de), 'randomization.zone_area');
  const zones = Object.entries(spec.zones).map(([name, zone], i) => ({ name, colour: zone.colour, x: zonePoints[i][0], y: zonePoints[i][1], halfSize: 0 }));
  const wordRng = new Rng(seed ^ 0x1a57_c0de);
  const chosen = spec.instructions[Math.min(spec.instructions.length - 1, Math.floor(wordRng.next() * spec.instructions.length))];
  const filling = fill(chosen.goal, spec, spec.absent_colours, wordRng);
  return {
    cubes,
    zones,
    instruction: { goal: chosen.goal, text: wording(chosen.text, filling), expected: expectedOutcome(chosen.goal, filling, cubes, zones, spec.robot_base) },
  };
}

/** `count` points in `area`, each at least `spacing` from the others. */
function scatter(count: number, area: Area, spacing: number, rng: Rng, field: string): [number, number][] {
  const points: [number, number][] = [];
  for (let i = 0; i < count; i++) {
    let placed = false;
    for (let attempt = 0; attempt < PLACEMENT_TRIES && !placed; attempt++) {
      const p: [number, number] = [rng.uniform(area.x[0], area.x[1]), rng.uniform(area.y[0], area.y[1])];
      if (points.every((q) => Math.hypot(p[0] - q[0], p[1] - q[1]) >= spacing)) {
        points.push(p);
        placed = true;
      }
    }
    if (!placed) throw new Error(`${count} things do not fit ${spacing} m apart in task.${field} (x ${area.x.join('..')}, y ${area.y.join('..')}); widen the area or lower the spacing.`);
  }
  return points;
}
