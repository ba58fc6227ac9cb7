/**
 * What Claude models cost, in US dollars per million tokens: the one place prices live. Cache
 * writes are the 5-minute ephemeral cache (1.25 × input), cache reads 0.1 × input. Model ids are
 * matched by prefix, so dated ids (`claude-sonnet-4-5-20250929`) find their family. A model not in
 * the table is refused before the first call: a study must be able to count what it spends.
 */

/** Dollars per million tokens of each kind. */
export interface Price {
  /** Uncached input tokens. */
  input: number;
  /** Output tokens. */
  output: number;
  /** Input tokens written to the prompt cache. */
  cacheWrite: number;
  /** Input tokens read from the prompt cache. */
  cacheRead: number;
}

/** Tokens of one call or of many, by kind. */
export interface TokenUsage {
  /** Uncached input tokens. */
  input: number;
  /** Output tokens. */
  output: number;
  /** Input tokens written to the cache. */
  cacheWrite: number;
  /** Input tokens read from the cache. */
  cacheRead: number;
}

/** The price of a model that costs `input` and `output` dollars per million tokens, with the cache's usual ratios. */
export const per = (input: number, output: number): Price => ({ input, output, cacheWrite: input * 1.25, cacheRead: input * 0.1 });

/** Longest prefix first, so `claude-opus-4-5` is not priced as `claude-opus-4`. */
const PRICES: readonly (readonly [prefix: string, price: Price])[] = [
  ['claude-opus-4-5', per(5, 25)],
  ['claude-opus-4-1', per(15, 75)],
  ['claude-opus-4', per(15, 75)],
  ['claude-sonnet-4-5', per(3, 15)],
  ['claude-sonnet-4', per(3, 15)],
  ['claude-3-7-sonnet', per(3, 15)],
  ['claude-haiku-4-5', per(1, 5)],
  ['claude-3-5-haiku', per(0.8, 4)],
];

/** The model a study uses when neither the scenario nor --model names one. */
export const DEFAULT_MODEL = 'claude-sonnet-4-5';

/** The price of `model`, or undefined when the table does not know it. */
export function priceOf(model: string): Price | undefined {
  return PRICES.find(([prefix]) => model.startsWith(prefix))?.[1];
}

/** The models the table prices (their prefixes), for messages. */
export function pricedModels(): string[] {
  return PRICES.map(([prefix]) => prefix);
}

/** Dollars of `usage` at `price`. */
export function dollars(usage: TokenUsage, price: Price): number {
  return (usage.input * price.input + usage.output * price.output + usage.cacheWrite * price.cacheWrite + usage.cacheRead * price.cacheRead) / 1e6;
}

/** The sum of two usages. */
export function addUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  return { input: a.input + b.input, output: a.output + b.output, cacheWrite: a.cacheWrite + b.cacheWrite, cacheRead: a.cacheRead + b.cacheRead };
}

export const NO_USAGE: TokenUsage = Object.freeze({ input: 0, output: 0, cacheWrite: 0, cacheRead: 0 });
