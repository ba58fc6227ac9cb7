/**
 * Saves the README's picture of a gauntlet's tier × axis heatmap, from a real gauntlet of the
 * tuned pick-and-place policy (every tier, each axis alone at every tier's extremes, paired seeds):
 * `npx tsx bench/gauntlet-heatmap.ts [docs/gauntlet-heatmap.png] [--seeds 1000..1031] [--db FILE]`.
 * With `--db` holding a gauntlet already, its newest one is drawn and nothing runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Store } from '../src/store/store.ts';
import { isGauntlet } from '../src/transfer/gauntlet-matrix.ts';
import { startViewer } from '../src/viewer/server.ts';
import { launchChromium } from '../test/browser.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { db: { type: 'string' }, seeds: { type: 'string', default: '1000..1031' } } });
const out = resolve(positionals[0] ?? 'docs/gauntlet-heatmap.png');
const db = resolve(values.db ?? join(mkdtempSync(join(tmpdir(), 'arbor-heatmap-')), 'arbor.db'));

let gauntlet = newestGauntlet(db);
if (!gauntlet) {
  const args = ['bin/arbor.js', 'gauntlet', 'scenarios/pick-place.yaml', '--policy', 'scenarios/pick-place.tuned.json', '--seeds', values.seeds, '--sweep-tiers', 'T1..T4', '--db', db];
  console.log(`running: arbor ${args.slice(1).join(' ')}`);
  const run = spawnSync(process.execPath, args, { stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`arbor gauntlet exited with ${run.status}.`);
  gauntlet = newestGauntlet(db)!;
}

const viewer = await startViewer({ port: 0, dbPath: db, watchRelays: false });
// Wide enough that the dashboard holds the 17 axes of pick-and-place without scrolling.
const browser = await launchChromium({ width: 1800, height: 1000 });
try {
  const page = await browser.context.newPage();
  await page.goto(`${viewer.url}#study=${gauntlet}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60_000 });
  await page.locator('#gauntlet-heatmap table.heatmap').waitFor({ timeout: 30_000 });
  await page.evaluate(() => window.arbor.seek(0));
  await page.locator('#gauntlet-heatmap').screenshot({ path: out });
  console.log(`saved ${out} (gauntlet ${gauntlet} in ${db})`);
} finally {
  await browser.close();
  await viewer.close();
}

/** The newest gauntlet study in `path`, if any. */
function newestGauntlet(path: string): string | undefined {
  const store = Store.open(path);
  try {
    return store.studies().filter(isGauntlet).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]?.id;
  } finally {
    store.close();
  }
}
