/**
 * The scenario: a goal for the researcher. One YAML per task variant (scenarios/*.yaml): the
 * robot and world, the task (its own section, validated by the task kind's plug-in), the episode,
 * the policy family with its parameter space, and the study budget.
 *
 * Every number has bounds a physical set-up can have, so a typo (`1e9` seeds, a zero mass) fails
 * `arbor check` with a hint instead of exhausting memory or diverging later.
 */
import { z } from 'zod';
import { PromptSpace } from './prompt.ts';

/** Seeds are integers in [0, SEED_MAX]: the episode generator keeps 32 bits, so larger ones would alias. */
export const SEED_MAX = 2 ** 31 - 1;

/** A finite number in [lo, hi]; the message names the unit and what the value is. */
export function bounded(lo: number, hi: number, unit: string, what: string) {
  const u = unit ? ` ${unit}` : '';
  return z
    .number()
    .min(lo, { message: `must be at least ${lo}${u} (${what})` })
    .max(hi, { message: `must be at most ${hi}${u} (${what})` });
}

/** An integer in [lo, hi]. */
export function boundedInt(lo: number, hi: number, what: string) {
  return z
    .number()
    .int({ message: `must be a whole number (${what})` })
    .min(lo, { message: `must be at least ${lo} (${what})` })
    .max(hi, { message: `must be at most ${hi} (${what})` });
}

/** A closed interval [low, high] of `inner` values; low == high fixes the value. */
export function Range(inner: z.ZodNumber = z.number()) {
  return z.tuple([inner, inner]).refine(([lo, hi]) => lo <= hi, { message: 'must be [low, high] with low <= high' });
}

/** Names that reach plain objects as keys: identifiers, never a member of Object.prototype. */
export const Identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an identifier: letters, digits and _, not starting with a digit' })
  .refine((name) => !(name in Object.prototype) && name !== 'prototype', {
    message: 'is a reserved JavaScript name; choose another',
  });

/**
 * A record whose keys are `Identifier`s. The keys are checked on the raw input: zod drops a
 * `__proto__` key silently, and a dropped parameter must be an error, not a surprise.
 */
export function namedRecord<T extends z.ZodType>(value: T) {
  return z
    .unknown()
    .superRefine((raw, ctx) => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return;
      for (const key of Object.keys(raw)) {
        const checked = Identifier.safeParse(key);
        if (!checked.success) ctx.addIssue({ code: 'custom', path: [key], message: `'${key}' ${checked.error.issues[0].message}` });
      }
    })
    .pipe(z.record(z.string(), value));
}

export const ParamSpec = z
  .strictObject({
    /** Lowest value the researcher may propose. */
    min: bounded(-1e6, 1e6, '', 'a parameter bound'),
    /** Highest value the researcher may propose. */
    max: bounded(-1e6, 1e6, '', 'a parameter bound'),
    /** The starting value (the baseline policy). */
    default: bounded(-1e6, 1e6, '', 'a parameter default'),
  })
  .refine((p) => p.min < p.max, { message: 'needs min < max', path: ['max'] })
  .refine((p) => p.default >= p.min && p.default <= p.max, {
    message: 'default must lie within [min, max]',
    path: ['default'],
  });
export type ParamSpec = z.infer<typeof ParamSpec>;

/** Names of the researchers a scenario or `--researcher` may pick. */
export const RESEARCHER_NAMES = ['cmaes', 'random', 'claude', 'hillclimb'] as const;
export type ResearcherName = (typeof RESEARCHER_NAMES)[number];

/** What a keep needs beyond beating the best's mean: nothing more, or no world in which it loses significantly. */
export const KEEP_RULES = ['mean', 'no_tier_regresses'] as const;
export type KeepRule = (typeof KEEP_RULES)[number];

const Budget = z.strictObject({
  /** Candidates to evaluate, the baseline included. */
  candidates: boundedInt(1, 100_000, 'candidates').default(60),
  /** Episodes in all, validation excluded. */
  episodes: boundedInt(1, 10_000_000, 'episodes').default(100_000),
  /** Wall-clock seconds for the whole study. */
  wall_time: bounded(1, 30 * 24 * 3600, 's', 'a wall time').default(3600),
  /** Seeds each candidate runs on (shared by a generation). */
  seeds_per_candidate: boundedInt(1, 10_000, 'seeds per candidate').default(16),
  /** Fresh seeds the best is validated on; never used in training. */
  validation_seeds: z
    .strictObject({
      from: boundedInt(0, SEED_MAX - 100_000, 'the first validation seed'),
      count: boundedInt(1, 100_000, 'validation seeds'),
    })
    .default({ from: 1000, count: 64 }),
  /** Racing: drop a candidate clearly worse than the best after half its seeds, saving the rest. */
  racing: z.boolean().default(false),
  /** Stop after this many generations in a row keep no candidate (absent: never). */
  patience: boundedInt(1, 100_000, 'generations without a kept candidate').optional(),
  /** Stop once the best candidate's training success rate reaches this, over two generations of seeds or more (absent: never). */
  target_success: bounded(0, 1, '', 'a success rate').optional(),
  /** Dollars the researcher (and prompt policies) may spend (absent: no limit). */
  max_cost_usd: bounded(0, 1e6, 'USD', 'a cost cap').optional(),
  /**
   * A robust study: every training episode runs in its seed's world drawn at this tier of the
   * `perturbations:` block, and validation reports this tier beside the nominal world (absent: nominal).
   */
  robust: z.string().regex(/^T\d$/, { message: 'must be a tier name such as T2' }).optional(),
  /**
   * What a keep needs beyond beating the best's mean score: `no_tier_regresses` (robust studies)
   * also refuses a candidate that loses significantly to the best, paired, in the nominal world or
   * at the robust tier (absent: the mean alone).
   */
  keep_if: z.enum(KEEP_RULES).optional(),
});

const ResearcherBlock = z.strictObject({
  /** Which researcher proposes candidates (`--researcher` overrides it). */
  name: z.enum(RESEARCHER_NAMES).default('cmaes'),
  /** The model an LLM researcher uses (`--model` overrides it). */
  model: z.string().min(1).optional(),
  /** CMA-ES's initial step as a fraction of each parameter's range (absent: 0.2). */
  sigma0: bounded(0.01, 1, '', 'a step as a fraction of the range').optional(),
  /** Proposals per generation (CMA-ES: its population; absent: the researcher's own default). */
  batch: boundedInt(1, 256, 'proposals per generation').optional(),
  /** Probe episodes an LLM researcher may run per generation before proposing. */
  probes: boundedInt(0, 64, 'probe episodes per generation').default(4),
  /** Candidate kinds the researcher may propose. */
  kinds: z.array(z.enum(['params', 'code', 'prompt'])).min(1).default(['params']),
});

/** A position in the world (m): a few metres around the robot. */
const worldCoordinate = bounded(-10, 10, 'm', 'a position in the world');

/**
 * Where a camera really is, as a calibration found it: vision maps pixels to the world with this
 * instead of the camera's own model (a physical camera has none; a sim camera's can be overridden
 * to study a miscalibrated cell). The attributes are those of an MJCF `<camera>`.
 */
const CameraCalibration = z.strictObject({
  /** Camera position in the world (m). */
  position: z.tuple([worldCoordinate, worldCoordinate, worldCoordinate]),
  /** The camera's x (right) and y (up) axes in the world, as MJCF's `xyaxes`; it looks down its -z. */
  xyaxes: z.tuple([z.number(), z.number(), z.number(), z.number(), z.number(), z.number()]).refine(
    ([a, b, c, d, e, f]) => Math.hypot(a, b, c) > 1e-6 && Math.hypot(d, e, f) > 1e-6 && Math.abs(a * d + b * e + c * f) < 1e-3 * Math.hypot(a, b, c) * Math.hypot(d, e, f),
    { message: 'must be two non-zero, perpendicular axes: x then y' },
  ),
  /** Vertical field of view (degrees). */
  fovy: bounded(1, 179, 'deg', 'a field of view'),
});
export type CameraCalibration = z.infer<typeof CameraCalibration>;

/** Images a camera can record. */
export const CAMERA_IMAGES = ['rgb', 'depth', 'segmentation'] as const;

/** How one camera of the world is recorded; the key in `cameras:` is the MJCF camera's name. */
export const CameraSpec = z
  .strictObject({
    /** Image width (px). */
    width: boundedInt(4, 1280, 'an image width in pixels').default(160),
    /** Image height (px). */
    height: boundedInt(4, 960, 'an image height in pixels').default(120),
    /** Frames per second of sim time; 0 records the first and the last frame only (always both). */
    rate: bounded(0, 60, 'Hz', 'a camera frame rate').default(0),
    /** What to record: colour (rgb8), planar depth (32FC1, m), segmentation (16UC1 labels). */
    images: z.array(z.enum(CAMERA_IMAGES)).min(1).default(['rgb']),
    /** The camera's calibration for vision (absent: the camera's own model). */
    calibration: CameraCalibration.optional(),
  })
  .refine((c) => c.width * c.height <= 1 << 20, { message: `width × height must be at most ${1 << 20} pixels`, path: ['height'] });
export type CameraSpec = z.infer<typeof CameraSpec>;

/** Which pixels a check looks at: those near a colour, or those of a label (segmentation). */
const PixelTarget = z
  .strictObject({
    /** Pixels within `tolerance` (Euclidean, 0..255 per channel) of this rgb colour. */
    color: z
      .strictObject({
        /** The colour [r, g, b], each 0..255. */
        rgb: z.tuple([boundedInt(0, 255, 'a colour channel'), boundedInt(0, 255, 'a colour channel'), boundedInt(0, 255, 'a colour channel')]),
        /** Largest distance in rgb space that still matches. */
        tolerance: bounded(0, 442, '', 'a colour distance').default(60),
      })
      .optional(),
    /** Pixels of this label: its name in the image's legend, or its value. */
    label: z.union([z.string().min(1), boundedInt(1, 65535, 'a label value')]).optional(),
  })
  .refine((t) => (t.color === undefined) !== (t.label === undefined), { message: 'needs exactly one of color or label' });
export type PixelTarget = z.infer<typeof PixelTarget>;

/** An image topic a check reads. */
const ImageTopic = z.string().regex(/^\/[A-Za-z0-9_/]+$/, { message: 'must be a topic name such as /camera/top/rgb' });

/** What every check has. */
const checkBase = {
  /** The sensor_msgs/Image topic the check reads. */
  image: ImageTopic,
  /** Which of its frames: the episode's first or last. */
  frame: z.enum(['first', 'last']).default('last'),
  /** False: measured and reported, but not part of vision success. */
  required: z.boolean().default(true),
};

/** A 2-D rectangle on a plane of the world (m). */
const Zone = z.strictObject({
  /** Centre [x, y] (m). */
  center: z.tuple([worldCoordinate, worldCoordinate]),
  /** Half extents [x, y] (m). */
  half_size: z.tuple([bounded(0.001, 5, 'm', 'a zone half size'), bounded(0.001, 5, 'm', 'a zone half size')]),
});

export const VisionCheck = z.discriminatedUnion('kind', [
  z.strictObject({
    /** Passes when the target covers between min_area and max_area pixels; measures its area and centroid. */
    kind: z.literal('detect'),
    ...checkBase,
    /** What to look for. */
    target: PixelTarget,
    /** Fewest pixels that count as seen. */
    min_area: boundedInt(1, 1 << 20, 'a pixel count').default(1),
    /** Most pixels that still pass (absent: no limit). */
    max_area: boundedInt(1, 1 << 20, 'a pixel count').optional(),
  }),
  z.strictObject({
    /** Passes when the target is seen and its centroid, mapped to the world, lies inside the zone (and at its height). */
    kind: z.literal('inside_zone'),
    ...checkBase,
    /** What to look for. */
    target: PixelTarget,
    /** Fewest pixels that count as seen. */
    min_area: boundedInt(1, 1 << 20, 'a pixel count').default(1),
    /** The zone on the plane z = plane_z (world, m). */
    zone: Zone,
    /** The centroid must be this far inside the zone edge (m). */
    margin: bounded(0, 5, 'm', 'a margin').default(0),
    /** A depth image (32FC1) of the same camera: the centroid's depth places it; absent: the plane does. */
    depth: ImageTopic.optional(),
    /** Height (m) of the plane the centroid is intersected with when there is no depth image. */
    plane_z: worldCoordinate.default(0),
    /** Heights [low, high] (m) the seen centroid must lie between (a depth image places it): resting, not held up. */
    height: Range(worldCoordinate).optional(),
  }),
  z.strictObject({
    /** Passes when the intersection over union of the image's mask and the target image's mask reaches the threshold. */
    kind: z.literal('mask_iou'),
    ...checkBase,
    /** The image whose mask is the goal (same size); its frame is `frame` too. */
    target_image: ImageTopic,
    /** Which pixels form the masks (absent: every non-zero pixel). */
    target: PixelTarget.optional(),
    /** Lowest IoU that passes. */
    threshold: bounded(0, 1, '', 'an IoU').default(0.5),
  }),
]);
export type VisionCheck = z.infer<typeof VisionCheck>;

/** Vision: checks on images, and whether state, vision or both decide success. */
const Vision = z.strictObject({
  /** What decides an episode's success: the task's state scorer, the vision checks, or both together. */
  success: z.enum(['state', 'vision', 'both']).default('state'),
  /** The checks, by name. */
  checks: namedRecord(VisionCheck).refine((c) => Object.keys(c).length > 0, { message: 'needs at least one check' }),
});
export type VisionSpec = z.infer<typeof Vision>;

export const Scenario = z.strictObject({
  /** Short name, used in study names. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-_]*$/, 'use lower-case letters, digits, - and _'),
  /** What the task is, for people and LLM researchers. */
  description: z.string().default(''),
  /** robot.yaml, relative to the scenario file. */
  robot: z.string().min(1),
  /** MJCF world, relative to the scenario file. */
  world: z.string().min(1),
  /**
   * The body or site of the world the robot is attached to when the world loads (default `mount`).
   * A world that `<include>`s its robot has none and loads as written.
   */
  mount: z.string().min(1).optional(),
  /** Task plug-in modules (relative to the scenario file) to load before `task` is read. */
  plugins: z.array(z.string().min(1)).default([]),
  /** The task: `kind` picks the plug-in, which validates the rest of this section. */
  task: z.looseObject({ kind: z.string().min(1) }),
  episode: z.strictObject({
    /** Simulated seconds per episode. */
    duration: bounded(0.01, 600, 's', 'an episode duration'),
    /** Policy (control) rate in Hz; physics runs at the model timestep. */
    control_rate: bounded(0.1, 1000, 'Hz', 'a control rate'),
    /** Wall-clock seconds after which a sim episode is stopped as a crash. */
    wall_time_limit: bounded(0.1, 3600, 's', 'a wall-time limit').default(30),
  }),
  policy: z
    .strictObject({
      /** What the study searches: `params` tunes a built-in controller, `prompt` the config of a language planner that drives it. */
      kind: z.enum(['params', 'prompt']).default('params'),
      /** The task's controller the parameters drive (a prompt policy's plans run on its skill). */
      controller: z.string().min(1),
      /** The parameter space: each of the controller's parameters with its bounds and default (a prompt policy's skill runs at the defaults). */
      params: namedRecord(ParamSpec).refine((p) => Object.keys(p).length > 0, {
        message: 'needs at least one parameter',
      }),
      /** The prompt space (kind `prompt`): the baseline config and the choices an offline researcher searches. */
      prompt: PromptSpace.optional(),
    })
    .refine((p) => p.kind !== 'prompt' || p.prompt !== undefined, {
      message: 'kind prompt needs a prompt: block with the baseline config (and the choices to search)',
      path: ['prompt'],
    }),
  /** Cameras of the world to record, by MJCF camera name (none: no images, no cost). */
  cameras: namedRecord(CameraSpec).default({}),
  /** Checks on images, and what decides success (absent: the task's state scorer alone). */
  vision: Vision.optional(),
  /** Who proposes candidates, and how. */
  researcher: ResearcherBlock.default({ name: 'cmaes', probes: 4, kinds: ['params'] }),
  budget: Budget.default({
    racing: false,
    candidates: 60,
    episodes: 100_000,
    wall_time: 3600,
    seeds_per_candidate: 16,
    validation_seeds: { from: 1000, count: 64 },
  }),
});
export type ScenarioSpec = z.infer<typeof Scenario>;

/**
 * Vision checks that read a camera topic (`/camera/NAME/KIND`) need that camera to record that
 * image; other topics (a task's derived images, a robot's own camera) are not checked here.
 */
export function checkCameraTopics(scenario: Pick<ScenarioSpec, 'cameras' | 'vision'>, ctx: z.RefinementCtx): void {
  for (const [name, check] of Object.entries(scenario.vision?.checks ?? {})) {
    const topics: [string, string][] = [['image', check.image]];
    if (check.kind === 'mask_iou') topics.push(['target_image', check.target_image]);
    if (check.kind === 'inside_zone' && check.depth) topics.push(['depth', check.depth]);
    for (const [field, topic] of topics) {
      const m = /^\/camera\/([^/]+)\/([^/]+)$/.exec(topic);
      if (!m) continue;
      const camera = Object.hasOwn(scenario.cameras, m[1]) ? scenario.cameras[m[1]] : undefined;
      if (!camera || !(camera.images as string[]).includes(m[2])) {
        ctx.addIssue({
          code: 'custom',
          path: ['vision', 'checks', name, field],
          message: `reads ${topic}, which no camera records`,
          params: { hint: `add it: cameras: { ${m[1]}: { images: [${[...new Set([...(camera?.images ?? []), m[2]])].join(', ')}] } }` },
        });
      }
    }
  }
}
