/**
 * The perturbation vocabulary: every physical way one world can differ from another (a sim from
 * the arm it stands in for), named once, so a scenario's `perturbations:` block, a `--perturb`
 * file and a calibration file all speak it. Each axis is a scale (of a model quantity) or an
 * offset (ticks of latency, noise, a perception error) with the widest range it may take; tiers
 * are fractions of those ranges, so T0 ⊂ T1 ⊂ … ⊂ T4 by construction.
 *
 * This is only the language (zod); drawing values lives in src/transfer/, applying them to MuJoCo
 * in src/sim/perturb.ts and src/robot/sensing.ts.
 */
import { z } from 'zod';
import { Identifier, bounded, namedRecord } from './schema.ts';

/** Axes that scale a quantity of the model: the value multiplies what the MJCF (or the task) set. */
export const SCALE_KINDS = [
  'kp', 'damping', 'armature', 'frictionloss', 'effort_limit', 'link_mass',
  'gripper_force', 'finger_friction', 'object_mass', 'object_friction', 'table_friction',
] as const;
/** Axes in whole control ticks, added to nothing (default 0). */
export const TICK_KINDS = ['command_delay', 'observation_delay'] as const;
/** Axes that are the standard deviation of a noise on what the policy senses (default 0). */
export const NOISE_KINDS = ['joint_noise', 'wrench_noise', 'pose_noise'] as const;
/** Every axis kind. */
export const AXIS_KINDS = [...SCALE_KINDS, ...TICK_KINDS, ...NOISE_KINDS, 'perception_offset'] as const;
export type AxisKind = (typeof AXIS_KINDS)[number];

/** A fixed value or a closed range [low, high] of values. */
function valueOrRange(inner: z.ZodNumber) {
  return z
    .union([inner, z.tuple([inner, inner])])
    .refine((v) => typeof v === 'number' || v[0] <= v[1], { message: 'must be [low, high] with low <= high' })
    .transform((v): [number, number] => (typeof v === 'number' ? [v, v] : v));
}

/** A scale must stay positive: a gain, a mass or a friction of 0 or less is not a physical world. */
const scale = valueOrRange(
  z
    .number()
    .gt(0, { message: 'must be greater than 0 (a scale of 0 or less leaves no physical gain, mass or friction)' })
    .max(100, { message: 'must be at most 100 (a scale, not a value)' }),
);
const ticks = valueOrRange(z.number().int({ message: 'must be a whole number of control ticks' }).min(0, { message: 'must be at least 0 ticks' }).max(50, { message: 'must be at most 50 ticks' }));
const noise = valueOrRange(bounded(0, 10, '', 'a noise standard deviation (rad, N or m) cannot be negative'));
const offset = valueOrRange(bounded(-0.5, 0.5, 'm', 'a perception offset'));

/** Which arm joints an axis acts on: names from robot.yaml; absent: every arm joint. */
const Joints = z.array(z.string().min(1)).min(1).optional();

const what = {
  /** What this axis stands for, for people (optional). */
  note: z.string().optional(),
};

/** One axis: its kind, what it acts on, and its widest range (T4's). */
export const Axis = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.enum(['kp', 'damping', 'armature', 'frictionloss', 'effort_limit']), joints: Joints, scale, ...what }),
  /** Bodies of the robot whose mass (and inertia) scale; absent: every body of the arm. */
  z.strictObject({ kind: z.literal('link_mass'), links: z.array(z.string().min(1)).min(1).optional(), scale, ...what }),
  z.strictObject({ kind: z.enum(['gripper_force', 'finger_friction']), scale, ...what }),
  /** A tracked object of the task (absent: every one). */
  z.strictObject({ kind: z.enum(['object_mass', 'object_friction']), object: z.string().min(1).optional(), scale, ...what }),
  /** The geom things rest on (default `table`). */
  z.strictObject({ kind: z.literal('table_friction'), geom: z.string().min(1).default('table'), scale, ...what }),
  z.strictObject({ kind: z.enum(TICK_KINDS), ticks, ...what }),
  z.strictObject({ kind: z.enum(NOISE_KINDS), std: noise, ...what }),
  /** A constant error of the perceived object positions along `direction` (world, normalized). */
  z.strictObject({
    kind: z.literal('perception_offset'),
    direction: z.tuple([z.number(), z.number(), z.number()]).refine((d) => Math.hypot(...d) > 1e-9, { message: 'must not be zero' }).default([1, 0, 0]),
    offset,
    ...what,
  }),
], {
  // The one message a misspelt or invented axis kind gets: what the known ones are.
  error: (issue) => (issue.code === 'invalid_union' ? `'${String((issue.input as { kind?: unknown } | undefined)?.kind)}' is not a perturbation axis kind; use one of: ${AXIS_KINDS.join(', ')}` : undefined),
});
export type Axis = z.infer<typeof Axis>;

/** The range an axis was given, whatever its kind calls it. */
export function axisRange(axis: Axis): [number, number] {
  if ('scale' in axis) return axis.scale;
  if ('ticks' in axis) return axis.ticks;
  if ('std' in axis) return axis.std;
  return axis.offset;
}

/** The value that leaves the world as it is: 1 for a scale, 0 for the rest. */
export function nominalValue(axis: Axis): number {
  return 'scale' in axis ? 1 : 0;
}

/** The default tiers: fractions of every axis's range, nested, T0 the nominal world. */
export const DEFAULT_TIERS = { T0: 0, T1: 0.25, T2: 0.5, T3: 0.75, T4: 1 } as const;

/** Tier names to fractions of every range, in widening order. */
const Tiers = z
  .record(z.string().regex(/^T\d$/, { message: 'tier names are T0, T1, … T9' }), bounded(0, 1, '', 'a fraction of each axis range'))
  .refine((t) => Object.values(t).every((f, i, all) => i === 0 || f >= all[i - 1]), {
    message: 'tiers must widen in the order given (each fraction at least the one before), so each contains the last',
  });

/** A `perturbations:` block, and the whole of a `--perturb` or calibration file. */
export const Perturbations = z.strictObject({
  /** The axes by name. */
  axes: namedRecord(Axis).refine((a) => Object.keys(a).length > 0, { message: 'needs at least one axis' }),
  /** Tiers as fractions of each axis's range (absent: T0 0, T1 0.25, T2 0.5, T3 0.75, T4 1). */
  tiers: Tiers.default({ ...DEFAULT_TIERS }),
});
export type Perturbations = z.infer<typeof Perturbations>;

/** An axis with the value one world takes on it (what a job, a trace meta and the sim carry). */
export interface AxisValue {
  /** The axis's name in its block or file. */
  name: string;
  /** The axis. */
  axis: Axis;
  /** Its value: a scale, ticks, a standard deviation or metres. */
  value: number;
}

/** The values of one world, as stored JSON comes back (a job, a trace meta). */
export const AxisValues = z.array(z.strictObject({ name: Identifier, axis: Axis, value: z.number() }));

/**
 * A zod refinement of a block against the robot: every joint an axis names must be an arm joint
 * of robot.yaml. `at` is where the block sits in its file.
 */
export function checkAxisJoints(block: Perturbations | undefined, joints: readonly string[], ctx: z.RefinementCtx, at: (string | number)[]): void {
  if (joints.length === 0) return; // the robot did not load; its loader says why
  for (const [name, axis] of Object.entries(block?.axes ?? {})) {
    if (!('joints' in axis) || !axis.joints) continue;
    axis.joints.forEach((joint, i) => {
      if (joints.includes(joint)) return;
      ctx.addIssue({
        code: 'custom',
        path: [...at, 'axes', name, 'joints', i],
        message: `'${joint}' is not an arm joint of the robot`,
        params: { hint: `use some of: ${joints.join(', ')} (or leave joints out for all of them)` },
      });
    });
  }
}
