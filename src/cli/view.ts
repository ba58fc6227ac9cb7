/**
 * `arbor view`: the web viewer of studies, episodes, live runs and models. Also the entry points
 * `arbor run` uses: `startLiveView` serves its live feed in-process (`--view`), and
 * `publishLiveFeed` lets an `arbor view` running in another process watch it.
 */
import type { Command } from 'commander';
import type { LiveFeed } from '../evaluation/live.ts';
import { DEFAULT_STORE_PATH } from '../store/store.ts';
import { startViewer, type ViewerOptions, type ViewerServer } from '../viewer/server.ts';

export { publishLiveFeed, type LiveRelay } from '../viewer/live-relay.ts';

interface ViewFlags {
  port: number;
  host: string;
  token?: string;
  db: string;
  model?: string;
}

export function registerView(program: Command): void {
  program
    .command('view')
    .description('serve the web viewer: study dashboards, episode replay, live runs, models (read-only)')
    .option('--port <n>', 'TCP port', parsePort, 8080)
    .option('--host <addr>', 'interface to bind; anything but loopback needs a token', '127.0.0.1')
    .option('--token <token>', 'access token (generated and printed when --host is not loopback)')
    .option('--db <path>', 'study database', DEFAULT_STORE_PATH)
    .option('--model <file>', 'show an MJCF model on its own, or a robot.yaml (its arm, gripper and added sites composed)')
    .action(async (flags: ViewFlags) => {
      const viewer = await startViewer({ port: flags.port, host: flags.host, token: flags.token, dbPath: flags.db, model: flags.model });
      process.stderr.write(`arbor view: serving ${flags.model ? `model ${flags.model} and ` : ''}studies of ${flags.db} (read-only). Ctrl-C stops.\n`);
      console.log(viewer.url);
      await waitForSignal();
      await viewer.close();
    });
}

/** Serves the viewer with a live feed in this process (`arbor run --view`); prints the URL on stderr. */
export async function startLiveView(feed: LiveFeed, options: Omit<ViewerOptions, 'live'> = {}): Promise<ViewerServer> {
  const viewer = await startViewer({ ...options, live: feed });
  process.stderr.write(`arbor: watch the study live at ${viewer.url}#live\n`);
  return viewer;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port ${value} must be an integer in 0..65535.`);
  return n;
}

function waitForSignal(): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
