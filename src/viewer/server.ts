/**
 * `arbor view`'s server: node:http for the page, its files and read-only JSON/binary endpoints,
 * and one WebSocket path (/ws) for live frames and study-change notices.
 *
 * Security: it binds 127.0.0.1 unless told otherwise. Serving another interface needs a token
 * (given, or generated and printed in the URL); with a token, every request and socket without it
 * is refused with 401. The token is accepted as `?token=`, `Authorization: Bearer`, or the cookie
 * the page gets when it is loaded with `?token=`. Without a token, requests must name a loopback
 * host (no DNS rebinding), and sockets must come from the page's own origin. Everything is
 * read-only: only GET/HEAD exist, and sockets accept only watch requests.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { LiveFeed } from '../evaluation/live.ts';
import { accessToken, LOOPBACK, offeredToken, tokenMatches } from '../net/access-token.ts';
import { asset, clientBundle, CSP } from './assets.ts';
import { NotFound, ViewerData } from './data.ts';
import { LiveHub, type LiveClient, type LiveHubOptions } from './live-hub.ts';
import { watchLiveRelays, type RelayWatcher } from './live-relay.ts';
import { parseClientMessage, type Problem, type ServerMessage } from './messages.ts';
import { StudyWatch } from './study-watch.ts';
import type { ViewerInfo } from './views.ts';

/** How to start the viewer. */
export interface ViewerOptions {
  /** TCP port (0: any free port). Default 8080. */
  port?: number;
  /** Interface to bind. Default 127.0.0.1; anything else requires a token (generated if not given). */
  host?: string;
  /** Access token; required on every request and socket when set. */
  token?: string;
  /** Study database to read (read-only). */
  dbPath?: string;
  /** An MJCF model to show on its own. */
  model?: string;
  /** A live feed in this process (`arbor run --view`). */
  live?: LiveFeed;
  /** Scenario of live studies not (yet) in the store. */
  liveScenario?: string;
  /** Subscribe to studies running in other processes next to the db (default: true with a db). */
  watchRelays?: boolean;
  /** Live streaming tuning (tests). */
  liveOptions?: LiveHubOptions;
}

/** A running viewer. */
export interface ViewerServer {
  /** The page's URL, with the token when there is one. */
  url: string;
  /** The bound port. */
  port: number;
  /** The token, when requests need one. */
  token: string | undefined;
  /** The live hub (for tests and benchmarks). */
  hub: LiveHub;
  /** Pages watching studies (for tests). */
  studyWatch: StudyWatch;
  /** Stops serving and frees everything. */
  close(): Promise<void>;
}

/** Most sockets served at once. */
const MAX_SOCKETS = 64;
/** Socket messages above this are refused by closing the socket (1009); smaller oversized ones get an error reply. */
const MAX_PAYLOAD = 1 << 20;
/** How often watched studies are checked for changes made by another process (ms). */
const POLL_MS = 2000;

/** Starts the viewer's server. */
export async function startViewer(options: ViewerOptions = {}): Promise<ViewerServer> {
  const host = options.host ?? '127.0.0.1';
  const token = accessToken(host, options.token);
  const dbPath = options.dbPath ? resolve(options.dbPath) : undefined;
  const data = new ViewerData(dbPath, options.model ? resolve(options.model) : undefined, options.liveScenario);
  const hub = new LiveHub(data, options.liveOptions);
  if (options.live) hub.attach(options.live);
  let relays: RelayWatcher | undefined;
  if (dbPath && options.watchRelays !== false) {
    relays = watchLiveRelays(dirname(dbPath), { db: dbPath });
    hub.attach(relays.feed);
  }
  // Compile the page's code before the first request needs it.
  clientBundle().catch(() => undefined);

  let port = options.port ?? 8080;
  const cookieName = () => `arbor_token_${port}`;

  /** Why a request may not proceed, or undefined when it may. */
  const refuse = (req: IncomingMessage, url: URL): { status: number; message: string } | undefined => {
    if (token !== undefined) {
      const given = offeredToken(req, url) ?? parseCookies(req.headers.cookie)[cookieName()];
      return tokenMatches(given, token) ? undefined : { status: 401, message: 'This viewer needs its token: open the URL arbor view printed (it ends in ?token=...).' };
    }
    const hostname = hostOf(req.headers.host);
    if (!hostname || !LOOPBACK.has(hostname)) return { status: 403, message: `Host '${req.headers.host ?? ''}' is refused: this viewer serves loopback only.` };
    return undefined;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: Error) => sendProblem(res, 500, { severity: 'error', message: err.message }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://viewer');
    const refused = refuse(req, url);
    if (refused) return sendProblem(res, refused.status, { severity: 'error', message: refused.message });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendProblem(res, 405, { severity: 'error', message: 'The viewer is read-only: only GET and HEAD are served.' });
    }
    const path = url.pathname;
    if (path.startsWith('/api/')) return answerApi({ data, hub, model: Boolean(options.model) }, path, url, res);
    const file = await asset(path);
    if (!file) return sendProblem(res, 404, { severity: 'error', message: `Nothing is served at ${path}.` });
    if ((path === '/' || path === '/index.html') && token !== undefined && url.searchParams.get('token')) {
      // The page's subresources and socket then carry the token as a cookie.
      res.setHeader('Set-Cookie', `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    }
    send(res, 200, file.body, file.type, path.startsWith('/vendor/') ? 'max-age=3600' : 'no-cache', req.method === 'HEAD');
  }

  // ----- sockets -------------------------------------------------------------------------------

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD });
  const studyWatch = new StudyWatch(data, (study) => hub.isLiveStudy(study), POLL_MS);
  hub.on('study', (study) => studyWatch.changed(study));
  hub.on('workers', (e) => studyWatch.workers(e.study, e.workers));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://viewer');
    const refused = refuse(req, url) ?? (url.pathname !== '/ws' ? { status: 404, message: 'Not found' } : undefined) ?? (wss.clients.size >= MAX_SOCKETS ? { status: 503, message: 'Too many viewers' } : undefined);
    const origin = req.headers.origin;
    // Sockets come from the page itself: a page of another site may not use the viewer's cookie.
    const badOrigin = origin !== undefined && originHost(origin) !== (req.headers.host ?? '').toLowerCase();
    if (refused || badOrigin) {
      const status = refused?.status ?? 403;
      socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 503 ? 'Service Unavailable' : 'Not Found'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  wss.on('connection', (ws: WebSocket) => serveSocket(ws, hub, studyWatch));

  port = await listen(server, port, host);
  const url = pageUrl(host, port, token);

  return {
    url,
    port,
    token,
    hub,
    studyWatch,
    async close() {
      studyWatch.close();
      relays?.close();
      hub.close();
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
      await data.close();
    },
  };
}

/** What the `/api/` endpoints read. */
interface ApiContext {
  /** The store, scenes and replay blobs. */
  data: ViewerData;
  /** The live hub (does the viewer take live studies). */
  hub: LiveHub;
  /** True when a model was given. */
  model: boolean;
}

/** Answers one GET under `/api/`: JSON, replay blobs, PNGs, MCAP; a problem with its status otherwise. */
async function answerApi({ data, hub, model }: ApiContext, path: string, url: URL, res: ServerResponse): Promise<void> {
  try {
    let m: RegExpExecArray | null;
    if (path === '/api/info') {
      const info: ViewerInfo = { live: hub.hasFeeds, model, db: Boolean(data.getStore()), readonly: true };
      return sendJson(res, info);
    }
    if (path === '/api/studies') return sendJson(res, data.studies());
    if ((m = /^\/api\/studies\/([^/]+)$/.exec(path))) return sendJson(res, await data.study(decodeURIComponent(m[1])));
    if ((m = /^\/api\/studies\/([^/]+)\/gauntlet$/.exec(path))) return sendJson(res, data.gauntlet(decodeURIComponent(m[1])));
    if (path === '/api/scene') {
      return sendJson(res, await data.scene({ study: url.searchParams.get('study') ?? undefined, model: url.searchParams.get('model') === '1' }));
    }
    if ((m = /^\/api\/episodes\/(\d+)\/frames$/.exec(path))) {
      const blob = await data.episodeBlob(Number(m[1]));
      return send(res, 200, Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength), 'application/octet-stream', 'private, max-age=3600');
    }
    if ((m = /^\/api\/episodes\/(\d+)\/contacts$/.exec(path))) {
      const blob = await data.episodeContacts(Number(m[1]));
      return send(res, 200, Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength), 'application/octet-stream', 'private, max-age=3600');
    }
    if ((m = /^\/api\/episodes\/(\d+)\/images$/.exec(path))) return sendJson(res, await data.episodeImages(Number(m[1])));
    if ((m = /^\/api\/episodes\/(\d+)\/image\.png$/.exec(path))) {
      const png = data.imagePng(Number(m[1]), url.searchParams.get('topic') ?? '', Number(url.searchParams.get('frame') ?? '0'));
      return send(res, 200, png, 'image/png', 'private, max-age=3600');
    }
    if ((m = /^\/api\/episodes\/(\d+)\/vision\.png$/.exec(path))) {
      const png = await data.visionPng(Number(m[1]), url.searchParams.get('check') ?? '');
      return send(res, 200, png, 'image/png', 'private, max-age=3600');
    }
    if ((m = /^\/api\/episodes\/(\d+)\/mcap$/.exec(path))) {
      const { bytes, fileName } = await data.episodeMcap(Number(m[1]));
      return send(res, 200, bytes, 'application/octet-stream', 'private, max-age=3600', false, { 'Content-Disposition': `attachment; filename="${fileName}"` });
    }
    return sendProblem(res, 404, { severity: 'error', message: `No endpoint ${path}.`, tip: 'endpoints: /api/info, /api/studies, /api/studies/ID, /api/studies/ID/gauntlet, /api/scene?study=ID|model=1, /api/episodes/ID/frames, /api/episodes/ID/contacts, /api/episodes/ID/images, /api/episodes/ID/image.png?topic=T&frame=N, /api/episodes/ID/vision.png?check=C, /api/episodes/ID/mcap' });
  } catch (err) {
    if (err instanceof NotFound) return sendProblem(res, 404, { severity: 'error', message: err.message });
    if (err instanceof URIError) {
      return sendProblem(res, 400, { severity: 'error', message: `${path} is not a valid path: a % must start a percent-encoded byte such as %20.`, tip: 'encode ids with encodeURIComponent' });
    }
    return sendProblem(res, 500, { severity: 'error', message: (err as Error).message });
  }
}

/** Serves one page's socket: its watch requests (answered with an error when malformed), and what it watches. */
function serveSocket(ws: WebSocket, hub: LiveHub, studyWatch: StudyWatch): void {
  const client: LiveClient = hub.addClient(ws);
  const say = (msg: ServerMessage) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(msg));
  say({ type: 'hello', version: 1, live: hub.hasFeeds });
  ws.on('message', (raw, isBinary) => {
    const msg = parseClientMessage(raw as Buffer | Buffer[], isBinary);
    if ('severity' in msg) return say({ type: 'error', problem: msg });
    switch (msg.type) {
      case 'live.subscribe':
        return hub.subscribe(client, msg.stream);
      case 'live.unsubscribe':
        return hub.unsubscribe(client);
      case 'live.ack':
        return hub.ack(client, msg.seq);
      case 'study.watch': {
        const problem = studyWatch.watch(ws, msg.study);
        return problem && say({ type: 'error', problem });
      }
      case 'study.unwatch':
        return studyWatch.unwatch(ws);
      case 'ping':
        return say({ type: 'pong', id: msg.id });
    }
  });
  ws.on('close', () => {
    hub.removeClient(client);
    studyWatch.unwatch(ws);
  });
  ws.on('error', () => undefined);
}

/** Listens on `host:port` (0: any free port); resolves with the bound port. */
async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** The page's URL as printed: a wildcard bind is shown as loopback, with the token when there is one. */
function pageUrl(host: string, port: number, token: string | undefined): string {
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  return `http://${shownHost}:${port}/${token !== undefined ? `?token=${token}` : ''}`;
}

function send(res: ServerResponse, status: number, body: Buffer, type: string, cache: string, headOnly = false, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': type,
    'Content-Length': body.length,
    'Cache-Control': cache,
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': CSP,
    'Referrer-Policy': 'no-referrer',
  });
  res.end(headOnly ? undefined : body);
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, Buffer.from(JSON.stringify(value)), 'application/json; charset=utf-8', 'no-store');
}

function sendProblem(res: ServerResponse, status: number, problem: Problem): void {
  if (res.headersSent) return void res.end();
  send(res, status, Buffer.from(JSON.stringify({ problem })), 'application/json; charset=utf-8', 'no-store');
}

function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function originHost(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The hostname of a Host header (without port; IPv6 without brackets). */
function hostOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(host) ?? /^([^:]+)(?::\d+)?$/.exec(host);
  return m?.[1].toLowerCase();
}
