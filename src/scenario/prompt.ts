/**
 * The shape of a prompt config (what a `prompt` policy is: the inner language planner's system
 * prompt, few-shot examples, scene description, model and sampling, re-planning) and of a
 * scenario's prompt space (`policy.prompt`: the baseline config and the choices an offline
 * researcher searches). Shapes only, here beside the scenario schema that uses them; the planner
 * that runs a config is src/policy/prompt.ts.
 */
import { z } from 'zod';

/** Facts a scene description may give about each object and place. */
export const SCENE_FACTS = ['colour', 'size', 'position', 'distance'] as const;
/** How a scene description is written. */
export const SCENE_FORMATS = ['json', 'prose'] as const;
/** Units of the lengths in a scene description. */
export const LENGTH_UNITS = ['m', 'cm', 'mm'] as const;

const Model = z.string().regex(/^[A-Za-z0-9._:/-]{1,200}$/, 'must be a model id such as claude-haiku-4-5');
const Temperature = z.number().min(0, 'must be at least 0 (temperature)').max(1, 'must be at most 1 (temperature)');
const MaxTokens = z.number().int('must be a whole number (max tokens)').min(16, 'must be at least 16 (max tokens)').max(8192, 'must be at most 8192 (max tokens)');
const System = z.string().min(1, 'must not be empty (system prompt)').max(20_000, 'must be at most 20000 characters (system prompt)');

const Example = z.strictObject({
  /** The user's turn: an instruction and a scene, written as the planner will see them. */
  request: z.string().min(1).max(4000),
  /** The answer the planner should give (a plan as JSON, or a refusal). */
  reply: z.string().min(1).max(4000),
});
const Examples = z.array(Example).max(8, 'must hold at most 8 examples');

const Facts = z
  .array(z.enum(SCENE_FACTS))
  .max(SCENE_FACTS.length)
  .refine((facts) => new Set(facts).size === facts.length, 'must not repeat a fact');

export const SceneFormat = z.strictObject({
  /** `json` (one object) or `prose` (a sentence per thing). */
  format: z.enum(SCENE_FORMATS).default('json'),
  /** What to say of each object and place: colour, size, position, distance from the robot. Names are always given. */
  facts: Facts.default(['colour', 'size', 'position']),
  /** Unit of every length and position. */
  units: z.enum(LENGTH_UNITS).default('m'),
});
export type SceneFormat = z.infer<typeof SceneFormat>;

export const PromptConfig = z.strictObject({
  /** The model the planner calls (priced in src/llm/prices.ts, or give `price`). */
  model: Model,
  /** Another endpoint that speaks the Messages API (a local model server); absent: ANTHROPIC_BASE_URL, else Anthropic's. */
  base_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** Sampling temperature; at 0 a study caches each (config, prompt) call. */
  temperature: Temperature.default(0),
  /** Most output tokens per call: a plan cut off here is malformed. */
  max_tokens: MaxTokens.default(512),
  /** The system prompt. */
  system: System,
  /** Few-shot examples, sent as earlier turns of the conversation. */
  examples: Examples.default([]),
  /** How the scene is described to the planner. */
  scene: SceneFormat.default({ format: 'json', facts: ['colour', 'size', 'position'], units: 'm' }),
  /** After a step fails (the gripper closed on nothing, a cube landed outside its zone), ask for a new plan (at most twice). */
  replan: z.boolean().default(false),
  /** Dollars per million tokens, for a model the price table does not know (a local model: 0). */
  price: z.strictObject({ input: z.number().min(0).max(1000), output: z.number().min(0).max(1000) }).optional(),
});
export type PromptConfig = z.infer<typeof PromptConfig>;

/** A numeric choice as a grid: min, min + step, ..., max. */
function grid(value: z.ZodNumber) {
  return z
    .strictObject({ min: value, max: value, step: z.number().positive() })
    .refine((g) => g.min < g.max, { message: 'needs min < max', path: ['max'] })
    .refine((g) => (g.max - g.min) / g.step <= 64, { message: 'has more than 64 values; take a larger step', path: ['step'] })
    .transform((g) => Array.from({ length: Math.floor((g.max - g.min) / g.step + 1e-9) + 1 }, (_, i) => Number((g.min + i * g.step).toPrecision(12))));
}

/** A list of alternatives, at least one, none twice. */
function alternatives<T extends z.ZodType>(value: T) {
  return z
    .array(value)
    .min(1)
    .max(64)
    .refine((list) => new Set(list.map((v) => JSON.stringify(v))).size === list.length, 'must not list a value twice');
}

/**
 * What an offline researcher may change in a config, by name: the alternatives of each. Numbers
 * are a list or a grid ({min, max, step}); their order is their nearness.
 */
export const PromptChoices = z.strictObject({
  /** Models to try. */
  model: alternatives(Model).optional(),
  /** Temperatures to try. */
  temperature: z.union([alternatives(Temperature), grid(Temperature)]).optional(),
  /** Output token limits to try. */
  max_tokens: z.union([alternatives(MaxTokens), grid(MaxTokens)]).optional(),
  /** System prompts to try (whole texts; YAML anchors save repeating them). */
  system: alternatives(System).optional(),
  /** Sets of few-shot examples to try ([] is none). */
  examples: alternatives(Examples).optional(),
  /** Scene formats to try (`scene.format`). */
  scene_format: alternatives(z.enum(SCENE_FORMATS)).optional(),
  /** Sets of scene facts to try (`scene.facts`). */
  scene_facts: alternatives(Facts).optional(),
  /** Length units to try (`scene.units`). */
  scene_units: alternatives(z.enum(LENGTH_UNITS)).optional(),
  /** Re-planning on failure or not. */
  replan: alternatives(z.boolean()).optional(),
});
export type PromptChoices = z.infer<typeof PromptChoices>;

/** A scenario's prompt space (`policy.prompt`). */
export const PromptSpace = z.strictObject({
  /** The baseline config: the study's first candidate, and what a proposal's missing fields take. */
  config: PromptConfig,
  /** What an offline researcher may change, and to what. */
  choices: PromptChoices.default({}),
});
export type PromptSpace = z.infer<typeof PromptSpace>;
