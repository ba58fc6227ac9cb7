/**
 * The `task:` section of machining scenarios: the workpiece and the path the tool must follow on
 * it (an edge to deburr, or a contour to trace on its top face), the force band the tool must
 * press with, the tolerances, how each seed places and sizes the workpiece, what the cell's
 * localisation gets wrong, and the score's weights.
 */
import { z } from 'zod';
import { bounded, boundedInt, Range } from '../../scenario/schema.ts';

const coordinate = bounded(-10, 10, 'm', 'a position on the table');
const angle = bounded(-2 * Math.PI, 2 * Math.PI, 'rad', 'an angle');
const halfExtent = bounded(0.005, 1, 'm', 'a workpiece half extent');

/** The path on the workpiece, in its own frame (origin at its centre, x along its length). */
export const MachiningPath = z.discriminatedUnion('kind', [
  z.strictObject({
    /** Deburr the top edge on the workpiece's -y side, from corner to corner less the inset. */
    kind: z.literal('edge'),
    /** Distance kept from each corner (m). */
    inset: bounded(0, 0.5, 'm', 'an inset').default(0.01),
  }),
  z.strictObject({
    /** Trace a circular arc on the top face. */
    kind: z.literal('contour'),
    /** Arc centre [x, y] on the top face, in the workpiece frame (m). */
    center: z.tuple([bounded(-1, 1, 'm', 'an offset'), bounded(-1, 1, 'm', 'an offset')]).default([0, 0]),
    /** Arc radius (m). */
    radius: bounded(0.005, 0.5, 'm', 'a radius'),
    /** Angle of the start point from the workpiece's x axis (rad). */
    start: angle.default(0),
    /** Swept angle (rad); negative runs clockwise. */
    sweep: angle.refine((a) => Math.abs(a) >= 0.05, { message: 'must sweep at least 0.05 rad either way' }),
  }),
]);
export type MachiningPath = z.infer<typeof MachiningPath>;

export const Randomization = z.strictObject({
  /** Workpiece centre x (m). */
  x: Range(coordinate),
  /** Workpiece centre y (m). */
  y: Range(coordinate),
  /** Workpiece yaw about z (rad). */
  yaw: Range(angle).default([0, 0]),
  /** Half length along its x (m). */
  half_x: Range(halfExtent),
  /** Half width along its y (m). */
  half_y: Range(halfExtent),
  /** Half thickness (m): the top face is at the fixture top plus twice this. */
  half_z: Range(halfExtent),
});
export type Randomization = z.infer<typeof Randomization>;

const Localisation = z.strictObject({
  /** Systematic error [x, y] (m) of the workpiece pose the policy observes (a probing or camera calibration error). Scoring uses the truth. */
  offset: z.tuple([bounded(-1, 1, 'm', 'a calibration error'), bounded(-1, 1, 'm', 'a calibration error')]).default([0, 0]),
  /** Per-episode error (m) on each axis, drawn uniformly from [-jitter, jitter] by the seed. */
  jitter: bounded(0, 1, 'm', 'a localisation jitter').default(0),
});

const Weights = z.strictObject({
  /** Weight of success (0 or 1). */
  success: bounded(0, 1000, '', 'a weight').default(0.5),
  /** Weight of path coverage. */
  coverage: bounded(0, 1000, '', 'a weight').default(0.15),
  /** Weight of the RMS path error (1 at none, 0 at path_error_scale). */
  path_error: bounded(0, 1000, '', 'a weight').default(0.1),
  /** Weight of the fraction of time in the force band. */
  force_band: bounded(0, 1000, '', 'a weight').default(0.15),
  /** Weight of a short cycle (successful episodes only). */
  cycle_time: bounded(0, 1000, '', 'a weight').default(0.1),
});
const WEIGHTS = { success: 0.5, coverage: 0.15, path_error: 0.1, force_band: 0.15, cycle_time: 0.1 };

export const MachiningSpec = z.strictObject({
  /** The task kind. */
  kind: z.literal('machining'),
  /** Mocap body of the workpiece; its first geom is a box centred on it. */
  workpiece: z.string().min(1),
  /** Height of the fixture top the workpiece rests on (m). */
  fixture_top: coordinate,
  /** The path the tool follows. */
  path: MachiningPath,
  /** Points the path is sampled at, for coverage and for the target image. */
  path_points: boundedInt(8, 1024, 'path points').default(96),
  /** The normal force the tool must hold along the path. */
  force: z
    .strictObject({
      /** Band [low, high] (N) the normal force should stay in while machining. */
      band: Range(bounded(0, 1000, 'N', 'a force')).refine(([lo, hi]) => hi > lo, { message: 'must be [low, high] with low < high' }),
      /** Normal force (N) above which the tool counts as in contact. */
      contact: bounded(0.01, 100, 'N', 'a force').default(1),
      /** Peak normal force (N) that fails the episode (a crash into the part). */
      max: bounded(0.1, 10000, 'N', 'a force'),
    }),
  /** How close is close enough. */
  tolerance: z
    .strictObject({
      /** Largest distance (m) across the path from the tool's contact point that still covers a path point. */
      path: bounded(1e-5, 0.1, 'm', 'a tolerance'),
      /** Deepest the tool may go into the surface (m). */
      gouge: bounded(1e-6, 0.1, 'm', 'a depth'),
    }),
  /** What counts as done. */
  success: z
    .strictObject({
      /** Fraction of the path points the tool must cover. */
      coverage: bounded(0, 1, '', 'a fraction').default(0.9),
      /** Fraction of the machining time the normal force must stay in its band. */
      in_band: bounded(0, 1, '', 'a fraction').default(0.8),
    })
    .default({ coverage: 0.9, in_band: 0.8 }),
  /** How each seed places and sizes the workpiece. */
  randomization: Randomization,
  /** What the policy's view of the workpiece gets wrong. */
  localisation: Localisation.default({ offset: [0, 0], jitter: 0 }),
  /** Pixels per tolerance in the contact map and target images (their resolution). */
  map_resolution: boundedInt(1, 8, 'pixels per tolerance').default(2),
  /** How the score weighs its terms. */
  score: z
    .strictObject({
      /** Weights of the score terms; they are normalised to sum to 1. */
      weights: Weights.default(WEIGHTS),
      /** RMS path error (m) at which the path-error term reaches 0. */
      path_error_scale: bounded(1e-5, 1, 'm', 'a distance').default(0.003),
    })
    .default({ weights: WEIGHTS, path_error_scale: 0.003 }),
});
export type MachiningSpec = z.infer<typeof MachiningSpec>;
