/**
 * A conversation with a model as arbor keeps it: the three kinds of content block it uses (text,
 * tool calls, tool results), as zod schemas, so a conversation saved in a study's researcher state
 * comes back checked, never cast. Independent of any SDK: src/llm/anthropic.ts converts.
 */
import { z } from 'zod';

export const TextBlock = z.object({
  type: z.literal('text'),
  /** The text. */
  text: z.string(),
});

export const ToolUseBlock = z.object({
  type: z.literal('tool_use'),
  /** The call's id, echoed by its result. */
  id: z.string(),
  /** The tool called. */
  name: z.string(),
  /** The input as the model wrote it (validated by the tool, not here). */
  input: z.unknown(),
});
export type ToolUseBlock = z.infer<typeof ToolUseBlock>;

export const ToolResultBlock = z.object({
  type: z.literal('tool_result'),
  /** The id of the call answered. */
  tool_use_id: z.string(),
  /** What the tool returned, as text. */
  content: z.string(),
  /** True when the call failed (bad input, a tool error): the model may repair and call again. */
  is_error: z.boolean().optional(),
});
export type ToolResultBlock = z.infer<typeof ToolResultBlock>;

export const Block = z.discriminatedUnion('type', [TextBlock, ToolUseBlock, ToolResultBlock]);
export type Block = z.infer<typeof Block>;

export const Message = z.object({
  /** Who said it. */
  role: z.enum(['user', 'assistant']),
  /** What was said. */
  content: z.array(Block).min(1),
});
export type Message = z.infer<typeof Message>;

/** A tool as the model is shown it. */
export interface ToolSpec {
  /** Name the model calls it by. */
  name: string;
  /** What it does and when to use it. */
  description: string;
  /** JSON Schema of its input (an object). */
  inputSchema: Record<string, unknown>;
}

/** Why a reply ended. */
export type StopReason = 'end_turn' | 'tool_use' | 'max_tokens' | 'other';

/** A model's reply, as the tool loop uses it. */
export interface Reply {
  /** Text and tool calls (other kinds of block are dropped). */
  content: (z.infer<typeof TextBlock> | ToolUseBlock)[];
  /** Why it ended. */
  stopReason: StopReason;
}
