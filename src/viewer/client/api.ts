/**
 * The page's only link to the server: JSON and binary GETs, and one WebSocket. Both carry the
 * token from the page's own URL (`?token=`). Nothing here can change anything on the server.
 */
import type { GauntletMatrix } from '../../transfer/gauntlet-matrix.ts';
import type { EpisodeImages, StudyView } from '../data.ts';
import type { LiveStreamInfo, Problem, ServerMessage, WorkerThroughput } from '../messages.ts';
import { decodeContacts, decodeEpisode, decodeLiveFrame, type EpisodeContacts, type EpisodeFrames, type LiveFrameMessage } from '../protocol.ts';
import type { SceneSpec } from '../scene-spec.ts';
import type { StudyListItem, ViewerInfo } from '../views.ts';

/** The server's JSON and binary endpoints, with the page's token; scenes are fetched once per query. */
export class Api {
  private readonly token: string | null;
  private readonly scenes = new Map<string, Promise<SceneSpec>>();

  /** Talks to the server that served `page` (its origin, and the `?token=` of its URL). */
  constructor(private readonly page: Location) {
    this.token = new URLSearchParams(page.search).get('token');
  }

  /** `path` on the server, with the token. */
  url(path: string): string {
    const u = new URL(path, this.page.origin);
    if (this.token) u.searchParams.set('token', this.token);
    return u.pathname + u.search;
  }

  /** The address of the page's WebSocket. */
  socketUrl(): string {
    const proto = this.page.protocol === 'https:' ? 'wss:' : 'ws:';
    return `${proto}//${this.page.host}${this.url('/ws')}`;
  }

  /** What the server offers (live, a model, a store). */
  info(): Promise<ViewerInfo> {
    return this.json('/api/info');
  }

  /** The studies of the store, newest first. */
  studies(): Promise<StudyListItem[]> {
    return this.json('/api/studies');
  }

  /** One study with its candidates and episodes. */
  study(id: string): Promise<StudyView> {
    return this.json(`/api/studies/${encodeURIComponent(id)}`);
  }

  /** A gauntlet study as its tier × axis heatmap. */
  gauntlet(id: string): Promise<GauntletMatrix> {
    return this.json(`/api/studies/${encodeURIComponent(id)}/gauntlet`);
  }

  /** A stored episode's image topics and vision checks. */
  images(id: number): Promise<EpisodeImages> {
    return this.json(`/api/episodes/${id}/images`);
  }

  /** Fetches and decodes a stored episode's replay blob. */
  async episode(id: number): Promise<EpisodeFrames> {
    return decodeEpisode(await (await this.get(`/api/episodes/${id}/frames`)).arrayBuffer());
  }

  /** Fetches the contacts of a stored episode's frames (they come after its poses). */
  async contacts(id: number): Promise<EpisodeContacts> {
    return decodeContacts(await (await this.get(`/api/episodes/${id}/contacts`)).arrayBuffer());
  }

  /** The address of one frame of a stored episode's image topic, as a PNG. */
  imageUrl(id: number, topic: string, frame: number): string {
    return this.url(`/api/episodes/${id}/image.png?topic=${encodeURIComponent(topic)}&frame=${frame}`);
  }

  /** The address of what a vision check saw in a stored episode, drawn, as a PNG. */
  visionUrl(id: number, check: string): string {
    return this.url(`/api/episodes/${id}/vision.png?check=${encodeURIComponent(check)}`);
  }

  /** The address of a stored episode as an MCAP file (Foxglove, ros2 bag); a link to it downloads the file. */
  mcapUrl(id: number): string {
    return this.url(`/api/episodes/${id}/mcap`);
  }

  /** The scene of a study or of the `--model` file (fetched once per query). */
  scene(query: { study?: string; model?: boolean }): Promise<SceneSpec> {
    const q = query.model ? 'model=1' : `study=${encodeURIComponent(query.study ?? '')}`;
    let p = this.scenes.get(q);
    if (!p) {
      p = this.json<SceneSpec>(`/api/scene?${q}`);
      this.scenes.set(q, p);
      p.catch(() => this.scenes.delete(q));
    }
    return p;
  }

  /** A JSON endpoint's answer (the server and the page share its type). */
  private async json<T>(path: string): Promise<T> {
    return (await this.get(path)).json();
  }

  /** A GET; an answer other than 2xx throws with the server's problem message. */
  private async get(path: string): Promise<Response> {
    const res = await fetch(this.url(path), { credentials: 'same-origin' });
    if (res.ok) return res;
    let message = `${res.status} ${res.statusText}`;
    try {
      const body: { problem?: Problem } = await res.json();
      if (body.problem) message = body.problem.message;
    } catch {
      // not JSON
    }
    throw new Error(message);
  }
}

/** Handlers of server pushes. */
export interface SocketHandlers {
  /** A binary live frame. */
  frame(f: LiveFrameMessage): void;
  /** The list of live streams changed. */
  status(streams: LiveStreamInfo[]): void;
  /** A watched study changed. */
  studyChanged(study: string): void;
  /** A watched study's per-worker throughput. */
  workers(study: string, workers: WorkerThroughput[]): void;
  /** A problem to show. */
  problem(p: Problem): void;
  /** Connection state. */
  connection(open: boolean): void;
}

/** The page's socket: reconnects with backoff, and replays its subscriptions after a reconnect. */
export class Socket {
  private ws: WebSocket | undefined;
  private live: number | null | undefined;
  private study: string | undefined;
  private retry = 500;
  private closed = false;

  /** Connects to `url` (`Api.socketUrl()`), and again after each drop. */
  constructor(
    private readonly url: string,
    private readonly on: SocketHandlers,
  ) {
    this.connect();
  }

  subscribeLive(stream: number | null): void {
    this.live = stream;
    this.send({ type: 'live.subscribe', stream });
  }

  unsubscribeLive(): void {
    this.live = undefined;
    this.send({ type: 'live.unsubscribe' });
  }

  ack(seq: number): void {
    this.send({ type: 'live.ack', seq });
  }

  watchStudy(study: string | undefined): void {
    this.study = study;
    this.send(study ? { type: 'study.watch', study } : { type: 'study.unwatch' });
  }

  /** Sends raw text (tests use it to send malformed messages). */
  sendRaw(text: string): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
  }

  private send(msg: object): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  private connect(): void {
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.retry = 500;
      this.on.connection(true);
      if (this.live !== undefined) this.send({ type: 'live.subscribe', stream: this.live });
      if (this.study) this.send({ type: 'study.watch', study: this.study });
    };
    ws.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) {
        try {
          this.on.frame(decodeLiveFrame(ev.data));
        } catch (err) {
          this.on.problem({ severity: 'warn', message: `A live frame could not be read: ${(err as Error).message}` });
        }
        return;
      }
      const msg = JSON.parse(String(ev.data)) as ServerMessage;
      if (msg.type === 'live.status') this.on.status(msg.streams);
      else if (msg.type === 'study.changed') this.on.studyChanged(msg.study);
      else if (msg.type === 'study.workers') this.on.workers(msg.study, msg.workers);
      else if (msg.type === 'error') this.on.problem(msg.problem);
    };
    ws.onclose = () => {
      this.on.connection(false);
      if (this.closed) return;
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 8000);
    };
  }
}
