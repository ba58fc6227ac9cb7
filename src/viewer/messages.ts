/**
 * Socket messages between the page and the server. The page can only ask to watch things
 * (subscribe, unsubscribe, acknowledge frames): nothing it sends can start, stop or command a
 * study or a robot. Every message from the page is size-capped and validated here with zod.
 */
import { z } from 'zod';
import type { WorkerThroughput } from '../evaluation/live.ts';

export type { WorkerThroughput };

/** Largest message the page may send (bytes); larger ones get an error reply. */
export const MAX_CLIENT_MESSAGE = 4096;

export const ClientMessage = z.discriminatedUnion('type', [
  /** Receive live frames of one stream (by index from `live.status`), or of the newest one (null). */
  z.strictObject({ type: z.literal('live.subscribe'), stream: z.number().int().min(0).max(0xffff).nullable() }),
  /** Stop receiving live frames. */
  z.strictObject({ type: z.literal('live.unsubscribe') }),
  /** The page has drawn frame `seq`; the server sends a few frames ahead of the last ack at most. */
  z.strictObject({ type: z.literal('live.ack'), seq: z.number().int().min(0).max(0xffffffff) }),
  /** Be told when a study changes (new candidate, decision, episode). */
  z.strictObject({ type: z.literal('study.watch'), study: z.string().min(1).max(200) }),
  /** Stop being told about study changes. */
  z.strictObject({ type: z.literal('study.unwatch') }),
  /** Liveness check; answered with `pong`. */
  z.strictObject({ type: z.literal('ping'), id: z.number().int().optional() }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

/** A problem shown to the user, not thrown (Foxglove style). */
export interface Problem {
  /** How bad. */
  severity: 'error' | 'warn' | 'info';
  /** What happened, in a sentence. */
  message: string;
  /** What to do about it. */
  tip?: string;
}

/** One live stream: a worker of a study evaluating an episode. */
export interface LiveStreamInfo {
  /** Index used in binary frames and `live.subscribe`. */
  stream: number;
  /** Study id. */
  study: string;
  /** Worker index in that study. */
  worker: number;
  /** Candidate being evaluated. */
  candidate: number;
  /** Episode seed. */
  seed: number;
  /** Scene key of the study's world ('' while it loads). */
  scene: string;
  /** Geom sizes of this episode's randomized object, by geom id. */
  geomSizes: Record<string, [number, number, number]>;
  /** Positions of the geoms this episode moved (zones placed per seed), by geom id. */
  geomPositions: Record<string, [number, number, number]>;
  /** True when a frame came in the last few seconds. */
  active: boolean;
}

/** Messages the server sends as text (live frames go as binary, see protocol.ts). */
export type ServerMessage =
  | { type: 'hello'; version: 1; live: boolean }
  | { type: 'live.status'; streams: LiveStreamInfo[] }
  | { type: 'study.changed'; study: string }
  | { type: 'study.workers'; study: string; workers: WorkerThroughput[] }
  | { type: 'error'; problem: Problem }
  | { type: 'pong'; id?: number };

/** Parses one message from the page; returns the message or a problem to send back. */
export function parseClientMessage(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ClientMessage | Problem {
  const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
  if (isBinary) return { severity: 'error', message: 'Binary messages are not accepted.', tip: 'send JSON text such as {"type":"live.subscribe","stream":null}' };
  if (size > MAX_CLIENT_MESSAGE) {
    return { severity: 'error', message: `The message has ${size} bytes; the limit is ${MAX_CLIENT_MESSAGE}.`, tip: 'messages are small requests such as {"type":"live.subscribe","stream":0}' };
  }
  const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { severity: 'error', message: 'The message is not JSON.', tip: 'send JSON text such as {"type":"ping"}' };
  }
  const parsed = ClientMessage.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue.path.length ? `'${issue.path.join('.')}' ` : '';
    return {
      severity: 'error',
      message: `The message is not a viewer request: ${where}${issue.message}.`,
      tip: 'known types: live.subscribe, live.unsubscribe, live.ack, study.watch, study.unwatch, ping',
    };
  }
  return parsed.data;
}
