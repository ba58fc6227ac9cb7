/**
 * How to reach a model: the API key and endpoint from the environment (ANTHROPIC_API_KEY,
 * ANTHROPIC_BASE_URL), the model and its limits. Apart from anthropic.ts so that commands can
 * refuse a missing key at once without loading the SDK (about a second of start-up).
 */
import { DEFAULT_MODEL, priceOf, pricedModels, type Price } from './prices.ts';

/** How to reach a model. */
export interface LlmSettings {
  /** Model id, e.g. `claude-sonnet-4-5`. */
  model: string;
  /** The API key. */
  apiKey: string;
  /** Another endpoint speaking the Messages API (a proxy, a test server); absent: Anthropic's. */
  baseURL?: string;
  /** Retries of a failed call (429, 529, 5xx, timeouts), with the SDK's backoff. */
  maxRetries: number;
  /** Milliseconds one attempt may take. */
  timeoutMs: number;
  /** Most output tokens per reply. */
  maxTokens: number;
  /** The model's price when the price table does not know it (a local model); absent: the table's. */
  price?: Price;
}

/** Raised before any call when there is no API key. */
export class MissingApiKeyError extends Error {
  constructor(who: string) {
    super(
      `${who} calls the Anthropic Messages API and needs an API key, but ANTHROPIC_API_KEY is not set. ` +
        'Set it in the environment (export ANTHROPIC_API_KEY=sk-ant-...; keys are made at console.anthropic.com), ' +
        'and ANTHROPIC_BASE_URL too if you reach the API through a proxy.',
    );
    this.name = 'MissingApiKeyError';
  }
}

/**
 * Settings from the environment and the study's choices. Throws `MissingApiKeyError` without a key
 * and an error naming src/llm/prices.ts for a model whose price is unknown, so neither surfaces
 * half-way through a study.
 */
export function llmSettings(options: {
  model?: string;
  who: string;
  env?: NodeJS.ProcessEnv;
  maxRetries?: number;
  timeoutMs?: number;
  maxTokens?: number;
  /** An endpoint of the caller's own (a local model server) instead of ANTHROPIC_BASE_URL; it may take no key. */
  baseURL?: string;
  /** The model's price, for a model the table does not know. */
  price?: Price;
}): LlmSettings {
  const env = options.env ?? process.env;
  // A server of one's own may want no key; Anthropic's always does.
  const apiKey = env.ANTHROPIC_API_KEY?.trim() || (options.baseURL ? 'none' : undefined);
  if (!apiKey) throw new MissingApiKeyError(options.who);
  const model = options.model ?? DEFAULT_MODEL;
  if (!options.price && !priceOf(model)) {
    throw new Error(`Model '${model}' has no price in src/llm/prices.ts, so its cost could not be counted; use one of ${pricedModels().join(', ')} (or a dated id of one), or add its price there.`);
  }
  const baseURL = options.baseURL ?? (env.ANTHROPIC_BASE_URL?.trim() || undefined);
  return {
    model, apiKey, baseURL, maxRetries: options.maxRetries ?? 4, timeoutMs: options.timeoutMs ?? 120_000, maxTokens: options.maxTokens ?? 8192,
    ...(options.price ? { price: options.price } : {}),
  };
}
