/**
 * The inner agent's calls: a prompt config's conversation sent to the Messages API (Anthropic's,
 * or any endpoint that speaks it: `base_url`), through src/llm/ only, and everything they cost
 * counted per episode: calls, tokens by kind, the largest context, dollars, seconds. At
 * temperature 0 a call is looked up in the study's reply cache first: a hit costs nothing, says so
 * (`cached_calls`), and keeps the original call's tokens, price and latency as the config's own.
 */
import type { LlmClient } from '../llm/anthropic.ts';
import type { Message } from '../llm/messages.ts';
import { per } from '../llm/prices.ts';
import { ReplyCache, type CachedReply } from '../llm/reply-cache.ts';
import { llmSettings, MissingApiKeyError, type LlmSettings } from '../llm/settings.ts';
import type { PromptConfig } from '../scenario/prompt.ts';

/** A reply as the planner uses it. */
export interface PlannerReply {
  /** The reply's text. */
  text: string;
  /** The reply was cut off at `max_tokens`. */
  cutOff: boolean;
}

/** What one episode's calls cost, as episode metrics (snake case). */
export interface PlannerTotals {
  /** Calls sent to the endpoint. */
  llm_calls: number;
  /** Calls answered from the study's reply cache (free). */
  cached_calls: number;
  /** Uncached input tokens, over every call (cached ones included: the config's figures). */
  input_tokens: number;
  /** Output tokens. */
  output_tokens: number;
  /** Input tokens read from the endpoint's prompt cache. */
  cache_read_tokens: number;
  /** Input tokens written to the endpoint's prompt cache. */
  cache_write_tokens: number;
  /** The largest prompt of a call (input tokens of every kind). */
  context_tokens: number;
  /** Dollars spent: calls sent (reply-cache hits are free). */
  cost_usd: number;
  /** Dollars the calls cost at list price, reply-cache hits included: the config's price per episode. */
  planner_usd: number;
  /** Seconds of model calls (a reply-cache hit counts its original call's). */
  planner_s: number;
}

/** Retries of a failed call, and how long one attempt may take: inside the episode's wall-time limit. */
const CALL_RETRIES = 2;
const CALL_TIMEOUT_MS = 30_000;

/** Clients by endpoint, model and price, kept for the worker's life (the SDK loads once, on first use). */
const clients = new Map<string, Promise<LlmClient>>();

/**
 * Throws `MissingApiKeyError` now when a config could not reach its model (no API key for
 * Anthropic's endpoint), so a command refuses before any episode runs instead of crashing each.
 */
export function checkPlannerReachable(config: PromptConfig, env: NodeJS.ProcessEnv = process.env): void {
  plannerSettings(config, env);
}

/** How the planner of `config` reaches its model; a missing key's message says how to do without one. */
function plannerSettings(config: PromptConfig, env: NodeJS.ProcessEnv): LlmSettings {
  try {
    return llmSettings({
      model: config.model, who: 'A prompt policy', env, baseURL: config.base_url, maxRetries: CALL_RETRIES, timeoutMs: CALL_TIMEOUT_MS,
      maxTokens: config.max_tokens, ...(config.price ? { price: per(config.price.input, config.price.output) } : {}),
    });
  } catch (err) {
    if (err instanceof MissingApiKeyError) err.message += ' A planner on a model server of your own needs no key: give its address as base_url in the config.';
    throw err;
  }
}

export class Planner {
  readonly totals: PlannerTotals = {
    llm_calls: 0, cached_calls: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0,
    context_tokens: 0, cost_usd: 0, planner_usd: 0, planner_s: 0,
  };
  private readonly settings: LlmSettings;

  constructor(
    private readonly config: PromptConfig,
    /** The study's reply cache; absent: every call is sent. */
    private readonly cache: ReplyCache | undefined,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.settings = plannerSettings(config, env);
  }

  /** Sends the conversation (its last message is the user's) and returns the reply's text. */
  async ask(messages: readonly Message[]): Promise<PlannerReply> {
    const { config, settings } = this;
    const call = { system: config.system, messages, maxTokens: config.max_tokens, temperature: config.temperature };
    // Only a deterministic call may be answered twice the same way.
    const key = this.cache && config.temperature === 0 ? ReplyCache.key({ endpoint: settings.baseURL ?? 'anthropic', model: settings.model, ...call }) : undefined;
    let reply = key ? this.cache!.get(key) : undefined;
    if (reply) {
      this.totals.cached_calls++;
    } else {
      const client = await clientFor(settings);
      const started = performance.now();
      // The system text and the few-shot turns are the same every episode: the prompt cache may keep them.
      const sent = await client.send({ ...call, tools: [], cachedMessages: 2 * config.examples.length });
      reply = { content: sent.content, stopReason: sent.stopReason, usage: sent.usage, costUsd: sent.costUsd, latencyMs: performance.now() - started };
      if (key) this.cache!.put(key, reply);
      this.totals.llm_calls++;
      this.totals.cost_usd += reply.costUsd;
    }
    this.count(reply);
    const text = reply.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('\n');
    return { text, cutOff: reply.stopReason === 'max_tokens' };
  }

  private count(reply: CachedReply): void {
    const t = this.totals;
    const u = reply.usage;
    t.input_tokens += u.input;
    t.output_tokens += u.output;
    t.cache_read_tokens += u.cacheRead;
    t.cache_write_tokens += u.cacheWrite;
    t.context_tokens = Math.max(t.context_tokens, u.input + u.cacheRead + u.cacheWrite);
    t.planner_usd += reply.costUsd;
    t.planner_s += reply.latencyMs / 1000;
  }
}

function clientFor(settings: LlmSettings): Promise<LlmClient> {
  const id = JSON.stringify([settings.baseURL, settings.model, settings.apiKey.slice(-6), settings.price, settings.maxTokens]);
  let client = clients.get(id);
  if (!client) {
    // Loaded when a prompt policy first calls: the SDK takes about a second to import.
    client = import('../llm/anthropic.ts').then(({ LlmClient }) => new LlmClient(settings));
    clients.set(id, client);
    client.catch(() => clients.delete(id));
  }
  return client;
}
