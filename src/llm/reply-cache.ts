/**
 * Model replies kept on disk by a key (a hash of everything that shaped the call), so that a call
 * made once at temperature 0 is never paid for again within a study: every worker thread and every
 * run of the study reads the same directory. Entries are written whole or not at all (a temporary
 * file, then a rename), and read back through zod; an unreadable entry is a miss, not an error.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TextBlock, ToolUseBlock } from './messages.ts';

/** A reply as the cache keeps it: what the model said and what the call cost when it was made. */
export const CachedReply = z.object({
  /** The reply's text and tool calls. */
  content: z.array(z.union([TextBlock, ToolUseBlock])),
  /** Why it ended. */
  stopReason: z.enum(['end_turn', 'tool_use', 'max_tokens', 'other']),
  /** Tokens of the original call. */
  usage: z.object({ input: z.number().min(0), output: z.number().min(0), cacheWrite: z.number().min(0), cacheRead: z.number().min(0) }),
  /** Dollars of the original call. */
  costUsd: z.number().min(0),
  /** Milliseconds the original call took. */
  latencyMs: z.number().min(0),
});
export type CachedReply = z.infer<typeof CachedReply>;

export class ReplyCache {
  constructor(
    /** The directory of the entries (made on the first write). */
    readonly dir: string,
  ) {}

  /** The key of a call: a hash of the JSON of everything that shapes its reply. */
  static key(call: unknown): string {
    return createHash('sha256').update(JSON.stringify(call)).digest('hex');
  }

  /** The reply stored under `key`, or undefined. */
  get(key: string): CachedReply | undefined {
    let text: string;
    try {
      text = readFileSync(this.path(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = CachedReply.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores a reply under `key`; another writer of the same key at the same time leaves one whole entry. */
  put(key: string, reply: CachedReply): void {
    const path = this.path(key);
    mkdirSync(join(this.dir, key.slice(0, 2)), { recursive: true });
    const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(temporary, JSON.stringify(reply));
    renameSync(temporary, path);
  }

  private path(key: string): string {
    if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`'${key}' is not a reply cache key; make keys with ReplyCache.key().`);
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }
}
