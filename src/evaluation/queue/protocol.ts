/**
 * What the study process and `arbor worker` processes say to each other through Redis: the key
 * names, the job a worker takes (zod-checked where it arrives), the result it leaves (compressed,
 * size-capped, checked again where the study reads it), and the heartbeat `arbor workers` lists.
 *
 * The trace goes through a key of its own (`result:<job>`), not through BullMQ's return value:
 * BullMQ copies a return value into its event stream too, which would hold every trace twice.
 *
 * Each build has its own BullMQ queue (`queueName`). A fleet mixes builds (a rolling upgrade, a
 * colleague's older checkout sharing the Redis), and episodes are identical only on identical
 * builds; with one queue per build a worker never takes a job it cannot run, so there is no
 * taking and putting back (every worker would touch every foreign job, over and over) and no job
 * that stops or slows the workers of another build. A study whose build no live worker runs
 * says so (see `QueueEvaluator`), and its jobs wait for a worker of that build.
 */
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { PolicyFile } from '../../policy/file.ts';
import { SEED_MAX } from '../../scenario/schema.ts';
import { decodeTrace, encodeTrace, type Trace } from '../../trace/trace.ts';
import type { EpisodeJob } from '../evaluator.ts';
import { Build, buildId } from './build.ts';

/** Every key arbor keeps in Redis starts with this; BullMQ's keys too (`arbor:episodes-<build id>:*`). */
export const PREFIX = 'arbor';
/** The BullMQ queue of one build: its studies put their episodes there, and only its workers take them. */
export function queueName(build: Build): string {
  return `episodes-${buildId(build)}`;
}
/** Seconds a finished result, a bundle and a refusal are kept when nobody collects them. */
export const KEEP_SECONDS = 7 * 24 * 3600;
/** A worker's heartbeat is refreshed this often (ms) ... */
export const BEAT_MS = 2000;
/** ... and expires after this long without one (s): a killed worker leaves the list by itself. */
export const BEAT_TTL = 10;
/** Largest compressed result the study takes by default (bytes): a trace over it is an error, not a stall. */
export const DEFAULT_MAX_RESULT_BYTES = 16 * 1024 * 1024;
/** Largest cap a study may set (`--max-result-mb 512`): a job asking for more is not arbor's. */
export const MAX_RESULT_BYTES = 512 * 1024 * 1024;
/**
 * A result unpacks to at most this many times its compressed cap (a pick-and-place trace is 2:1).
 * Both sides hold to it: the worker fails a result over it, and the study never unpacks more, so
 * a gzip bomb in Redis costs it at most this much memory.
 */
const UNPACKED_PER_PACKED = 8;

/** Where things live in Redis. */
export const keys = {
  /** The manifest of a scenario bundle. */
  bundle: (hash: string) => `${PREFIX}:bundle:${hash}`,
  /** One file of a bundle, gzipped, by the SHA-256 of its contents. */
  file: (sha256: string) => `${PREFIX}:file:${sha256}`,
  /** A finished episode, waiting for its study to collect it. */
  result: (jobId: string) => `${PREFIX}:result:${jobId}`,
  /** The builds studies and workers used this Redis with (JSON), by when they last did (ms), for `arbor workers`. */
  builds: `${PREFIX}:builds`,
  /** A worker's heartbeat. */
  worker: (name: string) => `${PREFIX}:worker:${name}`,
  /** Worker names by the time of their last heartbeat (ms): who is alive, without scanning keys. */
  beats: `${PREFIX}:beats`,
  /** Why workers refused a study's jobs (newest first). */
  refusals: (study: string) => `${PREFIX}:refusals:${study}`,
  /** BullMQ's hash of a job on `queue`. */
  job: (queue: string, jobId: string) => `${PREFIX}:${queue}:${jobId}`,
  /** BullMQ's sorted set of the failed jobs of `queue`. */
  failed: (queue: string) => `${PREFIX}:${queue}:failed`,
};

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex');

/** The data of one BullMQ job: one episode, all a worker needs besides the bundle. */
export const JobData = z.strictObject({
  /** The study the episode belongs to (for logs and refusals). */
  study: z.string().min(1).max(200),
  /** The scenario bundle to run it in. */
  bundle: Sha256,
  /** The build the study runs; a worker on another one refuses the job. */
  build: Build,
  /** The policy, already checked against the scenario where it entered the study. */
  policy: PolicyFile,
  /** The episode seed. */
  seed: z.number().int().min(0).max(SEED_MAX),
  /** Largest compressed result the study takes (bytes); at least 4 KiB, where a failure's reason fits. */
  maxResultBytes: z.number().int().min(4096).max(MAX_RESULT_BYTES),
});
export type JobData = z.infer<typeof JobData>;

/**
 * A job's id: the study, candidate, split and seed a person can read, then a digest of what the
 * episode is (bundle, policy, seed), so the same episode always gets the same id and a second
 * `add` of it (a resume) is a no-op. BullMQ ids may not contain `:`.
 */
export function jobId(study: string, bundle: string, job: EpisodeJob): string {
  const candidate = job.candidate !== undefined ? `c${job.candidate}` : 'c-';
  const split = job.split ?? '-';
  const digest = createHash('sha256').update(JSON.stringify([bundle, job.policy, job.seed])).digest('hex').slice(0, 16);
  return `${study.replace(/[^A-Za-z0-9_.-]/g, '_')}.${candidate}.${split}.s${job.seed}.${digest}`;
}

/** JSON has no NaN: a non-finite number travels as null and comes back as NaN (the store keeps null either way). */
const Num = z.number().nullable().transform((v) => v ?? NaN);

const ResultBase = z.strictObject({
  /** Name of the worker that ran the episode. */
  worker: z.string().min(1).max(200),
  /** Wall-clock seconds of the episode on the worker. */
  wallTime: z.number().min(0),
});

/** What a worker reports besides the trace. */
const ResultHeader = z.discriminatedUnion('ok', [
  ResultBase.extend({
    ok: z.literal(true),
    success: z.boolean(),
    score: z.number(),
    outcome: z.string(),
    terms: z.record(z.string(), Num),
    metrics: z.record(z.string(), z.union([Num, z.string(), z.boolean()])),
  }),
  ResultBase.extend({
    ok: z.literal(false),
    reason: z.string(),
    aborted: z.boolean().optional(),
  }),
]);
type ResultHeader = z.input<typeof ResultHeader>;

/** A result as it arrives: the header checked, the trace decoded. */
export type RemoteResult = z.infer<typeof ResultHeader> & {
  /** The recorded topics (ok results only). */
  trace?: Trace;
};

/**
 * Packs a result: [u32 header length][header JSON][encoded trace], gzipped. Over `maxBytes` the
 * trace is dropped and the episode becomes a failure that says how big it was and what to raise.
 */
export function packResult(header: ResultHeader, trace: Trace | undefined, maxBytes: number): Buffer {
  const raw = rawResult(header, trace);
  const packed = gzipSync(raw);
  if (packed.length <= maxBytes && raw.length <= unpackedCap(maxBytes)) return packed;
  const reason =
    packed.length > maxBytes
      ? `The episode's result is ${size(packed.length)} compressed, over the queue's cap of ${size(maxBytes)}; ` +
        'record fewer or smaller topics, or raise --max-result-mb on arbor run.'
      : `The episode's result is ${size(raw.length)} before compression, over ${UNPACKED_PER_PACKED} times the queue's cap of ${size(maxBytes)}; ` +
        'record fewer or smaller topics, or raise --max-result-mb on arbor run.';
  // A few hundred bytes: under any cap a study sets (4 KiB at least).
  return gzipSync(rawResult({ ok: false, worker: header.worker, wallTime: header.wallTime, reason }, undefined));
}

/** [u32 header length][header JSON][encoded trace]. */
function rawResult(header: ResultHeader, trace: Trace | undefined): Buffer {
  const head = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32LE(head.length);
  return Buffer.concat([prefix, head, trace ? encodeTrace(trace) : new Uint8Array(0)]);
}

/** The most bytes a result under a compressed cap of `maxBytes` unpacks to. */
function unpackedCap(maxBytes: number): number {
  return Math.min(UNPACKED_PER_PACKED * maxBytes, 2 ** 32);
}

/** A byte count a person reads: KiB below a MiB. */
function size(bytes: number): string {
  return bytes < 2 ** 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * Unpacks a result packed under a cap of `maxBytes` (compressed); throws with a sentence when it
 * is not one. Never unpacks more than the cap allows, whatever the bytes claim.
 */
export function unpackResult(packed: Uint8Array, maxBytes = DEFAULT_MAX_RESULT_BYTES): RemoteResult {
  if (packed.length > maxBytes) throw new Error(`it is over the study's cap of ${size(maxBytes)}.`);
  let bytes: Buffer;
  try {
    bytes = gunzipSync(packed, { maxOutputLength: unpackedCap(maxBytes) });
  } catch (err) {
    const over = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw new Error(over ? `it unpacks to more than ${size(unpackedCap(maxBytes))}, which no arbor worker sends.` : `it is not gzip data (${(err as Error).message}).`);
  }
  if (bytes.length < 4) throw new Error('it is too short to be an arbor result.');
  const headLength = bytes.readUInt32LE(0);
  if (4 + headLength > bytes.length) throw new Error('it is cut short.');
  const header = parseJson(bytes.subarray(4, 4 + headLength).toString('utf8'));
  if (header === undefined) throw new Error('its header is not JSON.');
  const parsed = ResultHeader.safeParse(header);
  if (!parsed.success) throw new Error(`its header is malformed: ${parsed.error.issues[0]?.path.join('.') || 'the header'} ${parsed.error.issues[0]?.message}.`);
  const traceBytes = bytes.subarray(4 + headLength);
  if (!parsed.data.ok) return parsed.data;
  try {
    return { ...parsed.data, trace: decodeTrace(traceBytes) };
  } catch (err) {
    throw new Error(`its trace cannot be decoded (${(err as Error).message}).`);
  }
}

/** JSON text as a value; undefined (which no schema takes) when it is none. */
export function parseJson(text: string | null): unknown {
  try {
    return text === null ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What a worker tells the world every `BEAT_MS`. */
export const Heartbeat = z.strictObject({
  /** Worker name (`host-pid` unless given). */
  name: z.string(),
  /** Host it runs on. */
  host: z.string(),
  /** Process id. */
  pid: z.number().int(),
  /** Its build. */
  build: Build,
  /** Episodes it runs at once. */
  slots: z.number().int().min(1),
  /** Episodes running now. */
  busy: z.number().int().min(0),
  /** Episodes finished since it started. */
  episodes: z.number().int().min(0),
  /** Episodes per second over the last minute (or since it started, if sooner). */
  rate: z.number().min(0),
  /** When it started (ISO time). */
  started: z.string(),
});
export type Heartbeat = z.infer<typeof Heartbeat>;
