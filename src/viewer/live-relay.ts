/**
 * A study running in one process, watched by `arbor view` in another. The run process calls
 * `publishLiveFeed(feed, dbPath)`: it serves its live feed on a loopback WebSocket with a random
 * token and announces it in `<dir of db>/live-<pid>.json` (mode 0600, removed on close or exit).
 * The viewer calls `watchLiveRelays(dir)`: it finds those files, connects, and re-emits what
 * arrives on one LiveFeed, as if the study ran in its own process.
 *
 * Frames are throttled to 60 per second per worker and dropped when a subscriber falls behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { LiveFeed, type LiveFrame, type WorkerThroughput } from '../evaluation/live.ts';
import { tokenMatches } from '../net/access-token.ts';

const RELAY_KIND = 2;
const RELAY_VERSION = 1;
const RELAY_HEADER = 24;
/** Socket buffer (bytes) above which frames are dropped for a subscriber. */
const MAX_BUFFERED = 1 << 20;
/** A relay announcement's file name; the number is the pid of the study process. */
const ANNOUNCEMENT_NAME = /^live-(\d+)\.json$/;

/** What a relay file announces. */
const Announcement = z.object({
  pid: z.number().int().positive(),
  port: z.number().int().min(1).max(65535),
  token: z.string().min(16),
  db: z.string(),
  started: z.string(),
});
type Announcement = z.infer<typeof Announcement>;

const RelayEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('candidate'), study: z.string(), candidate: z.number() }),
  z.object({ type: z.literal('episode'), study: z.string(), candidate: z.number(), seed: z.number() }),
  z.object({
    type: z.literal('workers'),
    study: z.string(),
    workers: z.array(z.object({ worker: z.string().max(200), episodes: z.number().int().min(0), rate: z.number().min(0) })).max(1000),
  }),
]);

/** A running relay. */
export interface LiveRelay {
  /** Loopback port it serves on. */
  port: number;
  /** The announcement file. */
  file: string;
  /** Stops serving and removes the file. */
  close(): Promise<void>;
}

/** Encodes a live frame for the relay (f64 qpos: the full state, exactly). */
export function encodeRelayFrame(f: LiveFrame): Uint8Array {
  const study = new TextEncoder().encode(f.study);
  const qposAt = (RELAY_HEADER + study.length + 7) & ~7;
  const out = new Uint8Array(qposAt + 8 * f.qpos.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, RELAY_KIND);
  v.setUint8(1, RELAY_VERSION);
  v.setUint16(2, f.worker, true);
  v.setUint32(4, f.candidate >>> 0, true);
  v.setUint32(8, f.seed >>> 0, true);
  v.setUint16(12, f.qpos.length, true);
  v.setUint16(14, study.length, true);
  v.setFloat64(16, f.time, true);
  out.set(study, RELAY_HEADER);
  new Float64Array(out.buffer, qposAt, f.qpos.length).set(f.qpos);
  return out;
}

/** Decodes a relay frame; throws on anything malformed. */
export function decodeRelayFrame(bytes: Uint8Array): LiveFrame {
  const u8 = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
  if (u8.length < RELAY_HEADER) throw new Error('A relay frame is too short.');
  const v = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  if (v.getUint8(0) !== RELAY_KIND || v.getUint8(1) !== RELAY_VERSION) throw new Error('Not a relay frame.');
  const nq = v.getUint16(12, true);
  const studyLength = v.getUint16(14, true);
  const qposAt = (RELAY_HEADER + studyLength + 7) & ~7;
  if (u8.length !== qposAt + 8 * nq) throw new Error(`A relay frame with ${nq} qpos values has ${qposAt + 8 * nq} bytes; got ${u8.length}.`);
  return {
    worker: v.getUint16(2, true),
    candidate: v.getUint32(4, true),
    seed: v.getUint32(8, true),
    time: v.getFloat64(16, true),
    study: new TextDecoder().decode(u8.subarray(RELAY_HEADER, RELAY_HEADER + studyLength)),
    qpos: new Float64Array(u8.buffer, u8.byteOffset + qposAt, nq).slice(),
  };
}

/** Serves `feed` on a loopback socket and announces it next to the database. */
export async function publishLiveFeed(feed: LiveFeed, dbPath: string, options: { fps?: number } = {}): Promise<LiveRelay> {
  const token = randomBytes(24).toString('hex');
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    maxPayload: 1024,
    verifyClient: ({ req }: { req: IncomingMessage }) => tokenMatches(new URL(req.url ?? '/', 'http://relay').searchParams.get('token'), token),
  });
  await new Promise<void>((ok, fail) => {
    wss.once('listening', ok);
    wss.once('error', fail);
  });
  const port = (wss.address() as { port: number }).port;
  const dir = dirname(resolve(dbPath));
  mkdirSync(dir, { recursive: true });
  removeDeadAnnouncements(dir);
  const file = join(dir, `live-${process.pid}.json`);
  const announcement: Announcement = { pid: process.pid, port, token, db: resolve(dbPath), started: new Date().toISOString() };
  writeFileSync(file, JSON.stringify(announcement), { mode: 0o600 });
  const removeFile = () => rmSync(file, { force: true });
  process.once('exit', removeFile);

  const latest = new Map<number, LiveFrame>();
  const onFrame = (f: LiveFrame) => void latest.set(f.worker, f);
  const onCandidate = (e: { study: string; candidate: number }) => broadcast(JSON.stringify({ type: 'candidate', ...e }));
  const onEpisode = (e: { study: string; candidate: number; seed: number }) => broadcast(JSON.stringify({ type: 'episode', ...e }));
  const onWorkers = (e: { study: string; workers: WorkerThroughput[] }) => broadcast(JSON.stringify({ type: 'workers', ...e }));
  const broadcast = (data: Uint8Array | string) => {
    for (const ws of wss.clients) if (ws.readyState === ws.OPEN && ws.bufferedAmount < MAX_BUFFERED) ws.send(data);
  };
  feed.on('frame', onFrame);
  feed.on('candidate', onCandidate);
  feed.on('episode', onEpisode);
  feed.on('workers', onWorkers);
  const timer = setInterval(() => {
    if (latest.size === 0 || wss.clients.size === 0) return;
    for (const f of latest.values()) broadcast(encodeRelayFrame(f));
    latest.clear();
  }, 1000 / (options.fps ?? 60));
  timer.unref();
  wss.on('connection', (ws) => {
    // A viewer process connected: the study's workers post frames while one is.
    ws.once('close', feed.watch());
    ws.on('message', () => ws.close(1008, 'the relay takes no messages'));
  });

  return {
    port,
    file,
    async close() {
      clearInterval(timer);
      feed.off('frame', onFrame);
      feed.off('candidate', onCandidate);
      feed.off('episode', onEpisode);
      feed.off('workers', onWorkers);
      process.off('exit', removeFile);
      removeFile();
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((ok) => wss.close(() => ok()));
    },
  };
}

/** Relays found in a directory, re-emitted on one feed. */
export interface RelayWatcher {
  /** Frames and study events of every relay. */
  feed: LiveFeed;
  /** Ports of the relays connected now. */
  connected(): number[];
  /** Looks for relays now (it also does every `intervalMs`). */
  scan(): void;
  close(): void;
}

/** Watches `dir` for relay files of live studies and subscribes to each. */
export function watchLiveRelays(dir: string, options: { intervalMs?: number; db?: string } = {}): RelayWatcher {
  const feed = new LiveFeed();
  const sockets = new Map<string, WebSocket>();
  let closed = false;
  const scan = () => {
    if (closed) return;
    for (const name of announcementFiles(dir)) {
      const path = join(dir, name);
      if (sockets.has(path)) continue;
      let a: Announcement;
      try {
        a = Announcement.parse(JSON.parse(readFileSync(path, 'utf8')));
      } catch {
        continue; // being written, or not ours
      }
      if (a.pid === process.pid || !alive(a.pid)) continue;
      if (options.db && resolve(options.db) !== a.db) continue;
      const ws = new WebSocket(`ws://127.0.0.1:${a.port}/?token=${a.token}`, { maxPayload: 1 << 20 });
      sockets.set(path, ws);
      ws.on('message', (data, isBinary) => {
        try {
          if (isBinary) feed.emit('frame', decodeRelayFrame(toBytes(data)));
          else {
            const e = RelayEvent.parse(JSON.parse(toBytes(data).toString()));
            if (e.type === 'candidate') feed.emit('candidate', { study: e.study, candidate: e.candidate });
            else if (e.type === 'episode') feed.emit('episode', { study: e.study, candidate: e.candidate, seed: e.seed });
            else feed.emit('workers', { study: e.study, workers: e.workers });
          }
        } catch {
          // A malformed message from a relay is skipped; the next frame replaces it anyway.
        }
      });
      ws.on('error', () => undefined);
      ws.on('close', () => {
        if (sockets.get(path) === ws) sockets.delete(path);
      });
    }
  };
  scan();
  const timer = setInterval(scan, options.intervalMs ?? 1000);
  timer.unref();
  return {
    feed,
    connected: () => [...sockets.values()].filter((ws) => ws.readyState === ws.OPEN).map((ws) => Number(new URL(ws.url).port)),
    scan,
    close() {
      closed = true;
      clearInterval(timer);
      for (const ws of sockets.values()) ws.terminate();
      sockets.clear();
    },
  };
}

/** Names of the relay announcements in `dir` (none when it does not exist yet). */
function announcementFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => ANNOUNCEMENT_NAME.test(n));
  } catch {
    return [];
  }
}

/** Removes announcements whose process is gone (killed studies cannot remove their own). */
function removeDeadAnnouncements(dir: string): void {
  for (const name of announcementFiles(dir)) {
    const pid = Number(ANNOUNCEMENT_NAME.exec(name)![1]);
    if (!alive(pid)) rmSync(join(dir, name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function toBytes(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

