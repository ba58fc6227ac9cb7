/**
 * The scenario: a goal for the researcher. One YAML per task variant (scenarios/*.yaml): the
 * robot and world, the episode, its randomization, what counts as success, the score, the
 * policy family with its parameter space, and the study budget.
 */
import { z } from 'zod';

/** A closed interval [low, high]; low == high fixes the value. */
export const Range = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => lo <= hi, { message: 'must be [low, high] with low <= high' });
export type Range = z.infer<typeof Range>;

export const ParamSpec = z
  .strictObject({
    /** Lowest value the researcher may propose. */
    min: z.number(),
    /** Highest value the researcher may propose. */
    max: z.number(),
    /** The starting value (the baseline policy). */
    default: z.number(),
    /** What the parameter does, shown to people and to LLM researchers. */
    description: z.string().optional(),
  })
  .refine((p) => p.min < p.max, { message: 'needs min < max', path: ['max'] })
  .refine((p) => p.default >= p.min && p.default <= p.max, {
    message: 'default must lie within [min, max]',
    path: ['default'],
  });
export type ParamSpec = z.infer<typeof ParamSpec>;

export const Randomization = z.strictObject({
  /** Object centre x on the table (m). */
  object_x: Range,
  /** Object centre y on the table (m). */
  object_y: Range,
  /** Object yaw about z (rad). */
  object_yaw: Range.default([0, 0]),
  /** Object half-size: the box is a cube of this half edge (m). */
  object_half_size: Range,
  /** Object mass (kg). */
  object_mass: Range,
  /** Sliding friction coefficient of the object. */
  object_friction: Range,
});
export type Randomization = z.infer<typeof Randomization>;

export const Scenario = z.strictObject({
  /** Short name, used in study names. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-_]*$/, 'use lower-case letters, digits, - and _'),
  /** What the task is, for people and LLM researchers. */
  description: z.string().default(''),
  /** robot.yaml, relative to the scenario file. */
  robot: z.string().min(1),
  /** MJCF world, relative to the scenario file. */
  world: z.string().min(1),
  task: z.strictObject({
    /** The task family; the scorer is chosen by it. */
    kind: z.literal('pick_place'),
    /** Body name of the object to move (it needs a free joint). */
    object: z.string().min(1),
    zone: z.strictObject({
      /** Geom that draws the zone in the world; arbor moves it to `center`. */
      geom: z.string().optional(),
      /** Zone centre [x, y] on the table (m). */
      center: z.tuple([z.number(), z.number()]),
      /** Zone half extents [x, y] (m). */
      half_size: z.tuple([z.number().positive(), z.number().positive()]),
    }),
  }),
  episode: z.strictObject({
    /** Simulated seconds per episode. */
    duration: z.number().positive().max(600),
    /** Policy (control) rate in Hz; physics runs at the model timestep. */
    control_rate: z.number().positive().max(1000),
    /** Wall-clock seconds after which a sim episode is stopped as a crash. */
    wall_time_limit: z.number().positive().default(30),
  }),
  randomization: Randomization,
  perception: z
    .strictObject({
      /** Systematic error [x, y] (m) of the object position the policy observes: a camera-to-robot calibration error. Scoring uses the true pose. */
      object_offset: z.tuple([z.number(), z.number()]).default([0, 0]),
      /** Per-episode error (m) added on each axis, drawn uniformly from [-jitter, jitter] by the seed. */
      object_jitter: z.number().min(0).default(0),
    })
    .default({ object_offset: [0, 0], object_jitter: 0 }),
  success: z
    .strictObject({
      /** The object centre must be this far inside the zone edge (m). */
      zone_margin: z.number().min(0).default(0),
      /** Object speed below which it counts as resting (m/s). */
      rest_speed: z.number().positive().default(0.05),
      /** Gripper width above which the object counts as released (m). */
      release_width: z.number().positive().default(0.06),
    })
    .default({ zone_margin: 0, rest_speed: 0.05, release_width: 0.06 }),
  score: z
    .strictObject({
      /** Weights of the score terms; they are normalised to sum to 1. */
      weights: z
        .strictObject({
          success: z.number().min(0).default(0.6),
          place_error: z.number().min(0).default(0.2),
          cycle_time: z.number().min(0).default(0.1),
          contact_force: z.number().min(0).default(0.1),
        })
        .default({ success: 0.6, place_error: 0.2, cycle_time: 0.1, contact_force: 0.1 }),
      /** Place error (m) at which the place-error term reaches 0. */
      place_error_scale: z.number().positive().default(0.15),
      /** Peak table contact force (N) at which the force term reaches 0. */
      force_scale: z.number().positive().default(400),
    })
    .default({
      weights: { success: 0.6, place_error: 0.2, cycle_time: 0.1, contact_force: 0.1 },
      place_error_scale: 0.15,
      force_scale: 400,
    }),
  policy: z.strictObject({
    /** Policy family: `params` tunes a built-in skill controller. */
    kind: z.literal('params'),
    /** The built-in controller the parameters drive. */
    controller: z.literal('pick_place'),
    /** The parameter space: names, bounds, defaults. */
    params: z.record(z.string(), ParamSpec).refine((p) => Object.keys(p).length > 0, {
      message: 'needs at least one parameter',
    }),
  }),
  budget: z
    .strictObject({
      /** Candidates to evaluate, the baseline included. */
      candidates: z.number().int().positive().default(60),
      /** Episodes in all, validation excluded. */
      episodes: z.number().int().positive().default(100_000),
      /** Wall-clock seconds for the whole study. */
      wall_time: z.number().positive().default(3600),
      /** Seeds each candidate runs on (shared by a generation). */
      seeds_per_candidate: z.number().int().positive().default(16),
      /** Fresh seeds the best is validated on; never used in training. */
      validation_seeds: z
        .strictObject({ from: z.number().int().min(0), count: z.number().int().positive() })
        .default({ from: 1000, count: 64 }),
    })
    .default({
      candidates: 60,
      episodes: 100_000,
      wall_time: 3600,
      seeds_per_candidate: 16,
      validation_seeds: { from: 1000, count: 64 },
    }),
});
export type ScenarioSpec = z.infer<typeof Scenario>;
