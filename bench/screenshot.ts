/**
 * A screenshot of the viewer showing one stored episode at a moment of its replay, at 1440×900:
 * what the README's pictures are made with (bench/viewer-screenshot.ts, bench/prompt-study.ts).
 */
import { startViewer } from '../src/viewer/server.ts';
import { launchChromium } from '../test/browser.ts';

export interface EpisodeShot {
  /** The study's store. */
  dbPath: string;
  studyId: string;
  episodeId: number;
  /** Replay time (s) to show; past the end shows the last frame. */
  at: number;
  /** Milliseconds to let the scene settle after seeking. */
  settleMs: number;
  /** Where the PNG goes. */
  out: string;
}

export async function screenshotEpisode(shot: EpisodeShot): Promise<void> {
  const viewer = await startViewer({ port: 0, dbPath: shot.dbPath, watchRelays: false });
  const browser = await launchChromium({ width: 1440, height: 900 });
  try {
    const page = await browser.context.newPage();
    await page.goto(`${viewer.url}#study=${shot.studyId}&episode=${shot.episodeId}`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
    await page.evaluate(() => window.arbor.lockScale(1));
    await page.waitForFunction(() => window.arbor.status().contactsLoaded, null, { timeout: 30_000 });
    await page.evaluate((t) => window.arbor.seek(t), shot.at);
    await page.waitForTimeout(shot.settleMs);
    await page.screenshot({ path: shot.out });
  } finally {
    await browser.close();
    await viewer.close();
  }
}
