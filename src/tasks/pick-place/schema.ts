/**
 * The `task:` section of pick-and-place scenarios: the object and the zone, how each seed
 * randomizes the object, what the policy's perception gets wrong, what counts as success, and the
 * score's weights. Every number has physical bounds, so a typo fails `arbor check` with a hint
 * instead of a diverging episode.
 */
import { z } from 'zod';
import { bounded, Range } from '../../scenario/schema.ts';

/** A coordinate on the table (m): a few metres around the robot is all any arm reaches. */
const coordinate = bounded(-10, 10, 'm', 'a position on the table');

export const Randomization = z.strictObject({
  /** Object centre x on the table (m). */
  object_x: Range(coordinate),
  /** Object centre y on the table (m). */
  object_y: Range(coordinate),
  /** Object yaw about z (rad). */
  object_yaw: Range(bounded(-2 * Math.PI, 2 * Math.PI, 'rad', 'a yaw')).default([0, 0]),
  /** Object half-size: the box is a cube of this half edge (m). */
  object_half_size: Range(bounded(0.002, 0.5, 'm', 'a cube half edge')),
  /** Object mass (kg). */
  object_mass: Range(bounded(0.001, 100, 'kg', 'a mass')),
  /** Sliding friction coefficient of the object. */
  object_friction: Range(bounded(0.01, 5, '', 'a friction coefficient')),
});
export type Randomization = z.infer<typeof Randomization>;

const Perception = z.strictObject({
  /** Systematic error [x, y] (m) of the object position the policy observes: a camera-to-robot calibration error. Scoring uses the true pose. */
  object_offset: z.tuple([bounded(-1, 1, 'm', 'a calibration error'), bounded(-1, 1, 'm', 'a calibration error')]).default([0, 0]),
  /** Per-episode error (m) added on each axis, drawn uniformly from [-jitter, jitter] by the seed. */
  object_jitter: bounded(0, 1, 'm', 'a perception jitter').default(0),
});

const Weights = z.strictObject({
  success: bounded(0, 1000, '', 'a weight').default(0.6),
  place_error: bounded(0, 1000, '', 'a weight').default(0.2),
  cycle_time: bounded(0, 1000, '', 'a weight').default(0.1),
  contact_force: bounded(0, 1000, '', 'a weight').default(0.1),
});

export const PickPlaceSpec = z.strictObject({
  /** The task kind. */
  kind: z.literal('pick_place'),
  /** Body name of the object to move (it needs a free joint and a box geom). */
  object: z.string().min(1),
  zone: z.strictObject({
    /** Geom that draws the zone in the world; arbor moves it to `center`. */
    geom: z.string().optional(),
    /** Zone centre [x, y] on the table (m). */
    center: z.tuple([coordinate, coordinate]),
    /** Zone half extents [x, y] (m). */
    half_size: z.tuple([bounded(0.001, 5, 'm', 'a zone half size'), bounded(0.001, 5, 'm', 'a zone half size')]),
  }),
  /** How each seed draws the object. */
  randomization: Randomization,
  /** What the policy's view of the object gets wrong. */
  perception: Perception.default({ object_offset: [0, 0], object_jitter: 0 }),
  /** What counts as a placed object. */
  success: z
    .strictObject({
      /** The object centre must be this far inside the zone edge (m). */
      zone_margin: bounded(0, 5, 'm', 'a margin').default(0),
      /** Object speed below which it counts as resting (m/s). */
      rest_speed: bounded(1e-4, 10, 'm/s', 'a speed').default(0.05),
      /** Gripper width above which the object counts as released (m). */
      release_width: bounded(1e-4, 1, 'm', 'a gripper width').default(0.06),
    })
    .default({ zone_margin: 0, rest_speed: 0.05, release_width: 0.06 }),
  /** How the score weighs its terms. */
  score: z
    .strictObject({
      /** Weights of the score terms; they are normalised to sum to 1. */
      weights: Weights.default({ success: 0.6, place_error: 0.2, cycle_time: 0.1, contact_force: 0.1 }),
      /** Place error (m) at which the place-error term reaches 0. */
      place_error_scale: bounded(1e-4, 10, 'm', 'a distance').default(0.15),
      /** Peak table contact force (N) at which the force term reaches 0. */
      force_scale: bounded(1e-3, 1e5, 'N', 'a force').default(400),
    })
    .default({
      weights: { success: 0.6, place_error: 0.2, cycle_time: 0.1, contact_force: 0.1 },
      place_error_scale: 0.15,
      force_scale: 400,
    }),
});
export type PickPlaceSpec = z.infer<typeof PickPlaceSpec>;
