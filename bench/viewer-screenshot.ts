/**
 * Saves a screenshot of the viewer (dashboard + replay + plots) of a small real study:
 * `npx tsx bench/viewer-screenshot.ts [docs/viewer.png]`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { makeDemoStudy } from '../test/fixtures/demo-study.ts';
import { startViewer } from '../src/viewer/server.ts';

const out = resolve(process.argv[2] ?? 'docs/viewer.png');
const dir = mkdtempSync(join(tmpdir(), 'arbor-screenshot-'));
const demo = await makeDemoStudy(dir, [1, 2]);
const viewer = await startViewer({ port: 0, dbPath: demo.dbPath, watchRelays: false });
const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'arbor-chromium-')), {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1440, height: 900 },
});
try {
  const page = await ctx.newPage();
  await page.goto(`${viewer.url}#study=${demo.studyId}&episode=${demo.episodes[1][0]}`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
  type Arbor = { lockScale(s: number): void; seek(t: number): void; status(): { contactsLoaded: boolean } };
  await page.evaluate(() => (window as unknown as { arbor: Arbor }).arbor.lockScale(1));
  await page.waitForFunction(() => (window as unknown as { arbor: Arbor }).arbor.status().contactsLoaded, null, { timeout: 30_000 });
  // Mid-grasp: the cube between the fingers, contact arrows showing.
  await page.evaluate(() => (window as unknown as { arbor: Arbor }).arbor.seek(2.7));
  await page.waitForTimeout(600);
  await page.screenshot({ path: out });
  console.log(`saved ${out}`);
} finally {
  await ctx.close();
  await viewer.close();
}
