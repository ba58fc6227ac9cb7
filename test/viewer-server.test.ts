/**
 * The viewer's server, for real: a study in a real SQLite store with real MuJoCo episodes, the
 * server on 127.0.0.1, real sockets. Endpoints, tokens, hostile socket messages, live frame
 * throttling and dropping, and a study running in another process seen through the relay.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveFeed } from '../src/evaluation/live.ts';
import type { StudyView } from '../src/viewer/data.ts';
import { publishLiveFeed, watchLiveRelays } from '../src/viewer/live-relay.ts';
import { makeDemoStudy, type DemoStudy } from './fixtures/demo-study.ts';
import type { SceneSpec } from '../src/viewer/scene-spec.ts';
import { decodeEpisode, decodeLiveFrame, type LiveFrameMessage } from '../src/viewer/protocol.ts';
import { startViewer, type ViewerServer } from '../src/viewer/server.ts';

let dir: string;
let demo: DemoStudy;
let viewer: ViewerServer;
let feed: LiveFeed;
/** A valid full qpos of the pick-and-place world (the home pose with the cube on the table). */
let qpos: number[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arbor-viewer-server-'));
  demo = await makeDemoStudy(dir, [1]);
  feed = new LiveFeed();
  viewer = await startViewer({ port: 0, dbPath: demo.dbPath, live: feed });
  const scene = await getJson<SceneSpec>(`/api/scene?study=${demo.studyId}`);
  expect(scene.dynamic.length).toBeGreaterThan(5);
  const { Poser } = await import('../src/viewer/poser.ts');
  const poser = await Poser.ofScenario(demo.scenario, 'q');
  qpos = Array.from(poser.world.data.qpos as Float64Array);
  poser.dispose();
});

afterAll(async () => {
  await viewer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = () => viewer.url.replace(/\/$/, '');
async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(base() + path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as T;
}

/** A socket with a queue of received messages. */
async function connect(url: string, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; next: (pred?: (m: unknown) => boolean, ms?: number) => Promise<unknown>; frames: LiveFrameMessage[] }> {
  const ws = new WebSocket(url, { headers });
  const queue: unknown[] = [];
  const frames: LiveFrameMessage[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) frames.push(decodeLiveFrame(data as Buffer));
    else queue.push(JSON.parse(String(data)));
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  const next = async (pred: (m: unknown) => boolean = () => true, ms = 3000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = queue.findIndex(pred);
      if (i >= 0) return queue.splice(i, 1)[0];
      if (Date.now() > deadline) throw new Error(`no matching message in ${ms} ms; got ${JSON.stringify(queue)}`);
      await new Promise<void>((ok) => {
        waiters.push(ok);
        setTimeout(ok, 50);
      });
    }
  };
  return { ws, next, frames };
}
const wsUrl = (v: ViewerServer, query = '') => `ws://127.0.0.1:${v.port}/ws${query}`;
const isType = (type: string) => (m: unknown) => (m as { type?: string }).type === type;

/** Status of a request to the viewer with raw headers (fetch cannot set Host). */
function rawStatus(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<number> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      res.resume();
      ok(res.statusCode ?? 0);
    });
    req.on('error', fail);
    req.end();
  });
}

describe('endpoints', () => {
  it('lists the study, its candidates and episodes, and serves replay blobs', async () => {
    const studies = await getJson<{ id: string; candidates: number }[]>('/api/studies');
    expect(studies.map((s) => [s.id, s.candidates])).toEqual([[demo.studyId, 4]]);
    const view = await getJson<StudyView>(`/api/studies/${demo.studyId}`);
    expect(view.candidates.map((c) => c.status)).toEqual(['keep', 'keep', 'discard', 'crash']);
    expect(view.episodes).toHaveLength(4);
    expect(view.params.map((p) => p.name)).toContain('grasp_depth');
    // The page's JSON is camelCase only: the store's snake_case contents were renamed in src/viewer/views.ts
    // (the names of a scenario's parameters are values, and keys only of a candidate's `params`).
    const keys = (v: unknown): string[] => (v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [k, ...(k === 'params' && !Array.isArray(x) ? [] : keys(x))]) : []);
    expect([...keys(view), ...keys(studies)].filter((k) => k.includes('_'))).toEqual([]);
    expect(view.candidates[1].params).toMatchObject({ grasp_depth: expect.any(Number) });

    const id = demo.episodes[1][0];
    const res = await fetch(`${base()}/api/episodes/${id}/frames`);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const ep = decodeEpisode(new Uint8Array(await res.arrayBuffer()));
    expect(ep.header.frames).toBeGreaterThan(100);
    expect(ep.header.episode).toMatchObject({ id, study: demo.studyId, candidateId: demo.candidates[1] });
    const scene = await getJson<SceneSpec>(`/api/scene?study=${demo.studyId}`);
    expect(ep.header.bodies).toEqual(scene.dynamic);
    expect(ep.header.scene).toBe(scene.key);
  });

  it('answers what it cannot serve with a problem, and is read-only', async () => {
    const crash = demo.episodes[3][0];
    const res = await fetch(`${base()}/api/episodes/${crash}/frames`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { problem: { message: string } }).problem.message).toMatch(/without a trace/);
    expect((await fetch(`${base()}/api/studies/nope`)).status).toBe(404);
    expect((await fetch(`${base()}/../../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${base()}/vendor/../package.json`)).status).toBe(404);
    expect((await fetch(`${base()}/api/studies`, { method: 'POST', body: '{}' })).status).toBe(405);
    expect((await fetch(`${base()}/api/studies/${demo.studyId}`, { method: 'DELETE' })).status).toBe(405);
    // A loopback viewer without a token refuses foreign Host names (DNS rebinding).
    expect(await rawStatus(viewer.port, '/api/studies', { Host: 'evil.example:80' })).toBe(403);
    expect(await rawStatus(viewer.port, '/api/studies', { Host: `localhost:${viewer.port}` })).toBe(200);
  });

  it('serves the page, its bundle and the vendor files of the import map', async () => {
    const html = await (await fetch(`${base()}/`)).text();
    expect(html).toContain('"three":"/vendor/three/three.module.js"');
    for (const path of ['/app.js', '/style.css', '/vendor/three/three.module.js', '/vendor/three/three.core.js', '/vendor/three/addons/controls/OrbitControls.js', '/vendor/uplot/uPlot.esm.js', '/vendor/uplot/uPlot.min.css']) {
      const res = await fetch(base() + path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    }
  });
});

describe('tokens', () => {
  it('refuses every request and socket without the token when one is set', async () => {
    const v = await startViewer({ port: 0, token: 'test-token-123456', dbPath: demo.dbPath, watchRelays: false });
    try {
      const root = `http://127.0.0.1:${v.port}`;
      expect(v.url).toBe(`${root}/?token=test-token-123456`);
      for (const path of ['/', '/app.js', '/api/studies', `/api/episodes/${demo.episodes[0][0]}/frames`]) expect((await fetch(root + path)).status, path).toBe(401);
      expect((await fetch(`${root}/api/studies?token=wrong-token-123456`)).status).toBe(401);
      const page = await fetch(v.url);
      expect(page.status).toBe(200);
      const cookie = page.headers.get('set-cookie')!.split(';')[0];
      expect(cookie).toBe(`arbor_token_${v.port}=test-token-123456`);
      expect((await fetch(`${root}/app.js`, { headers: { cookie } })).status).toBe(200);
      expect((await fetch(`${root}/api/studies`, { headers: { authorization: 'Bearer test-token-123456' } })).status).toBe(200);

      const refused = await new Promise<number>((ok) => {
        const ws = new WebSocket(wsUrl(v));
        ws.on('unexpected-response', (_req, res) => ok(res.statusCode ?? 0));
        ws.on('open', () => ok(101));
        ws.on('error', () => undefined);
      });
      expect(refused).toBe(401);
      const { ws, next } = await connect(wsUrl(v, '?token=test-token-123456'));
      expect(await next(isType('hello'))).toMatchObject({ type: 'hello' });
      ws.close();
    } finally {
      await v.close();
    }
  });

  it('generates a token when serving another interface', async () => {
    const v = await startViewer({ port: 0, host: '0.0.0.0', watchRelays: false });
    try {
      expect(v.token).toMatch(/^[0-9a-f]{32}$/);
      expect(v.url).toContain(`?token=${v.token}`);
      expect((await fetch(`http://127.0.0.1:${v.port}/api/info`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${v.port}/api/info?token=${v.token}`)).status).toBe(200);
    } finally {
      await v.close();
    }
  });
});

describe('socket messages', () => {
  it('answers malformed and oversized messages with an error and keeps serving', async () => {
    const { ws, next } = await connect(wsUrl(viewer));
    await next(isType('hello'));
    const problem = async () => ((await next(isType('error'))) as { problem: { message: string } }).problem.message;
    ws.send('not json at all');
    expect(await problem()).toMatch(/not JSON/);
    ws.send(JSON.stringify({ type: 'start', study: demo.studyId }));
    expect(await problem()).toMatch(/not a viewer request/);
    ws.send(JSON.stringify({ type: 'live.subscribe', stream: 'all' }));
    expect(await problem()).toMatch(/'stream'/);
    ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(10_000) }));
    expect(await problem()).toMatch(/limit is 4096/);
    ws.send(Buffer.from([1, 2, 3]));
    expect(await problem()).toMatch(/Binary/);
    ws.send(JSON.stringify({ type: 'ping', id: 7 }));
    expect(await next(isType('pong'))).toEqual({ type: 'pong', id: 7 });

    // Beyond the socket's hard cap the socket is closed (1009); the server goes on.
    const code = await new Promise<number>((ok) => {
      ws.on('close', (c) => ok(c));
      ws.send(Buffer.alloc(2 << 20, 'a').toString());
    });
    expect(code).toBe(1009);
    const again = await connect(wsUrl(viewer));
    await again.next(isType('hello'));
    again.ws.send(JSON.stringify({ type: 'ping', id: 8 }));
    expect(await again.next(isType('pong'))).toEqual({ type: 'pong', id: 8 });
    again.ws.close();
    expect((await fetch(`${base()}/api/studies`)).status).toBe(200);
  });

  it('refuses sockets from another origin', async () => {
    const status = await new Promise<number>((ok) => {
      const ws = new WebSocket(wsUrl(viewer), { headers: { Origin: 'http://evil.example' } });
      ws.on('unexpected-response', (_req, res) => ok(res.statusCode ?? 0));
      ws.on('open', () => ok(101));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(403);
  });
});

describe('live frames', () => {
  it('streams at most 60 frames per second to a page that keeps up, and drops for one that does not', async () => {
    const fast = await connect(wsUrl(viewer));
    const slow = await connect(wsUrl(viewer));
    fast.ws.send(JSON.stringify({ type: 'live.subscribe', stream: null }));
    slow.ws.send(JSON.stringify({ type: 'live.subscribe', stream: null }));
    let t = 0;
    // The study emits ~1000 frames per second, far more than a page should get.
    const timer = setInterval(() => {
      for (let k = 0; k < 5; k++) {
        t += 0.002;
        const q = Float64Array.from(qpos);
        q[0] = Math.sin(t); // shoulder_pan sweeps
        feed.emit('frame', { worker: 0, study: demo.studyId, candidate: demo.candidates[1], seed: 1, time: t, qpos: q });
      }
    }, 5);
    // The fast page acknowledges every frame as it arrives.
    const acker = setInterval(() => {
      const last = fast.frames.at(-1);
      if (last) fast.ws.send(JSON.stringify({ type: 'live.ack', seq: last.seq }));
    }, 4);
    try {
      const status = (await fast.next(isType('live.status'), 5000)) as { type: string };
      expect(status.type).toBe('live.status');
      await new Promise((ok) => setTimeout(ok, 600)); // the stream's world loads
      const before = fast.frames.length;
      const started = performance.now();
      await new Promise((ok) => setTimeout(ok, 1000));
      const fps = ((fast.frames.length - before) * 1000) / (performance.now() - started);
      expect(fps).toBeGreaterThanOrEqual(30);
      expect(fps).toBeLessThanOrEqual(65);
      // The slow page never acknowledges: it got the window of 3 frames, no more.
      expect(slow.frames.length).toBe(3);
      // Frames are whole and newest-first: times increase.
      const times = fast.frames.map((f) => f.time);
      expect(times.every((x, i) => i === 0 || x > times[i - 1])).toBe(true);
      expect(fast.frames.at(-1)!.poses.length).toBe(7 * (await getJson<SceneSpec>(`/api/scene?study=${demo.studyId}`)).dynamic.length);
    } finally {
      clearInterval(timer);
      clearInterval(acker);
      fast.ws.close();
      slow.ws.close();
    }
  });
});

describe('a study running in another process', () => {
  it('relays its frames and study events over a loopback socket announced next to the db', async () => {
    // In this process first: publish, find, receive.
    const local = new LiveFeed();
    const relay = await publishLiveFeed(local, demo.dbPath);
    expect(statSync(relay.file).mode & 0o777).toBe(0o600);
    // The feed counts as watched (its study's workers post frames) only while a viewer is connected.
    const { token } = JSON.parse(readFileSync(relay.file, 'utf8')) as { token: string };
    const changes: boolean[] = [];
    local.on('watched', (on) => changes.push(on));
    expect(local.watched).toBe(false);
    const watched = new Promise((ok) => local.once('watched', ok));
    const client = new WebSocket(`ws://127.0.0.1:${relay.port}/?token=${token}`);
    await Promise.all([watched, new Promise((ok, fail) => client.once('open', ok).once('error', fail))]);
    expect(local.watched).toBe(true);
    const unwatched = new Promise((ok) => local.once('watched', ok));
    client.close();
    await unwatched;
    expect(local.watched).toBe(false);
    expect(changes).toEqual([true, false]);
    await relay.close();
    expect(existsSync(relay.file)).toBe(false);

    // Then for real: a child process publishes; the viewer (same db) picks it up.
    const script = join(dir, 'publisher.mts');
    const src = resolve('src');
    writeFileSync(
      script,
      `import { LiveFeed } from '${src}/evaluation/live.ts';
import { publishLiveFeed } from '${src}/viewer/live-relay.ts';
const [db, study, q] = process.argv.slice(2);
const qpos = Float64Array.from(JSON.parse(q));
const feed = new LiveFeed();
const relay = await publishLiveFeed(feed, db);
let t = 0;
setInterval(() => { t += 0.01; qpos[0] = Math.sin(t); feed.emit('frame', { worker: 1, study, candidate: 2, seed: 3, time: t, qpos }); }, 10);
setInterval(() => feed.emit('episode', { study, candidate: 2, seed: 3 }), 300);
process.stdout.write('ready\\n');
process.on('SIGTERM', async () => { await relay.close(); process.exit(0); });
`,
    );
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', script, demo.dbPath, demo.studyId, JSON.stringify(qpos)], { cwd: resolve('.'), stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((ok, fail) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && ok());
        child.once('exit', (code) => fail(new Error(`publisher exited with ${code}`)));
      });
      const watcher = watchLiveRelays(dir, { intervalMs: 200 });
      const page = await connect(wsUrl(viewer));
      try {
        page.ws.send(JSON.stringify({ type: 'study.watch', study: demo.studyId }));
        await page.next(isType('hello'));
        // The viewer finds the relay within its scan interval and shows its frames.
        const deadline = Date.now() + 8000;
        let stream: { stream: number; worker: number } | undefined;
        while (!stream && Date.now() < deadline) {
          page.ws.send(JSON.stringify({ type: 'live.subscribe', stream: null }));
          const s = (await page.next(isType('live.status'))) as { streams: { stream: number; worker: number; study: string; active: boolean }[] };
          stream = s.streams.find((x) => x.worker === 1 && x.study === demo.studyId && x.active);
          if (!stream) await new Promise((ok) => setTimeout(ok, 300));
        }
        expect(stream).toBeDefined();
        page.ws.send(JSON.stringify({ type: 'live.subscribe', stream: stream!.stream }));
        const waitFrames = Date.now() + 5000;
        while (page.frames.filter((f) => f.stream === stream!.stream).length < 2 && Date.now() < waitFrames) {
          const last = page.frames.at(-1);
          if (last) page.ws.send(JSON.stringify({ type: 'live.ack', seq: last.seq }));
          await new Promise((ok) => setTimeout(ok, 50));
        }
        expect(page.frames.some((f) => f.stream === stream!.stream && f.candidate === 2 && f.seed === 3)).toBe(true);
        // Its episode events reach a page watching the study.
        expect(await page.next(isType('study.changed'), 3000)).toEqual({ type: 'study.changed', study: demo.studyId });
        expect(watcher.connected()).toHaveLength(1);
      } finally {
        page.ws.close();
        watcher.close();
      }
    } finally {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await exited;
    }
    expect(existsSync(join(dir, `live-${child.pid}.json`))).toBe(false);
  });
});
