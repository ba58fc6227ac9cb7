/**
 * Saves a screenshot of the viewer (dashboard + replay + plots) of a small real study:
 * `npx tsx bench/viewer-screenshot.ts [docs/viewer.png]`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeDemoStudy } from '../test/fixtures/demo-study.ts';
import { startViewer } from '../src/viewer/server.ts';
import { launchChromium } from '../test/browser.ts';

const out = resolve(process.argv[2] ?? 'docs/viewer.png');
const dir = mkdtempSync(join(tmpdir(), 'arbor-screenshot-'));
const demo = await makeDemoStudy(dir, [1, 2]);
const viewer = await startViewer({ port: 0, dbPath: demo.dbPath, watchRelays: false });
const browser = await launchChromium({ width: 1440, height: 900 });
try {
  const page = await browser.context.newPage();
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
  await browser.close();
  await viewer.close();
}
