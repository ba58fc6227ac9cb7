/**
 * Live frames from running studies to pages. Each (study, worker) is a stream; the hub keeps only
 * its newest frame, and a 60 Hz tick poses it (once, however many pages watch) and sends it to
 * every subscribed page that is keeping up. A page is keeping up when it has acknowledged all but
 * a few of the frames sent to it and its socket buffer is small; otherwise the frame is dropped
 * for that page, so a slow page sees fewer frames, never older ones, and nothing queues up.
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import type { LiveFeed, LiveFrame, WorkerThroughput } from '../evaluation/live.ts';
import type { ViewerData } from './data.ts';
import type { LiveStreamInfo, ServerMessage } from './messages.ts';
import type { Poser } from './poser.ts';
import { encodeLiveFrame } from './protocol.ts';

/** Tuning of the hub. */
export interface LiveHubOptions {
  /** Most frames per second sent to one page. */
  fps?: number;
  /** Most frames sent to a page beyond its last ack. */
  window?: number;
  /** Socket buffer (bytes) above which frames are dropped for that page. */
  maxBuffered?: number;
}

/** Seconds without a frame after which a stream counts as idle. */
const IDLE_AFTER = 3;
/** Seconds without a frame after which a stream is forgotten. */
const FORGET_AFTER = 600;

interface Stream {
  info: LiveStreamInfo;
  latest: LiveFrame | undefined;
  /** Bumped on every incoming frame. */
  version: number;
  lastFrameAt: number;
  poser: Poser | undefined;
  poserState: 'none' | 'loading' | 'ready' | 'failed';
  setupSeed: number | undefined;
  /** A problem with this stream's frames was reported (once). */
  reported: boolean;
  /** The last posed frame, shared by all pages. */
  posed: { version: number; time: number; candidate: number; seed: number; poses: Float32Array; contacts: Float32Array } | undefined;
}

/** One page's live subscription. */
export interface LiveClient {
  /** Its socket. */
  ws: WebSocket;
  /** Stream it watches (null: the first active one); undefined: not subscribed. */
  stream: number | null | undefined;
  /** Sequence number of the last frame sent. */
  seq: number;
  /** Last acknowledged sequence number. */
  acked: number;
  /** Stream version of the last frame sent, per stream. */
  sentVersion: Map<number, number>;
  /** Frames sent and dropped (for tests and the bench). */
  stats: { sent: number; dropped: number };
}

/** Events of the hub. */
interface HubEvents {
  /** A study changed (candidate or episode event from a live feed). */
  study: [string];
  /** A study's per-worker throughput, as its run reports it. */
  workers: [{ study: string; workers: WorkerThroughput[] }];
}

export class LiveHub extends EventEmitter<HubEvents> {
  private readonly streams = new Map<string, Stream>();
  private readonly byIndex: Stream[] = [];
  private readonly clients = new Set<LiveClient>();
  private readonly detach: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private statusDirty = false;
  private readonly fps: number;
  private readonly window: number;
  private readonly maxBuffered: number;

  constructor(
    private readonly data: ViewerData,
    options: LiveHubOptions = {},
  ) {
    super();
    this.fps = options.fps ?? 60;
    this.window = options.window ?? 3;
    this.maxBuffered = options.maxBuffered ?? 256 * 1024;
  }

  /** Listens to a live feed until the returned function is called. */
  attach(feed: LiveFeed): () => void {
    const onFrame = (f: LiveFrame) => this.onFrame(f);
    const onStudy = (e: { study: string }) => this.emit('study', e.study);
    const onWorkers = (e: { study: string; workers: WorkerThroughput[] }) => this.emit('workers', e);
    feed.on('frame', onFrame);
    feed.on('candidate', onStudy);
    feed.on('episode', onStudy);
    feed.on('workers', onWorkers);
    // A viewer serves this feed in this process (`arbor run --view`): its frames are wanted.
    const unwatch = feed.watch();
    const off = () => {
      unwatch();
      feed.off('frame', onFrame);
      feed.off('candidate', onStudy);
      feed.off('episode', onStudy);
      feed.off('workers', onWorkers);
    };
    this.detach.push(off);
    return off;
  }

  /** True when any feed is attached. */
  get hasFeeds(): boolean {
    return this.detach.length > 0;
  }

  /** True when a live stream of this study is known (it may not be in the store yet). */
  isLiveStudy(study: string): boolean {
    for (const s of this.streams.values()) if (s.info.study === study) return true;
    return false;
  }

  /** Registers a page's socket. */
  addClient(ws: WebSocket): LiveClient {
    const client: LiveClient = { ws, stream: undefined, seq: 0, acked: 0, sentVersion: new Map(), stats: { sent: 0, dropped: 0 } };
    this.clients.add(client);
    if (this.byIndex.length) this.send(client, { type: 'live.status', streams: this.status() });
    this.updateTimers();
    return client;
  }

  removeClient(client: LiveClient): void {
    this.clients.delete(client);
    this.updateTimers();
  }

  /** Starts sending frames of `stream` (null: the first active stream). */
  subscribe(client: LiveClient, stream: number | null): void {
    client.stream = stream;
    client.acked = client.seq;
    this.send(client, { type: 'live.status', streams: this.status() });
    this.updateTimers();
  }

  unsubscribe(client: LiveClient): void {
    client.stream = undefined;
    this.updateTimers();
  }

  ack(client: LiveClient, seq: number): void {
    if (seq <= client.seq && seq > client.acked) client.acked = seq;
  }

  /** The streams as the page sees them. */
  status(): LiveStreamInfo[] {
    const now = performance.now() / 1000;
    return this.byIndex.filter(Boolean).map((s) => ({ ...s.info, active: now - s.lastFrameAt < IDLE_AFTER }));
  }

  close(): void {
    for (const off of this.detach) off();
    this.detach.length = 0;
    clearInterval(this.timer);
    clearInterval(this.statusTimer);
    this.timer = this.statusTimer = undefined;
    for (const s of this.streams.values()) s.poser?.dispose();
    this.streams.clear();
    this.clients.clear();
  }

  private onFrame(f: LiveFrame): void {
    const key = `${f.study}#${f.worker}`;
    let s = this.streams.get(key);
    if (!s) {
      const index = this.byIndex.length;
      s = {
        info: { stream: index, study: f.study, worker: f.worker, candidate: f.candidate, seed: f.seed, scene: '', geomSizes: {}, geomPositions: {}, active: true },
        latest: undefined,
        version: 0,
        lastFrameAt: 0,
        poser: undefined,
        poserState: 'none',
        setupSeed: undefined,
        reported: false,
        posed: undefined,
      };
      this.streams.set(key, s);
      this.byIndex.push(s);
      this.statusDirty = true;
    }
    if (s.info.candidate !== f.candidate || s.info.seed !== f.seed) {
      s.info.candidate = f.candidate;
      s.info.seed = f.seed;
      this.statusDirty = true;
    }
    if (performance.now() / 1000 - s.lastFrameAt >= IDLE_AFTER) this.statusDirty = true;
    s.latest = f;
    s.version++;
    s.lastFrameAt = performance.now() / 1000;
    if (s.poserState === 'none') this.loadPoser(s);
    this.updateTimers();
  }

  private loadPoser(s: Stream): void {
    s.poserState = 'loading';
    this.data.newStudyPoser(s.info.study).then(
      (poser) => {
        s.poser = poser;
        s.poserState = 'ready';
        s.info.scene = poser.scene.key;
        this.statusDirty = true;
      },
      (err: Error) => {
        s.poserState = 'failed';
        this.broadcast({ type: 'error', problem: { severity: 'error', message: `Live frames of study ${s.info.study} cannot be shown: ${err.message}`, tip: 'start arbor view with the --db of the running study' } });
      },
    );
  }

  /** Poses a stream's newest frame if not done yet; false when it cannot be posed now. */
  private pose(s: Stream): boolean {
    if (!s.latest || !s.poser) return false;
    if (s.posed?.version === s.version) return true;
    const f = s.latest;
    const poser = s.poser;
    try {
      if (s.setupSeed !== f.seed && poser.scenario) {
        s.info.geomSizes = poser.setEpisodeOfSeed(f.seed);
        s.info.geomPositions = poser.movedGeoms();
        s.setupSeed = f.seed;
        this.statusDirty = true;
      }
      poser.poseQpos(f.qpos);
    } catch (err) {
      s.latest = undefined;
      if (!s.reported) this.broadcast({ type: 'error', problem: { severity: 'error', message: (err as Error).message, tip: 'the running study and the viewer must use the same world' } });
      s.reported = true;
      return false;
    }
    const { poses, contacts } = poser.frame();
    s.posed = { version: s.version, time: f.time, candidate: f.candidate, seed: f.seed, poses, contacts };
    return true;
  }

  private tick(): void {
    if (this.statusDirty) this.flushStatus();
    const now = performance.now() / 1000;
    for (const c of this.clients) {
      if (c.stream === undefined) continue;
      const s = c.stream === null ? this.byIndex.find((x) => x && now - x.lastFrameAt < IDLE_AFTER) : this.byIndex[c.stream];
      if (!s || (c.sentVersion.get(s.info.stream) ?? 0) >= s.version) continue;
      if (c.seq - c.acked >= this.window || c.ws.bufferedAmount > this.maxBuffered) {
        c.stats.dropped++;
        continue;
      }
      if (!this.pose(s)) continue;
      const p = s.posed!;
      c.seq++;
      c.sentVersion.set(s.info.stream, s.version);
      c.stats.sent++;
      c.ws.send(encodeLiveFrame({ stream: s.info.stream, seq: c.seq, candidate: p.candidate, seed: p.seed, time: p.time, poses: p.poses, contacts: p.contacts }));
    }
  }

  /** Every page hears about streams (it shows their workers), subscribed or not. */
  private flushStatus(): void {
    this.statusDirty = false;
    const msg: ServerMessage = { type: 'live.status', streams: this.status() };
    for (const c of this.clients) this.send(c, msg);
  }

  private checkIdle(): void {
    const now = performance.now() / 1000;
    for (const [key, s] of this.streams) {
      const idle = now - s.lastFrameAt >= IDLE_AFTER;
      if (idle && s.info.active) this.statusDirty = true;
      s.info.active = !idle;
      if (now - s.lastFrameAt > FORGET_AFTER) {
        s.poser?.dispose();
        this.streams.delete(key);
        delete this.byIndex[s.info.stream];
        this.statusDirty = true;
      }
    }
    if (this.statusDirty) this.flushStatus();
  }

  private broadcast(msg: ServerMessage): void {
    for (const c of this.clients) if (c.stream !== undefined) this.send(c, msg);
  }

  private send(c: LiveClient, msg: ServerMessage): void {
    if (c.ws.readyState === c.ws.OPEN) c.ws.send(JSON.stringify(msg));
  }

  /** The frame tick runs only while a page is subscribed; the status check while any page is open. */
  private updateTimers(): void {
    const watched = [...this.clients].some((c) => c.stream !== undefined);
    if (watched && !this.timer) this.timer = setInterval(() => this.tick(), 1000 / this.fps);
    else if (!watched && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
    if (this.clients.size > 0 && !this.statusTimer) this.statusTimer = setInterval(() => this.checkIdle(), 1000);
    else if (this.clients.size === 0 && this.statusTimer) {
      clearInterval(this.statusTimer);
      this.statusTimer = undefined;
    }
  }
}
