/**
 * The viewer end to end in headless Chromium (see ./browser.ts: Debian's or the packaged one, WebGL
 * on SwiftShader):
 * a study made here (real store, real MuJoCo episodes) loads, its dashboard lists the candidates,
 * the WebGL canvas shows the robot, scrubbing moves the arm, two episodes play side by side, a
 * live run streams frames to the page, the page survives a POSIX locale, and a bare model shows.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { LinkEvaluator } from '../src/evaluation/link-evaluator.ts';
import { LiveFeed } from '../src/evaluation/live.ts';
import { Store } from '../src/store/store.ts';
import { makeDemoStudy, type DemoStudy } from './fixtures/demo-study.ts';
import { startViewer, type ViewerServer } from '../src/viewer/server.ts';
import { defaultPolicy } from '../src/policy/file.ts';
import { launchChromium, type TestBrowser } from './browser.ts';
import { resolvePolicy } from '../src/policy/file.ts';
import { Perturbations } from '../src/scenario/perturbation.ts';
import { incumbent } from '../src/study/study.ts';
import { gauntletCells, gauntletReport, runGauntlet } from '../src/transfer/gauntlet.ts';
import type { GauntletMatrix } from '../src/transfer/gauntlet-matrix.ts';
import { GauntletRecord } from '../src/transfer/gauntlet-store.ts';

const ROBOT = ['base', 'shoulder', 'upper_arm', 'forearm', 'wrist1', 'wrist2', 'wrist3', 'gripper', 'left_finger', 'right_finger'];

let dir: string;
let demo: DemoStudy;
let feed: LiveFeed;
let viewer: ViewerServer;
let browser: TestBrowser;
let ctx: BrowserContext;
let page: Page;
const pageErrors: string[] = [];

const status = (p: Page = page) => p.evaluate(() => window.arbor.status());
const seek = (p: Page, t: number) => p.evaluate((at) => window.arbor.seek(at), t);
const lockScale = (p: Page, scale: number) => p.evaluate((s) => window.arbor.lockScale(s), scale);
const project = (p: Page, body: string) => p.evaluate((name) => window.arbor.project(name), body);
const setBodiesVisible = (p: Page, names: string[], visible: boolean) => p.evaluate(([n, v]) => window.arbor.setBodiesVisible(n, v), [names, visible] as const);

/** RGBA bytes of a rectangle of the canvas (CSS px), rendered now. */
async function pixels(p: Page, x: number, y: number, w: number, h: number): Promise<Uint8Array> {
  return new Uint8Array(Buffer.from(await p.evaluate(([x, y, w, h]) => window.arbor.readPixels(x, y, w, h), [x, y, w, h] as const), 'base64'));
}
/** Fraction of pixels whose colour differs by more than `tol` in some channel. */
function changed(a: Uint8Array, b: Uint8Array, tol = 24): number {
  let n = 0;
  for (let i = 0; i < a.length; i += 4) if (Math.abs(a[i] - b[i]) > tol || Math.abs(a[i + 1] - b[i + 1]) > tol || Math.abs(a[i + 2] - b[i + 2]) > tol) n++;
  return n / (a.length / 4);
}
async function canvasSize(p: Page): Promise<{ width: number; height: number }> {
  const box = (await p.locator('#canvas').boundingBox())!;
  return { width: Math.floor(box.width), height: Math.floor(box.height) };
}
async function open(p: Page, url: string): Promise<void> {
  await p.goto(url);
  await p.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 20_000 });
}

/**
 * At the episode's start, where three links of the arm stand, the pixels are the arm's: they
 * change when the robot is hidden, and they are not the background.
 */
async function expectArmDrawnAtStart(p: Page): Promise<void> {
  // Contacts follow the poses; wait for them so the picture stays put.
  await expect.poll(async () => (await status(p)).contactsLoaded).toBe(true);
  await seek(p, 0);
  const { width, height } = await canvasSize(p);
  const all = await pixels(p, 0, 0, width, height);
  const hidden = await (async () => {
    await setBodiesVisible(p, ROBOT, false);
    try {
      return await pixels(p, 0, 0, width, height);
    } finally {
      await setBodiesVisible(p, ROBOT, true);
    }
  })();
  for (const body of ['upper_arm', 'forearm', 'wrist2']) {
    const at = (await project(p, body))!;
    expect(at.x).toBeGreaterThan(0);
    expect(at.x).toBeLessThan(width);
    const r = 4;
    const patch = (img: Uint8Array) => {
      const out: number[] = [];
      for (let y = Math.round(at.y) - r; y <= Math.round(at.y) + r; y++) {
        const row = height - 1 - y; // readPixels rows go bottom-up
        for (let x = Math.round(at.x) - r; x <= Math.round(at.x) + r; x++) out.push(...img.subarray(4 * (row * width + x), 4 * (row * width + x) + 4));
      }
      return new Uint8Array(out);
    };
    expect(changed(patch(all), patch(hidden)), body).toBeGreaterThan(0.5);
    const background = [0x1c, 0x20, 0x26];
    const seen = patch(all);
    let notBackground = 0;
    for (let i = 0; i < seen.length; i += 4) if (Math.abs(seen[i] - background[0]) + Math.abs(seen[i + 1] - background[1]) + Math.abs(seen[i + 2] - background[2]) > 30) notBackground++;
    expect(notBackground / (seen.length / 4), body).toBeGreaterThan(0.9);
  }
  expect(changed(all, hidden)).toBeGreaterThan(0.01);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arbor-viewer-browser-'));
  demo = await makeDemoStudy(dir, [1]);
  feed = new LiveFeed();
  viewer = await startViewer({ port: 0, dbPath: demo.dbPath, live: feed, watchRelays: false });
  browser = await launchChromium({ width: 1280, height: 800 });
  ctx = browser.context;
  page = await ctx.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await open(page, viewer.url);
  // Pixel comparisons need one resolution: no adaptive scaling in these tests.
  await lockScale(page, 1);
});

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('replay and dashboard', () => {
  it('loads the study and lists its candidates', async () => {
    const s = await status();
    expect(s.mode).toBe('replay');
    expect(s.candidates).toBe(4);
    const rows = page.locator('#candidates tbody tr');
    await expect.poll(() => rows.count()).toBe(4);
    expect(await rows.nth(3).locator('.badge').textContent()).toBe('crash');
    // Each decided success rate comes with its Wilson 95% interval (the eps column gives its n).
    expect(await rows.nth(0).locator('td').nth(3).textContent()).toMatch(/^\d+% \[\d+–\d+\]$/);
    const info = await page.locator('#study-info').textContent();
    expect(info).toContain(demo.studyId);
    // Why the study stopped is on the dashboard.
    expect(info).toContain('stopped: its patience ran out');
    // It opened the best candidate's episode.
    expect(s.episodes).toEqual([demo.episodes[1][0]]);
    expect(s.frames).toBeGreaterThan(100);
    expect(await page.locator('#plots .plot').count()).toBe(4);
  });

  it('offers the episode on screen as an MCAP download', async () => {
    const link = page.locator('#mcap');
    expect(await link.isVisible()).toBe(true);
    expect(await link.getAttribute('href')).toBe(`/api/episodes/${demo.episodes[1][0]}/mcap`);
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^${demo.studyId}-episode-${demo.episodes[1][0]}-.*\\.mcap$`));
    expect(readFileSync((await download.path())!).subarray(0, 8).toString('latin1')).toBe('\x89MCAP0\r\n');
  });

  it('updates the dashboard without a reload when the study changes', async () => {
    // Another process (here: another connection) records a new candidate.
    const store = Store.open(demo.dbPath);
    try {
      const c = store.addCandidate(demo.studyId, { parentId: demo.candidates[1], generation: 2, kind: 'params', body: defaultPolicy(demo.scenario), rationale: 'late arrival', description: 'late arrival' });
      await expect.poll(() => page.locator('#candidates tbody tr').count(), { timeout: 6000 }).toBe(5);
      expect(await page.locator(`#candidates tr[data-candidate="${c.id}"] .badge`).textContent()).toBe('pending');
      store.decideCandidate(c.id, { status: 'discard', scoreMean: 0.2, scoreStd: 0, successRate: 0, nEpisodes: 1, nCrashes: 0 });
      await expect.poll(() => page.locator(`#candidates tr[data-candidate="${c.id}"] .badge`).textContent(), { timeout: 6000 }).toBe('discard');
    } finally {
      store.close();
    }
  });

  it('shows the robot on the WebGL canvas', async () => {
    await expectArmDrawnAtStart(page);
  });

  it('moves the arm when scrubbing the timeline, and steps with the arrow keys', async () => {
    const { width, height } = await canvasSize(page);
    const scrub = (ms: number) =>
      page.locator('#scrubber').evaluate((el, v) => {
        (el as HTMLInputElement).value = String(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }, ms);
    await scrub(0);
    const before = await pixels(page, 0, 0, width, height);
    const fingerBefore = (await project(page, 'left_finger'))!;
    await scrub(2500);
    const s = await status();
    expect(s.playing).toBe(false);
    expect(s.t).toBeCloseTo(2.5, 3);
    const after = await pixels(page, 0, 0, width, height);
    const fingerAfter = (await project(page, 'left_finger'))!;
    expect(Math.hypot(fingerAfter.x - fingerBefore.x, fingerAfter.y - fingerBefore.y)).toBeGreaterThan(20);
    expect(changed(before, after)).toBeGreaterThan(0.005);
    // The info line follows the timeline.
    expect(await page.locator('#info').textContent()).toMatch(/^t 2\.50 s · frame \d+\/\d+ · contacts [1-9]/);

    await page.locator('#canvas').focus();
    const t0 = (await status()).t;
    await page.keyboard.press('ArrowRight');
    const t1 = (await status()).t;
    expect(t1).toBeGreaterThan(t0);
    expect(t1 - t0).toBeLessThan(0.05);
    await page.keyboard.press('Shift+ArrowLeft');
    expect((await status()).t).toBeLessThan(t0);
    await page.keyboard.press('Space');
    expect((await status()).playing).toBe(true);
    await page.keyboard.press('Space');
    expect((await status()).playing).toBe(false);
  });

  it('replays the baseline and the best side by side', async () => {
    await page.locator('#compare-best').click();
    await expect.poll(async () => (await status()).episodes.length).toBe(2);
    const s = await status();
    expect(s.episodes).toEqual([demo.episodes[0][0], demo.episodes[1][0]]);
    expect(await page.locator('#labels .label-a').textContent()).toContain(`episode ${demo.episodes[0][0]}`);
    // Same time, different episodes: the two halves differ (the cube is elsewhere).
    await seek(page, 3);
    const { width, height } = await canvasSize(page);
    const half = Math.floor(width / 2);
    const left = await pixels(page, 0, 0, half, height);
    const right = await pixels(page, half, 0, half, height);
    expect(changed(left, right)).toBeGreaterThan(0.002);
  });
});

describe('live', () => {
  // Up to a dozen batches of episodes on both cores: on a machine loaded by other work this takes about a minute.
  it('streams a live run to the page, with a switch between workers', async () => {
    await page.evaluate(() => window.arbor.live());
    expect((await status()).mode).toBe('live');
    // A real live run: two worker threads evaluate episodes and post frames, as a study does.
    const pool = await EvaluatorPool.create(demo.scenario.file, {
      workers: 2,
      live: { study: demo.studyId, fps: 60, onFrame: (f) => feed.emit('frame', f) },
    });
    const policy = defaultPolicy(demo.scenario);
    // Episodes run about ten times faster than real time: a few dozen make a few seconds of streaming.
    const jobs = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ policy, seed: from + i, candidate: demo.candidates[1] }));
    try {
      const fingers: { x: number; y: number }[] = [];
      const sampler = setInterval(() => {
        void project(page, 'left_finger').then((p) => p && fingers.push(p), () => undefined);
      }, 100);
      // Both cores run episodes here, so the page draws fewer frames than it would beside a study
      // on a bigger machine; run batches until it has drawn a few dozen.
      for (let batch = 0; batch < 6 && (await status()).liveDrawn < 30; batch++) await pool.evaluate(jobs(100 + 24 * batch, 24));
      clearInterval(sampler);
      const s = await status();
      expect(s.streams).toBe(2);
      expect(s.liveDrawn).toBeGreaterThanOrEqual(30);
      expect(s.liveReceived).toBeGreaterThanOrEqual(s.liveDrawn);
      expect(await page.locator('#info').textContent()).toMatch(/^LIVE · study .* · worker \d · candidate \d+ · seed \d+/);
      // The arm moved while the page watched.
      const spread = Math.max(...fingers.map((p) => Math.hypot(p.x - fingers[0].x, p.y - fingers[0].y)));
      expect(spread).toBeGreaterThan(20);

      // Switch to the other worker; its frames are drawn from then on.
      const other = (await page.locator('#live-workers button.current').getAttribute('data-stream')) === '0' ? 1 : 0;
      await page.locator(`#live-workers button[data-stream="${other}"]`).click();
      const drawn = (await status()).liveDrawn;
      for (let batch = 0; batch < 6 && (await status()).liveDrawn < drawn + 10; batch++) await pool.evaluate(jobs(300 + 12 * batch, 12));
      expect((await status()).liveDrawn).toBeGreaterThan(drawn + 10);
      expect(await page.locator('#live-workers button.current').getAttribute('data-stream')).toBe(String(other));
    } finally {
      await pool.close();
    }
  }, 180_000);
});

describe('an odd locale', () => {
  it('draws the arm when the browser reports the POSIX locale en-US@posix', async () => {
    const p = await ctx.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    // What Chromium reports under LANG=C.UTF-8 (the packaged one does, unless told a locale), set
    // before any script of the page runs. Intl rejects it as a language tag.
    await p.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'language', { get: () => 'en-US@posix', configurable: true });
      Object.defineProperty(Navigator.prototype, 'languages', { get: () => ['en-US@posix'], configurable: true });
    });
    try {
      await open(p, viewer.url).catch((e: unknown) => {
        throw new Error(`The page never got ready; its errors: ${errors.join(' | ') || 'none'}`, { cause: e });
      });
      expect(errors).toEqual([]);
      expect(await p.evaluate(() => navigator.language)).toBe('en-US');
      await lockScale(p, 1);
      await expectArmDrawnAtStart(p);
      // uPlot formats the axis numbers with the page's language: the plots are there.
      expect(await p.locator('#plots .plot').count()).toBe(4);
    } finally {
      await p.close();
    }
  });
});

describe('a model on its own', () => {
  it('shows any MJCF model (arbor view --model)', async () => {
    const file = join(dir, 'model.xml');
    writeFileSync(
      file,
      `<mujoco model="shapes"><asset><mesh name="t" vertex="0 0 0 .2 0 0 0 .2 0 0 0 .2"/></asset><worldbody>
        <geom type="plane" size="1 1 .1" rgba=".3 .3 .35 1"/>
        <body pos="0 0 .3"><joint type="hinge" axis="0 0 1"/>
          <geom type="box" size=".1 .1 .1" rgba=".9 .2 .2 1"/><geom type="sphere" size=".08" pos=".3 0 0" rgba=".2 .9 .2 1"/>
          <geom type="capsule" size=".04 .1" pos="-.3 0 0" rgba=".2 .2 .9 1"/><geom type="cylinder" size=".05 .1" pos="0 .3 0"/>
          <geom type="ellipsoid" size=".1 .05 .03" pos="0 -.3 0"/><geom type="mesh" mesh="t" pos="0 0 .2"/></body>
        <camera name="above" pos="0 0 2"/></worldbody></mujoco>`,
    );
    const v = await startViewer({ port: 0, model: file, watchRelays: false });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await open(p, v.url);
      await lockScale(p, 1);
      expect((await status(p)).mode).toBe('model');
      expect(await p.locator('#info').textContent()).toMatch(/^model model · 2 bodies · 7 geoms · 1 cameras/);
      const { width, height } = await canvasSize(p);
      const img = await pixels(p, 0, 0, width, height);
      let red = 0;
      for (let i = 0; i < img.length; i += 4) if (img[i] > 60 && img[i] > 2 * img[i + 1] && img[i] > 2 * img[i + 2]) red++;
      expect(red).toBeGreaterThan(100);
      await p.locator('#camera').selectOption('model:0');
      expect(changed(img, await pixels(p, 0, 0, width, height))).toBeGreaterThan(0.05);
    } finally {
      await p.close();
      await v.close();
    }
    expect(pageErrors).toEqual([]);
  });
});

describe('a gauntlet of the best', () => {
  // Last: it adds the newest study to the store, which a page opened without an address shows.
  it('shows the stored gauntlet as a tier × axis heatmap, its squares coloured by success, linked from the study it ran', async () => {
    // What `arbor gauntlet SCENARIO --study ID --sweep-tiers T0..T4` does, on a small block (two
    // axes, two tiers) and two seeds: real episodes, stored in the viewer's database as a study.
    const block = Perturbations.parse({ axes: { arm_kp: { kind: 'kp', scale: [0.6, 1.4] }, cube_mass: { kind: 'object_mass', scale: [1, 2] } }, tiers: { T0: 0, T4: 1 } });
    const seeds = [1, 2];
    const cells = gauntletCells(block, ['T4'], ['T0', 'T4']);
    const store = Store.open(demo.dbPath);
    // In this thread (the sim's module is loaded already): no worker threads to start for ten episodes.
    const pool = await LinkEvaluator.create(demo.scenario, { kind: 'sim' });
    let gauntlet: string;
    try {
      const best = incumbent(store, demo.studyId)!;
      const policy = resolvePolicy(best.body, demo.scenario);
      const record = GauntletRecord.create(store, demo.scenario, policy, cells, { tiers: ['T0', 'T4'], sweepTiers: ['T0', 'T4'], source: { study: demo.studyId, candidate: best.id } });
      const outcomes = await runGauntlet(policy, cells, seeds, pool, (cell, r) => record.record(cell, r));
      record.finish(gauntletReport({ ...demo.scenario, perturbations: block }, cells, seeds, outcomes, { scenarioArg: 'scenarios/pick-place.yaml' }));
      gauntlet = record.studyId;
    } finally {
      await pool.close();
      store.close();
    }
    const served = await fetch(new URL(`/api/studies/${gauntlet}/gauntlet`, viewer.url));
    const matrix = (await served.json()) as GauntletMatrix;
    // T0 moves nothing: no row of its own, the nominal world is it.
    expect(matrix.rows.map((r) => r.tier)).toEqual(['nominal', 'T4']);
    expect((await fetch(new URL(`/api/studies/${demo.studyId}/gauntlet`, viewer.url))).status).toBe(404);

    const p = await ctx.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    try {
      // The study it ran links to it; the link opens the heatmap (and the address is #study=ID).
      await open(p, `${viewer.url}#study=${demo.studyId}`);
      expect(await p.locator('#gauntlet-heatmap').isHidden()).toBe(true);
      await p.locator(`#study-info a[href="#study=${gauntlet}"]`).click();
      await p.locator('#gauntlet-heatmap table.heatmap').waitFor({ timeout: 10_000 });
      expect(await p.locator('#gauntlet-heatmap .heatmap-title').textContent()).toContain(`2 paired seeds · the best (#${matrix.source!.candidate}) of study ${demo.studyId}`);
      expect(await p.locator('#gauntlet-heatmap thead th').allTextContents()).toEqual(['tier', 'all axes', 'arm_kp', 'cube_mass']);

      // Every square: the worst world's rate, its colour (two seeds: 0, 50 or 100%, exactly the
      // scale's red, amber and green stops), the worlds behind it in the tooltip; empty where nothing ran.
      const stops: Record<string, string> = { '0': 'rgb(178, 53, 47)', '0.5': 'rgb(196, 150, 38)', '1': 'rgb(46, 140, 84)' };
      const squares = await p.locator('#gauntlet-heatmap tbody tr').evaluateAll((rows) =>
        rows.map((tr) => Array.from(tr.querySelectorAll('td'), (td) => ({ column: td.dataset.column, text: td.textContent, empty: td.classList.contains('empty'), colour: getComputedStyle(td).backgroundColor, title: td.title }))),
      );
      expect(squares.map((row) => row.map((sq) => sq.column))).toEqual(matrix.rows.map(() => matrix.columns));
      for (const [r, row] of matrix.rows.entries()) {
        for (const [c, worlds] of row.cells.entries()) {
          const sq = squares[r][c];
          if (worlds.length === 0) {
            expect([r, sq.empty]).toEqual([0, true]);
            continue;
          }
          const worst = worlds[0];
          expect(worlds.every((w) => w.successRate >= worst.successRate)).toBe(true);
          expect(sq.text).toBe(String(Math.round(100 * worst.successRate)));
          expect(sq.colour).toBe(stops[String(worst.successRate)]);
          const title = sq.title.split('\n');
          expect(title).toHaveLength(worlds.length);
          expect(title[0]).toMatch(new RegExp(`: ${worst.successes}/2 = \\d+%, Wilson 95% \\[\\d+%, \\d+%\\], n 2; lost vs nominal: (none|seeds [\\d, ]+)`));
          if (worst.lost.length) expect(title[0]).toContain(`seeds ${worst.lost.join(', ')}`);
        }
      }
      // arm_kp at T4 is two worlds (0.6 and 1.4); cube_mass's low end is nominal, so one.
      expect(squares[1][1].title.split('\n').map((l) => l.split(':')[0]).sort()).toEqual(['arm_kp=0.6 at T4', 'arm_kp=1.4 at T4']);
      expect(squares[1][2].title.split(':')[0]).toBe('cube_mass=2 at T4');

      // A click on a square lists that world's episodes.
      const t4kp = p.locator('#gauntlet-heatmap td[data-tier="T4"][data-column="arm_kp"]');
      await t4kp.click();
      const candidate = await t4kp.getAttribute('data-candidate');
      await expect.poll(() => p.locator(`#candidates tr.selected`).getAttribute('data-candidate')).toBe(candidate);
      expect(await p.locator('#episodes .chip').count()).toBe(2);

      await p.evaluate(() => window.arbor.seek(0)); // a still stage: the screenshot need not wait for frames
      const png = await p.locator('#gauntlet-heatmap').screenshot({ path: join(dir, 'gauntlet-heatmap.png') });
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      expect(png.length).toBeGreaterThan(2000);
      expect(errors).toEqual([]);
    } finally {
      await p.close();
    }
  }, 120_000);
});
