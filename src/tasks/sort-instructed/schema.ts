/**
 * The `task:` section of instructed-sorting scenarios: the cubes (name, colour) and how each seed
 * draws their sizes and places, the zones (name, colour, geom) and where they may lie, the
 * instructions a seed draws from (each a goal with its wording), what counts as success, and how
 * the score weighs success, placement and the planner's cost and latency.
 */
import { z } from 'zod';
import { bounded, namedRecord, Range } from '../../scenario/schema.ts';
import { GOALS, goalProblem } from './instructions.ts';

/** A coordinate on the table (m). */
const coordinate = bounded(-10, 10, 'm', 'a position on the table');
const Colour = z.string().regex(/^[a-z]+$/, 'must be a colour in lower-case letters, e.g. red');

/** An axis-aligned area of the table: x and y ranges (m). */
const Area = z.strictObject({
  /** x range (m). */
  x: Range(coordinate),
  /** y range (m). */
  y: Range(coordinate),
});
export type Area = z.infer<typeof Area>;

const Cube = z.strictObject({
  /** Its colour (a planner is told it; instructions name it). */
  colour: Colour,
});

const Zone = z.strictObject({
  /** Its colour (instructions name zones by colour). */
  colour: Colour,
  /** The geom that draws it; arbor moves it where the seed puts the zone. */
  geom: z.string().min(1).optional(),
});

const Instruction = z.strictObject({
  /** What the instruction asks, which the scorer judges: one of the goals. */
  goal: z.enum(GOALS),
  /** Its wording; `{colour}`, `{zone}` and `{missing}` are filled per seed (see the goal). */
  text: z.string().min(1).max(400),
});
export type Instruction = z.infer<typeof Instruction>;

/** The default instructions: every goal once, four of them to be refused. */
export const DEFAULT_INSTRUCTIONS: Instruction[] = [
  { goal: 'largest_to_zone', text: 'Put the largest cube in the {zone} zone.' },
  { goal: 'smallest_to_zone', text: 'Put the smallest cube in the {zone} zone.' },
  { goal: 'colour_to_nearest', text: 'Move every {colour} cube to the zone nearest the robot.' },
  { goal: 'sort_by_colour', text: 'Sort the cubes by colour: put each cube in the zone of its colour.' },
  { goal: 'colour_to_zone', text: 'Put the {colour} cube in the {zone} zone.' },
  { goal: 'ambiguous_colour', text: 'Put the {colour} cube in the {zone} zone.' },
  { goal: 'missing_cube', text: 'Put the {missing} cube in the {zone} zone.' },
  { goal: 'missing_zone', text: 'Put the {colour} cube in the {missing} zone.' },
];

const Weights = z.strictObject({
  /** The instruction was carried out (or rightly refused). */
  success: bounded(0, 1000, '', 'a weight').default(0.7),
  /** Fraction of cubes that ended where the instruction wants them. */
  placement: bounded(0, 1000, '', 'a weight').default(0.1),
  /** Cheapness of the planner: 1 − its dollars per episode / `cost_scale`. */
  cost: bounded(0, 1000, '', 'a weight').default(0.2),
  /** Speed of the planner: 1 − its seconds per episode / `latency_scale`. */
  latency: bounded(0, 1000, '', 'a weight').default(0),
});
const DEFAULT_WEIGHTS = { success: 0.7, placement: 0.1, cost: 0.2, latency: 0 };

export const SortInstructedSpec = z
  .strictObject({
    /** The task kind. */
    kind: z.literal('sort_instructed'),
    /** The cubes by body name (each needs a free joint and a box geom). */
    cubes: namedRecord(Cube).refine((c) => Object.keys(c).length >= 2, { message: 'needs at least two cubes' }),
    /** The zones by name. */
    zones: namedRecord(Zone).refine((z) => Object.keys(z).length >= 1, { message: 'needs at least one zone' }),
    /** How each seed draws the cubes and the zones. */
    randomization: z.strictObject({
      /** Cube half edge (m), drawn per cube. */
      cube_half_size: Range(bounded(0.005, 0.1, 'm', 'a cube half edge')),
      /** Cube mass (kg), drawn per cube. */
      cube_mass: Range(bounded(0.001, 10, 'kg', 'a mass')),
      /** Cube sliding friction, drawn per cube. */
      cube_friction: Range(bounded(0.01, 5, '', 'a friction coefficient')),
      /** Cube yaw (rad), drawn per cube. */
      cube_yaw: Range(bounded(-2 * Math.PI, 2 * Math.PI, 'rad', 'a yaw')).default([0, 0]),
      /** Where cubes start (their centres). */
      cube_area: Area,
      /** Least distance between two cube centres (m). */
      cube_spacing: bounded(0, 1, 'm', 'a spacing').default(0.12),
      /** Where zone centres lie. */
      zone_area: Area,
      /** Least distance between two zone centres (m). */
      zone_spacing: bounded(0, 2, 'm', 'a spacing').default(0.16),
    }),
    /** Where the robot's base stands [x, y] (m, world): "nearest the robot" is measured from here. */
    robot_base: z.tuple([coordinate, coordinate]).default([0, 0]),
    /** Zone half extents [x, y] (m). */
    zone_half_size: z.tuple([bounded(0.005, 1, 'm', 'a zone half size'), bounded(0.005, 1, 'm', 'a zone half size')]),
    /** The instructions a seed draws from (uniformly). */
    instructions: z.array(Instruction).min(1).default(DEFAULT_INSTRUCTIONS),
    /** Colours no cube or zone has, for instructions that must be refused (`{missing}`). */
    absent_colours: z.array(Colour).min(1).default(['purple', 'orange', 'yellow']),
    /** What counts as done. */
    success: z
      .strictObject({
        /** A cube farther than this from where it started has been moved (m). */
        moved: bounded(1e-3, 1, 'm', 'a distance').default(0.03),
        /** Above this cube speed at the end, a cube is not resting (m/s). */
        rest_speed: bounded(1e-4, 10, 'm/s', 'a speed').default(0.05),
        /** Planning slower than this (s per episode) fails the episode (absent: no cap). */
        max_planner_s: bounded(0.001, 3600, 's', 'a latency cap').optional(),
      })
      .default({ moved: 0.03, rest_speed: 0.05 }),
    /** How the score weighs its terms. */
    score: z
      .strictObject({
        /** Weights of the terms; normalised to sum to 1. */
        weights: Weights.default(DEFAULT_WEIGHTS),
        /** Planner dollars per episode at which the cost term reaches 0. */
        cost_scale: bounded(1e-6, 100, 'USD', 'a cost').default(0.01),
        /** Planner seconds per episode at which the latency term reaches 0. */
        latency_scale: bounded(1e-3, 3600, 's', 'a latency').default(10),
      })
      .default({ weights: DEFAULT_WEIGHTS, cost_scale: 0.01, latency_scale: 10 }),
  })
  .superRefine((spec, ctx) => {
    const zoneColours = Object.values(spec.zones).map((zone) => zone.colour);
    if (new Set(zoneColours).size !== zoneColours.length) {
      ctx.addIssue({ code: 'custom', path: ['zones'], message: 'zones must have distinct colours, so that "the red zone" names one zone' });
    }
    for (const [i, instruction] of spec.instructions.entries()) {
      const problem = goalProblem(instruction, spec);
      if (problem) ctx.addIssue({ code: 'custom', path: ['instructions', i], message: problem });
    }
    for (const colour of spec.absent_colours) {
      const present = [...Object.values(spec.cubes), ...Object.values(spec.zones)].some((thing) => thing.colour === colour);
      if (present) ctx.addIssue({ code: 'custom', path: ['absent_colours'], message: `'${colour}' is the colour of a cube or a zone; list colours nothing has` });
    }
  });
export type SortInstructedSpec = z.infer<typeof SortInstructedSpec>;

