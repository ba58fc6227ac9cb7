/**
 * The viewer against hostile or unlucky input: `study.watch` with thousands of distinct ids must
 * not grow the server's state, ids that are not studies are refused with an error reply, and
 * watching a real study still brings change notices; a broken percent-encoding is a 400; the
 * live-<pid>.json of a killed study does not stay. A real SQLite store, the real server on
 * 127.0.0.1, real sockets and processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { LiveFeed } from '../src/evaluation/live.ts';
import { Store } from '../src/store/store.ts';
import { publishLiveFeed, watchLiveRelays } from '../src/viewer/live-relay.ts';
import type { ServerMessage } from '../src/viewer/messages.ts';
import { startViewer, type ViewerServer } from '../src/viewer/server.ts';

let dir: string;
let dbPath: string;
let studyId: string;
let viewer: ViewerServer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arbor-viewer-watch-'));
  dbPath = join(dir, 'arbor.db');
  const store = Store.open(dbPath);
  studyId = store.createStudy({ scenarioPath: 'scenarios/pick-place.yaml', scenarioName: 'pick-place', researcher: 'random', config: {} }).id;
  store.close();
  viewer = await startViewer({ port: 0, dbPath, watchRelays: false });
});

afterAll(async () => {
  await viewer?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A socket that collects the text messages it receives. */
async function page(): Promise<{ ws: WebSocket; received: ServerMessage[]; until: (pred: () => boolean, ms?: number) => Promise<void> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${viewer.port}/ws`);
  const received: ServerMessage[] = [];
  ws.on('message', (data, isBinary) => {
    if (!isBinary) received.push(JSON.parse(String(data)) as ServerMessage);
  });
  await new Promise((done, fail) => ws.once('open', done).once('error', fail));
  const until = async (pred: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out; received ${JSON.stringify(received.slice(-3))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { ws, received, until };
}

const errors = (received: ServerMessage[]) => received.filter((m): m is Extract<ServerMessage, { type: 'error' }> => m.type === 'error');

describe('study.watch', () => {
  it('refuses ids that are not studies, and thousands of them leave no state behind', async () => {
    const p = await page();
    const N = 5000;
    for (let i = 0; i < N; i++) p.ws.send(JSON.stringify({ type: 'study.watch', study: `no-such-study-${i}` }));
    await p.until(() => errors(p.received).length === N);
    expect(errors(p.received)[N - 1].problem.message).toBe(`There is no study 'no-such-study-${N - 1}' to watch in ${dbPath}.`);
    expect(viewer.studyWatch.studyCount).toBe(0);
    p.ws.close();
  });

  it('holds one entry per watched study, freed when its last page leaves, and still notices changes', async () => {
    const a = await page();
    const b = await page();
    a.ws.send(JSON.stringify({ type: 'study.watch', study: studyId }));
    b.ws.send(JSON.stringify({ type: 'study.watch', study: studyId }));
    for (const p of [a, b]) {
      p.ws.send(JSON.stringify({ type: 'ping', id: 1 }));
      await p.until(() => p.received.some((m) => m.type === 'pong'));
      expect(errors(p.received)).toEqual([]);
    }
    expect(viewer.studyWatch.studyCount).toBe(1);

    // Another process's writer (here: this one) adds a candidate; the poll notices it.
    const store = Store.open(dbPath);
    store.addCandidate(studyId, { generation: 0, kind: 'params', body: { kind: 'params', params: {} }, rationale: 'r', description: 'd' });
    store.close();
    await a.until(() => a.received.some((m) => m.type === 'study.changed' && m.study === studyId));

    a.ws.send(JSON.stringify({ type: 'study.unwatch' }));
    b.ws.close();
    await a.until(() => viewer.studyWatch.studyCount === 0);
    a.ws.close();
  });
});

describe('the HTTP API', () => {
  it('answers a path with broken percent-encoding with 400 and a problem, not 500', async () => {
    for (const path of ['/api/studies/%', '/api/studies/%E0%A4%A', '/api/studies/abc%zz']) {
      const { status, body } = await new Promise<{ status: number; body: string }>((done, fail) => {
        get({ host: '127.0.0.1', port: viewer.port, path }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => done({ status: res.statusCode ?? 0, body }));
        }).on('error', fail);
      });
      expect(status, path).toBe(400);
      expect(JSON.parse(body).problem.message).toBe(`${path} is not a valid path: a % must start a percent-encoded byte such as %20.`);
    }
  });
});

describe('live relay announcements', () => {
  /** Starts a relay in another process; resolves with it and its announcement file once it is up. */
  async function publisher(db: string): Promise<{ child: ChildProcess; file: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'relay-publisher.ts'), db], { stdio: ['ignore', 'pipe', 'inherit'] });
    for await (const line of createInterface({ input: child.stdout! })) {
      const m = /^ready (.+)$/.exec(line);
      if (m) return { child, file: m[1] };
    }
    throw new Error('the relay publisher exited before it was ready');
  }

  it("a killed study's live-<pid>.json is removed when the next one starts, and readers skip it", async () => {
    const db = join(dir, 'relays', 'arbor.db');
    const killed = await publisher(db);
    killed.child.kill('SIGKILL');
    await new Promise((done) => killed.child.on('exit', done));
    const running = await publisher(db);
    try {
      // The kill left its announcement behind; the running one removed it when it started.
      expect(existsSync(running.file)).toBe(true);
      expect(existsSync(killed.file)).toBe(false);

      // A dead announcement written by hand (another kind of crash) is skipped by readers.
      const dead = join(dir, 'relays', `live-${killed.child.pid}.json`);
      writeFileSync(dead, readFileSync(running.file, 'utf8').replace(`"pid":${running.child.pid}`, `"pid":${killed.child.pid}`));
      const watcher = watchLiveRelays(join(dir, 'relays'), { intervalMs: 50 });
      try {
        await new Promise((r) => setTimeout(r, 500));
        expect(watcher.connected()).toHaveLength(1);
      } finally {
        watcher.close();
      }
      // And the next study to start removes it too.
      const relay = await publishLiveFeed(new LiveFeed(), db);
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(running.file)).toBe(true);
      await relay.close();
    } finally {
      running.child.kill('SIGKILL');
    }
  });
});
