/** `npm run bench`: every benchmark in one run, each in its own process so they do not disturb each other. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const benches = ['bench/sim.ts', 'bench/pool.ts', 'bench/queue.ts', 'bench/sandbox.ts', 'bench/research.ts', 'bench/study-overhead.ts', 'bench/researchers.ts', 'bench/start.ts', 'bench/robust.ts', 'bench/gauntlet.ts', 'bench/calibrate.ts', 'bench/viewer.ts', 'bench/mcap.ts', 'bench/vision.ts', 'bench/machining.ts', 'bench/ros.ts', 'bench/prompt-study.ts'].filter((b) => existsSync(b));
let failed = 0;
for (const bench of benches) {
  console.log(`\n=== ${bench}`);
  const result = spawnSync(process.execPath, ['bin/run-ts.js', bench], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    console.log(`${bench} failed (exit ${result.status})`);
  }
}
process.exitCode = failed ? 1 : 0;
