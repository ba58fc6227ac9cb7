/** Starts `arbor sim-serve` as a real child process and tells where it listens. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export const ARBOR = ['bin/arbor.js'];

/** A running sim-serve process. */
export interface Served {
  /** The child process. */
  child: ChildProcess;
  /** The rosbridge port, when it serves rosbridge. */
  port?: number;
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
      const ready = JSON.parse(line) as { rosbridge?: string };
      resolve({
        child,
        port: ready.rosbridge ? Number(ready.rosbridge.split(':').pop()) : undefined,
        stderr: () => stderr,
        stop: () => end('SIGTERM'),
        kill: () => end('SIGKILL'),
      });
    });
  });
}
