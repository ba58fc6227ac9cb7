/**
 * The page's only link to the server: JSON and binary GETs, and one WebSocket. Both carry the
 * token from the page's own URL (`?token=`). Nothing here can change anything on the server.
 */
import type { LiveStreamInfo, Problem, ServerMessage, WorkerThroughput } from '../messages.ts';
import { decodeContacts, decodeEpisode, decodeLiveFrame, type EpisodeContacts, type EpisodeFrames, type LiveFrameMessage } from '../protocol.ts';
import type { SceneSpec } from '../scene-spec.ts';

const token = new URLSearchParams(location.search).get('token');

function url(path: string): string {
  const u = new URL(path, location.origin);
  if (token) u.searchParams.set('token', token);
  return u.pathname + u.search;
}

async function get(path: string): Promise<Response> {
  const res = await fetch(url(path), { credentials: 'same-origin' });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { problem?: Problem };
      if (body.problem) message = body.problem.message;
    } catch {
      // not JSON
    }
    throw new Error(message);
  }
  return res;
}

/** GET a JSON endpoint. */
export async function getJson<T>(path: string): Promise<T> {
  return (await get(path)).json() as Promise<T>;
}

/** Fetches and decodes a stored episode's replay blob. */
export async function getEpisode(id: number): Promise<EpisodeFrames> {
  const buf = await (await get(`/api/episodes/${id}/frames`)).arrayBuffer();
  return decodeEpisode(buf);
}

/** Fetches the contacts of a stored episode's frames (they come after its poses). */
export async function getContacts(id: number): Promise<EpisodeContacts> {
  return decodeContacts(await (await get(`/api/episodes/${id}/contacts`)).arrayBuffer());
}

/** The address of one frame of a stored episode's image topic, as a PNG. */
export function imageUrl(id: number, topic: string, frame: number): string {
  return url(`/api/episodes/${id}/image.png?topic=${encodeURIComponent(topic)}&frame=${frame}`);
}

/** The address of what a vision check saw in a stored episode, drawn, as a PNG. */
export function visionUrl(id: number, check: string): string {
  return url(`/api/episodes/${id}/vision.png?check=${encodeURIComponent(check)}`);
}

/** The address of a stored episode as an MCAP file (Foxglove, ros2 bag); a link to it downloads the file. */
export function episodeMcapUrl(id: number): string {
  return url(`/api/episodes/${id}/mcap`);
}

const scenes = new Map<string, Promise<SceneSpec>>();
/** The scene of a study or of the `--model` file (cached per query). */
export function getScene(query: { study?: string; model?: boolean }): Promise<SceneSpec> {
  const q = query.model ? 'model=1' : `study=${encodeURIComponent(query.study ?? '')}`;
  let p = scenes.get(q);
  if (!p) {
    p = getJson<SceneSpec>(`/api/scene?${q}`);
    scenes.set(q, p);
    p.catch(() => scenes.delete(q));
  }
  return p;
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

  constructor(private readonly on: SocketHandlers) {
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
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}${url('/ws')}`);
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
