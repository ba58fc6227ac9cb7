/**
 * The scenario: a goal for the researcher. One YAML per task variant (scenarios/*.yaml): the
 * robot and world, the task (its own section, validated by the task kind's plug-in), the episode,
 * the policy family with its parameter space, and the study budget.
 *
 * Every number has bounds a physical set-up can have, so a typo (`1e9` seeds, a zero mass) fails
 * `arbor check` with a hint instead of exhausting memory or diverging later.
 */
import { z } from 'zod';

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
export const RESEARCHER_NAMES = ['cmaes', 'random', 'claude'] as const;
export type ResearcherName = (typeof RESEARCHER_NAMES)[number];

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

export const Scenario = z.strictObject({
  /** Short name, used in study names. */
  name: z.string().regex(/^[a-z0-9][a-z0-9-_]*$/, 'use lower-case letters, digits, - and _'),
  /** What the task is, for people and LLM researchers. */
  description: z.string().default(''),
  /** robot.yaml, relative to the scenario file. */
  robot: z.string().min(1),
  /** MJCF world, relative to the scenario file. */
  world: z.string().min(1),
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
  policy: z.strictObject({
    /** Policy family of the parameter space: `params` tunes a built-in controller. */
    kind: z.literal('params').default('params'),
    /** The task's controller the parameters drive. */
    controller: z.string().min(1),
    /** The parameter space: each of the controller's parameters with its bounds and default. */
    params: namedRecord(ParamSpec).refine((p) => Object.keys(p).length > 0, {
      message: 'needs at least one parameter',
    }),
  }),
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
