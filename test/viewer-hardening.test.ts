/**
 * `study.watch` from a hostile page: thousands of distinct ids must not grow the server's state,
 * ids that are not studies are refused with an error reply, and watching a real study still
 * brings change notices. A real SQLite store, the real server on 127.0.0.1, real sockets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Store } from '../src/store/store.ts';
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
