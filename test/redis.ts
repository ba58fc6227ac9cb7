/**
 * A real redis-server (Debian's, as CI installs it) for tests and benchmarks: on a free loopback
 * port, persistence off, in a temporary folder, stopped at the end. `restart()` stops it and starts
 * a fresh, empty one on the same port, as a crashed and restarted Redis without persistence is.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestRedis {
  /** Its port on 127.0.0.1. */
  port: number;
  /** `redis://127.0.0.1:PORT`. */
  url: string;
  /** Kills it (SIGKILL, as a crash) and starts an empty one on the same port. */
  restart(downMs?: number): Promise<void>;
  /** Kills it without starting another. */
  kill(): void;
  /** Starts it again after `kill`. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Why the Redis tests cannot run here (no `redis-server` on the PATH), or undefined when they can.
 * A fresh machine without Debian's package skips them with this reason; CI installs it.
 */
export function redisUnavailable(): string | undefined {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return found.error ? `no redis-server on this machine (apt-get install redis-server; .ci/run does)` : undefined;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'arbor-redis-'));
  let child: ChildProcess | undefined;
  const start = async () => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'yes'], { stdio: 'ignore' });
    child = started;
    const missing = new Promise<never>((_, reject) =>
      started.once('error', (err) => reject(new Error(`redis-server cannot be started (${err.message}); install Debian's: apt-get install redis-server (.ci/run does).`))),
    );
    await Promise.race([waitForPong(port, started), missing]);
  };
  const kill = () => {
    child?.kill('SIGKILL');
    child = undefined;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async restart(downMs = 1000) {
      const old = child;
      kill();
      if (old && old.exitCode === null) await new Promise((done) => old.once('exit', done));
      await new Promise((done) => setTimeout(done, downMs));
      await start();
    },
    kill,
    start,
    async stop() {
      const old = child;
      kill();
      if (old && old.exitCode === null) await new Promise((done) => old.once('exit', done));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port free on 127.0.0.1 now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once Redis answers PING on `port`; rejects when the process exits first or 10 s pass. */
async function waitForPong(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} before it answered on port ${port}.`);
    if (await ping(port)) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error(`redis-server did not answer on port ${port} within 10 s.`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    socket.setTimeout(500, () => socket.destroy());
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(reply.startsWith('+PONG')));
  });
}
