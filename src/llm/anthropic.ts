/**
 * The Messages API client: the only module that imports @anthropic-ai/sdk. It sits low (src/llm/)
 * because both the Claude researcher (src/researchers/claude.ts) and prompt policies (src/policy/,
 * which must not import src/research) call models through it.
 *
 * What it adds to the SDK (with settings.ts, which reads ANTHROPIC_API_KEY and ANTHROPIC_BASE_URL
 * and is kept apart so a command can check them without loading the SDK): prompt caching of the stable prefix (tool
 * definitions and system text) and of the conversation so far; token accounting per call turned
 * into dollars (src/llm/prices.ts); replies parsed through zod. Retries with backoff on 408, 409,
 * 429, 5xx (529 included) and connection timeouts are the SDK's own (`maxRetries`, `timeout`).
 */
import Anthropic from '@anthropic-ai/sdk';
import { z } from 'zod';
import { TextBlock, ToolUseBlock, type Message, type Reply, type StopReason, type ToolSpec } from './messages.ts';
import { addUsage, dollars, priceOf, NO_USAGE, type Price, type TokenUsage } from './prices.ts';
import type { LlmSettings } from './settings.ts';

/** One request: the stable prefix (system, tools) and the conversation. */
export interface LlmRequest {
  /** The system text (cached). */
  system: string;
  /** The tools (cached). */
  tools: readonly ToolSpec[];
  /** The conversation; the last message is the user's. */
  messages: readonly Message[];
  /** Most output tokens for this reply; absent: the settings'. */
  maxTokens?: number;
  /** Sampling temperature; absent: the API's default. */
  temperature?: number;
  /**
   * The conversation's cache breakpoint goes after this many messages; absent: after all of them
   * (a tool loop re-reads its turns). A one-shot call caches its stable prefix only: 0 (the system
   * text alone), or the few-shot turns before the question.
   */
  cachedMessages?: number;
}

/** A reply with what it cost. */
export interface LlmReply extends Reply {
  /** Tokens of this call. */
  usage: TokenUsage;
  /** Dollars of this call. */
  costUsd: number;
}

/** Usage as the API reports it (counts may be null or absent). */
const ApiUsage = z.object({
  input_tokens: z.number().nullish(),
  output_tokens: z.number().nullish(),
  cache_creation_input_tokens: z.number().nullish(),
  cache_read_input_tokens: z.number().nullish(),
});

/** A reply as the API sends it; block kinds arbor does not use are kept aside and dropped. */
const ApiReply = z.object({
  content: z.array(z.union([TextBlock, ToolUseBlock, z.object({ type: z.string() }).loose()])),
  stop_reason: z.string().nullish(),
  usage: ApiUsage.nullish(),
});

export class LlmClient {
  private readonly sdk: Anthropic;
  private readonly price: Price;
  /** Tokens of every call so far. */
  usage: TokenUsage = NO_USAGE;
  /** Dollars of every call so far. */
  costUsd = 0;
  /** Calls answered so far. */
  calls = 0;

  constructor(readonly settings: LlmSettings) {
    this.sdk = new Anthropic({ apiKey: settings.apiKey, baseURL: settings.baseURL, maxRetries: settings.maxRetries, timeout: settings.timeoutMs });
    this.price = settings.price ?? priceOf(settings.model)!;
  }

  /** The model. */
  get model(): string {
    return this.settings.model;
  }

  /** Sends one request (retried by the SDK) and returns the parsed reply with its cost. */
  async send(request: LlmRequest, signal?: AbortSignal): Promise<LlmReply> {
    const tools = request.tools.map((t, i) => ({
      name: t.name,
      description: t.description,
      input_schema: { ...t.inputSchema, type: 'object' as const },
      ...(i === request.tools.length - 1 ? { cache_control: EPHEMERAL } : {}),
    }));
    const raw = await this.sdk.messages.create(
      {
        model: this.settings.model,
        max_tokens: request.maxTokens ?? this.settings.maxTokens,
        ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
        system: [{ type: 'text', text: request.system, cache_control: EPHEMERAL }],
        ...(tools.length ? { tools } : {}),
        messages: withCacheBreakpoint(request.messages, request.cachedMessages ?? request.messages.length),
      },
      { signal },
    );
    const parsed = ApiReply.safeParse(raw);
    if (!parsed.success) throw new Error(`The Messages API answered with a reply arbor cannot read (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}).`);
    const u = parsed.data.usage ?? {};
    const usage: TokenUsage = { input: u.input_tokens ?? 0, output: u.output_tokens ?? 0, cacheWrite: u.cache_creation_input_tokens ?? 0, cacheRead: u.cache_read_input_tokens ?? 0 };
    const costUsd = dollars(usage, this.price);
    this.usage = addUsage(this.usage, usage);
    this.costUsd += costUsd;
    this.calls++;
    const content = parsed.data.content.flatMap((b) => {
      const block = z.union([TextBlock, ToolUseBlock]).safeParse(b);
      return block.success && !(block.data.type === 'text' && block.data.text.trim() === '') ? [block.data] : [];
    });
    return { content, stopReason: stopReasonOf(parsed.data.stop_reason), usage, costUsd };
  }
}

const EPHEMERAL = { type: 'ephemeral' } as const;

/**
 * The conversation for the API, with a cache breakpoint on the last block of its first `cached`
 * messages: every turn of a tool loop then reads the turns before it from the cache (with the
 * tools and system: 3 of the 4 breakpoints the API allows).
 */
function withCacheBreakpoint(messages: readonly Message[], cached: number): Anthropic.MessageParam[] {
  return messages.map((m, i) => ({
    role: m.role,
    content: m.content.map((block, k) => {
      const last = i === cached - 1 && k === m.content.length - 1;
      const param: Anthropic.ContentBlockParam =
        block.type === 'text'
          ? { type: 'text', text: block.text }
          : block.type === 'tool_use'
            ? { type: 'tool_use', id: block.id, name: block.name, input: block.input ?? {} }
            : { type: 'tool_result', tool_use_id: block.tool_use_id, content: block.content, ...(block.is_error ? { is_error: true } : {}) };
      return last && param.type !== 'tool_use' ? { ...param, cache_control: EPHEMERAL } : param;
    }),
  }));
}

function stopReasonOf(reason: string | null | undefined): StopReason {
  return reason === 'end_turn' || reason === 'tool_use' || reason === 'max_tokens' ? reason : 'other';
}
