/** `arbor worker` and `arbor workers`: run a study's episodes on this machine, and see who does. */
import type { Command } from 'commander';
import { describeBuild } from '../evaluation/queue/build.ts';
import { parseRedisAddress } from '../evaluation/queue/connection.ts';
import type { QueueSnapshot } from '../evaluation/queue/workers.ts';
import { fixed, table } from './format.ts';
import { integer } from './options.ts';

export function registerWorkerCommands(program: Command): void {
  program
    .command('worker')
    .description("run studies' episodes from a Redis queue (arbor run --evaluator redis://...): one MuJoCo world per slot")
    .argument('<redis>', 'the queue, redis://HOST:PORT[/DB]')
    .option('--concurrency <n>', 'episodes at a time (default: one per core; capped by the cores)', integer(1, 4096))
    .option('--name <name>', 'name in `arbor workers` and the dashboard (default HOST-PID)')
    .option('--cache <dir>', 'where fetched scenario bundles are kept (default ~/.cache/arbor/bundles)')
    .option('--lock-seconds <s>', 'seconds before a silent worker\'s episode is handed to another worker', integer(2, 3600), 30)
    .action(async (url: string, flags: { concurrency?: number; name?: string; cache?: string; lockSeconds: number }) => {
      const log = (line: string) => process.stderr.write(`arbor worker: ${line}\n`);
      const { QueueWorker } = await import('../evaluation/queue/queue-worker.ts');
      const worker = await QueueWorker.start(parseRedisAddress(url), { concurrency: flags.concurrency, name: flags.name, cache: flags.cache, lockSeconds: flags.lockSeconds, log });
      let signals = 0;
      const onSignal = () => {
        if (++signals > 1) process.exit(130);
        log('stopping: finishing the episodes in hand (again to quit at once)...');
        void worker.close();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      await worker.stopped;
      log(`stopped after ${worker.finishedEpisodes} episodes.`);
    });

  program
    .command('workers')
    .description('list the workers of a Redis queue with their episodes/s, and the jobs waiting')
    .argument('<redis>', 'the queue, redis://HOST:PORT[/DB]')
    .option('--json', 'print {workers, jobs} as JSON')
    .action(async (url: string, flags: { json?: boolean }) => {
      const { readQueue } = await import('../evaluation/queue/workers.ts');
      const snapshot = await readQueue(parseRedisAddress(url));
      if (flags.json) {
        console.log(JSON.stringify(snapshot));
        return;
      }
      const now = Date.now();
      const rows = snapshot.workers.map((w) => [w.name, w.host, `${w.busy}/${w.slots}`, w.episodes, fixed(w.rate, 2), `${Math.round((now - Date.parse(w.started)) / 1000)} s`, describeBuild(w.build)]);
      console.log(rows.length ? table(['worker', 'host', 'busy', 'episodes', 'episodes/s', 'up', 'build'], rows) : 'no workers (start one with: arbor worker redis://...)');
      const counts = (j: QueueSnapshot['jobs']) => `${j.waiting} waiting, ${j.active} running, ${j.delayed} delayed, ${j.failed} failed`;
      const total = snapshot.workers.reduce((sum, w) => sum + w.rate, 0);
      console.log(`\njobs: ${counts(snapshot.jobs)}; all workers: ${fixed(total, 2)} episodes/s`);
      // Each build has its own queue: say which jobs wait for a build no live worker runs.
      if (snapshot.queues.length > 1 || snapshot.queues.some((q) => q.workers === 0)) {
        for (const q of snapshot.queues) {
          console.log(`  ${describeBuild(q.build)}: ${counts(q.jobs)}; ${q.workers ? `${q.workers} workers` : 'no worker runs this build: start one from the study\'s checkout'}`);
        }
      }
    });
}
