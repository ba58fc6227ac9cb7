import { basename } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The test files that take longest (20 s or more in a full run on an idle 2-core machine, slowest
 * first). A fresh clone has no timings cached, so vitest would order files by size and leave a
 * long file for last on one core while the other idles; these start first instead, and the many
 * short files fill in around them.
 */
const SLOWEST = [
  'typecheck', 'queue-hardening', 'network-study', 'queue', 'cli', 'queue-faults', 'cli-machining', 'mcap', 'prompt-network', 'study', 'calibrate',
  'prompt-study', 'hardening', 'operator', 'calibration-machining', 'mcp-hardening', 'claude', 'viewer-browser', 'sandbox', 'store-open',
  'prompt-viewer', 'preflight', 'transfer', 'identify', 'mcp', 'robust-transfer',
];

class SlowestFirst extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = SLOWEST.indexOf(basename(f.moduleId).replace(/\.test\.ts$/, ''));
      return i < 0 ? SLOWEST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Two cores: one test file per core; MuJoCo episodes are CPU-bound.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    sequence: { sequencer: SlowestFirst },
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
