/**
 * The tool loop: ask the model, run the tools it calls, answer with their results, until a tool
 * says the work is done or a bound is reached. Tool inputs are validated with zod (their JSON
 * Schema, shown to the model, comes from the same schema); an input that does not validate goes
 * back to the model as a tool error it can repair, a bounded number of times. Empty replies, text
 * without a tool call, and replies cut off at the token limit get a short nudge, also bounded.
 *
 * The conversation is plain JSON and the loop continues any conversation it is given, so a caller
 * that saves it after every step (`onStep`) resumes a killed loop without asking the model again
 * for an answer it already has.
 */
import { z } from 'zod';
import type { LlmClient } from './anthropic.ts';
import { Message, type Block, type ToolResultBlock, type ToolSpec, type ToolUseBlock } from './messages.ts';

/** What a tool returns. */
export interface ToolOutcome {
  /** Text for the model (JSON or lines). */
  content: string;
  /** The call failed; the model may repair and call again. */
  isError?: boolean;
  /** The loop's work is done once this round of tools is answered. */
  done?: boolean;
}

/** A tool the model may call. */
export interface Tool<Input = unknown> {
  /** Name the model calls it by (letters, digits, _). */
  name: string;
  /** What it does and when to use it. */
  description: string;
  /** Its input; invalid input is sent back as a repairable tool error. */
  input: z.ZodType<Input>;
  /**
   * Runs it; a throw becomes a tool error with the message. `{invalid}` says the input is wrong in
   * a way the schema cannot see (out of range, does not compile): handled as invalid input.
   */
  run(input: Input): ToolOutcome | { invalid: string } | Promise<ToolOutcome | { invalid: string }>;
  /**
   * Called instead of `run` when the repairs are used up: what to do with the last invalid input
   * (e.g. record it as an invalid proposal). Absent: the call just fails.
   */
  giveUp?(raw: unknown, reason: string): ToolOutcome;
}

/** A tool of any input type (the loop only passes validated input to its own tool). */
export type AnyTool = Tool<never> | Tool<unknown>;

/** The tools as the model is shown them, JSON Schema from zod. */
export function toolSpecs(tools: readonly AnyTool[]): ToolSpec[] {
  return tools.map((t) => ({ name: t.name, description: t.description, inputSchema: z.toJSONSchema(t.input as z.ZodType, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown> }));
}

/** Where a loop stands: stored with the caller's state, read back through zod. */
export const Conversation = z.object({
  /** The messages so far. */
  messages: z.array(Message),
  /** Model calls made. */
  turns: z.number().int().min(0).default(0),
  /** Invalid tool inputs sent back for repair. */
  repairs: z.number().int().min(0).default(0),
  /** Nudges after empty, cut-off or tool-less replies. */
  nudges: z.number().int().min(0).default(0),
});
export type Conversation = z.infer<typeof Conversation>;

/** Bounds of one loop. */
export interface LoopLimits {
  /** Model calls. */
  turns: number;
  /** Invalid tool inputs sent back before a tool gives up. */
  repairs: number;
  /** Nudges before the loop ends without the work done. */
  nudges: number;
}

/** How a loop ended. */
export type LoopEnd = 'done' | 'turns' | 'nudges' | 'budget';

export interface LoopOptions {
  /** The client. */
  client: LlmClient;
  /** System text (the stable, cached prefix with the tools). */
  system: string;
  /** The tools. */
  tools: readonly AnyTool[];
  /** The conversation to continue (its last message is the user's, or the assistant's tool calls). */
  conversation: Conversation;
  /** Bounds. */
  limits: LoopLimits;
  /** What to tell a model that replied without calling a tool. */
  nudge: string;
  /** Called after every change of the conversation (a reply, a round of tool results): save it here. */
  onStep?: (conversation: Conversation) => void | Promise<void>;
  /** False stops the loop before the next model call (a spent budget). */
  mayCall?: () => boolean;
}

/** Runs the loop until a tool is done or a bound is reached; the conversation is updated in place. */
export async function runToolLoop(options: LoopOptions): Promise<LoopEnd> {
  const { client, system, tools, conversation: c, limits } = options;
  const specs = toolSpecs(tools);
  const byName = new Map(tools.map((t) => [t.name, t]));
  for (;;) {
    const last = c.messages.at(-1);
    const calls = last?.role === 'assistant' ? last.content.filter((b): b is ToolUseBlock => b.type === 'tool_use') : [];
    if (calls.length) {
      // Tool calls not answered yet (a fresh reply, or one saved before a kill): answer them.
      const results: ToolResultBlock[] = [];
      let done = false;
      for (const call of calls) {
        const outcome = await runTool(byName, call, c, limits);
        done ||= outcome.done === true;
        results.push({ type: 'tool_result', tool_use_id: call.id, content: outcome.content, ...(outcome.isError ? { is_error: true } : {}) });
      }
      c.messages.push({ role: 'user', content: results });
      await options.onStep?.(c);
      if (done) return 'done';
      continue;
    }
    if (c.turns >= limits.turns) return 'turns';
    if (options.mayCall && !options.mayCall()) return 'budget';
    const reply = await client.send({ system, tools: specs, messages: c.messages });
    c.turns++;
    const hasCalls = reply.content.some((b) => b.type === 'tool_use');
    if (reply.stopReason === 'max_tokens' || !hasCalls) {
      // Cut off (a tool call in it may be half written), empty, or talk without a call: keep what
      // text there is, and ask again.
      if (c.nudges >= limits.nudges) return 'nudges';
      c.nudges++;
      const text = reply.content.filter((b) => b.type === 'text').map((b) => b.text).join('\n').trim();
      const why =
        reply.stopReason === 'max_tokens'
          ? 'Your reply was cut off at the output token limit before it was complete, so it was dropped. Reply again, shorter: fewer words, smaller code.'
          : text
            ? 'You replied without calling a tool.'
            : 'Your reply was empty.';
      c.messages.push({ role: 'assistant', content: [{ type: 'text', text: text || '(no reply)' }] });
      c.messages.push({ role: 'user', content: [{ type: 'text', text: `${why} ${options.nudge}` }] });
      await options.onStep?.(c);
      continue;
    }
    c.messages.push({ role: 'assistant', content: reply.content as Block[] });
    await options.onStep?.(c);
  }
}

/** Runs one call: validated input to the tool, or a repairable error, or the tool's give-up. */
async function runTool(byName: Map<string, AnyTool>, call: ToolUseBlock, c: Conversation, limits: LoopLimits): Promise<ToolOutcome> {
  const tool = byName.get(call.name);
  if (!tool) {
    c.repairs++;
    return { content: `There is no tool '${call.name}'; the tools are ${[...byName.keys()].join(', ')}.`, isError: true };
  }
  const invalid = (reason: string): ToolOutcome => {
    if (c.repairs >= limits.repairs) {
      return tool.giveUp?.(call.input, reason) ?? { content: `The input still does not validate (${reason}), and the repairs allowed are used up.`, isError: true };
    }
    c.repairs++;
    return { content: `The input of ${call.name} does not validate: ${reason}. Fix it and call ${call.name} again.`, isError: true };
  };
  const parsed = (tool.input as z.ZodType).safeParse(call.input ?? {});
  if (!parsed.success) return invalid(parsed.error.issues.slice(0, 8).map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '));
  try {
    const answer = await (tool as Tool<unknown>).run(parsed.data);
    return 'invalid' in answer ? invalid(answer.invalid) : answer;
  } catch (err) {
    return { content: `${call.name} failed: ${(err as Error)?.message ?? String(err)}`, isError: true };
  }
}
