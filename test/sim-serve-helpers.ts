/** Starts `arbor sim-serve` as a real child process and tells where it listens. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

export const ARBOR = ['bin/arbor.js'];

/** A running sim-serve process. */
export interface Served {
  /** The child process. */
  child: ChildProcess;
  /** The rosbridge port, when it serves rosbridge. */
  port?: number;
  /** The access token it printed, when it asks one (beyond loopback). */
  token?: string;
  /** Everything it wrote to stderr so far. */
  stderr: () => string;
  /** Stops it (SIGTERM) and waits for it to exit. */
  stop: () => Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill: () => Promise<void>;
}

/** Starts `arbor sim-serve SCENARIO ...args` and waits for its ready line. */
export function startSimServe(scenario: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Served> {
  const child = spawn(process.execPath, [...ARBOR, 'sim-serve', scenario, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sim-serve did not start within 60 s: ${stderr}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sim-serve exited with ${code} before it was ready: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      const ready = JSON.parse(line) as { rosbridge?: string; token?: string };
      resolve({
        child,
        port: ready.rosbridge ? Number(ready.rosbridge.split(':').pop()) : undefined,
        token: ready.token,
        stderr: () => stderr,
        stop: () => end('SIGTERM'),
        kill: () => end('SIGKILL'),
      });
    });
  });
}

/** A raw rosbridge client: sends ops (objects as JSON, strings and buffers as they are), collects every message. */
export interface RawClient {
  /** The socket. */
  ws: WebSocket;
  /** Every message received, JSON parsed (`{ binary: true }` for binary frames). */
  messages: unknown[];
  /** Sends one message. */
  send: (m: unknown) => void;
  /** The first message (received or to come, within 10 s) that `pred` accepts. */
  until: (pred: (m: Record<string, unknown>) => boolean) => Promise<Record<string, unknown>>;
}

/** Connects a raw rosbridge client to 127.0.0.1:`port` (`path`: e.g. `/?token=...`). */
export async function rawClient(port: number, path = ''): Promise<RawClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  const messages: unknown[] = [];
  const waiters: { pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
  ws.on('message', (data, binary) => {
    const m = binary ? { binary: true } : JSON.parse(data.toString());
    messages.push(m);
    for (const w of [...waiters]) if (w.pred(m)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws, messages,
    send: (m) => ws.send(typeof m === 'string' || Buffer.isBuffer(m) ? m : JSON.stringify(m)),
    until: (pred) => {
      const found = messages.find((m) => pred(m as Record<string, unknown>));
      if (found) return Promise.resolve(found as Record<string, unknown>);
      return new Promise((resolve, reject) => {
        waiters.push({ pred, resolve });
        setTimeout(() => reject(new Error(`no such message; got ${JSON.stringify(messages).slice(0, 500)}`)), 10_000);
      });
    },
  };
}
