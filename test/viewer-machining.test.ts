/**
 * The viewer on a task it was never told about: a real machining study (real MuJoCo, real store)
 * served on 127.0.0.1 and shown in headless Chromium. The world is drawn from its MJCF, the force
 * plot with its band comes from the task's declared plots, and the camera frames, the contact map
 * and the vision check's drawing come from the trace's image topics and the scenario: nothing in
 * the viewer names machining.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPolicy, type PolicyFile } from '../src/policy/file.ts';
import { loadScenario } from '../src/scenario/load.ts';
import type { EpisodeImages } from '../src/viewer/data.ts';
import { decodeEpisode } from '../src/viewer/protocol.ts';
import type { SceneSpec } from '../src/viewer/scene-spec.ts';
import { startViewer, type ViewerServer } from '../src/viewer/server.ts';
import { launchChromium, type TestBrowser } from './browser.ts';
import { makeSmallStudy, type SmallStudy } from './fixtures/small-study.ts';

const SCENARIO = resolve('scenarios/machining-contour.yaml');
let dir: string;
let study: SmallStudy;
let viewer: ViewerServer;
let browser: TestBrowser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'arbor-viewer-machining-'));
  const tuned = JSON.parse(readFileSync('scenarios/machining-contour.tuned.json', 'utf8')) as PolicyFile;
  study = await makeSmallStudy(dir, SCENARIO, [{ description: 'tuned', policy: tuned }, { description: 'defaults', policy: defaultPolicy(await loadScenario(SCENARIO)) }], [3]);
  viewer = await startViewer({ port: 0, dbPath: study.dbPath, watchRelays: false });
  browser = await launchChromium({ width: 1280, height: 900 });
  page = await browser.context.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
});

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
  rmSync(dir, { recursive: true, force: true });
});

const base = () => viewer.url.replace(/\/$/, '');
async function get(path: string): Promise<Response> {
  return fetch(base() + path);
}

/** Width and height from a PNG's header. */
function pngSize(bytes: Buffer): [number, number] {
  expect(bytes.subarray(1, 4).toString('ascii')).toBe('PNG');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

describe('the viewer on a machining study', () => {
  it("draws the machining world, and plots the task's force with its band", async () => {
    const scene = (await (await get(`/api/scene?study=${study.studyId}`)).json()) as SceneSpec;
    const names = scene.bodies.map((b) => b.name);
    expect(names).toEqual(expect.arrayContaining(['spindle', 'workpiece']));
    const workpiece = scene.bodies.find((b) => b.name === 'workpiece')!;
    expect(scene.dynamic).toContain(workpiece.id);
    const episode = decodeEpisode(await (await get(`/api/episodes/${study.episodes[0][0]}/frames`)).arrayBuffer());
    expect(episode.header.taskPlots).toEqual([{ group: 'task:0', title: 'tool normal force' }]);
    const force = episode.header.series.findIndex((s) => s.group === 'task:0' && !s.band);
    const band = episode.header.series.flatMap((s, i) => (s.band ? [i] : []));
    expect(Math.max(...episode.series[force])).toBeGreaterThan(10);
    expect(band.map((i) => [episode.series[i][0], episode.series[i].at(-1)])).toEqual([[10, 10], [20, 20]]);
    // The workpiece is drawn at its size in this episode.
    expect(Object.keys(episode.header.geomSizes)).toHaveLength(1);
    // It is placed once per seed and never moves: no height plot (that is for objects that move, a cube to pick).
    expect(episode.header.series.filter((s) => s.group === 'object')).toEqual([]);
  });

  it('lists the image topics and the vision check, and serves each as a PNG', async () => {
    const [tuned, defaults] = [study.episodes[0][0], study.episodes[1][0]];
    const pictures = (await (await get(`/api/episodes/${tuned}/images`)).json()) as EpisodeImages;
    expect(pictures.images.map((i) => [i.topic, i.encoding, i.stamps.length])).toEqual([
      ['/camera/front/rgb', 'rgb8', 2],
      ['/machining/contact_map', 'mono8', 1],
      ['/machining/target_path', 'mono8', 1],
    ]);
    expect(pictures.checks).toHaveLength(1);
    expect(pictures.checks[0]).toMatchObject({ name: 'contact_follows_path', kind: 'mask_iou', pass: true });
    expect(pictures.checks[0].metrics.iou).toBeGreaterThan(0.5);
    const camera = await get(`/api/episodes/${tuned}/image.png?topic=${encodeURIComponent('/camera/front/rgb')}&frame=1`);
    expect(camera.headers.get('content-type')).toBe('image/png');
    expect(pngSize(Buffer.from(await camera.arrayBuffer()))).toEqual([120, 90]);
    const map = pictures.images[1];
    expect(pngSize(Buffer.from(await (await get(`/api/episodes/${tuned}/image.png?topic=${encodeURIComponent(map.topic)}&frame=0`)).arrayBuffer()))).toEqual([map.width, map.height]);
    expect(pngSize(Buffer.from(await (await get(`/api/episodes/${defaults}/vision.png?check=contact_follows_path`)).arrayBuffer()))).toEqual([map.width, map.height]);
    const missing = await get(`/api/episodes/${tuned}/image.png?topic=/camera/side/rgb&frame=0`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { problem: { message: string } }).problem.message).toBe(`Episode ${tuned} has no image topic '/camera/side/rgb'; it has: /camera/front/rgb, /machining/contact_map, /machining/target_path.`);
    expect((await get(`/api/episodes/${tuned}/image.png?topic=/camera/front/rgb&frame=2`)).status).toBe(404);
    expect((await get(`/api/episodes/${tuned}/vision.png?check=nothing`)).status).toBe(404);
  });

  it('shows the pictures beside the replay, the camera frame following the timeline', async () => {
    const tuned = study.episodes[0][0];
    await page.goto(`${viewer.url}#study=${study.studyId}&episode=${tuned}`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
    const figures = page.locator('#pictures figure');
    await expect.poll(() => figures.count(), { timeout: 20_000 }).toBe(4);
    // Every picture has loaded and decoded.
    await expect.poll(() => page.evaluate(() => Array.from(document.querySelectorAll<HTMLImageElement>('#pictures img')).every((img) => img.complete && img.naturalWidth > 0)), { timeout: 20_000 }).toBe(true);
    expect(await page.locator('#pictures figure[data-check="contact_follows_path"] .pass').count()).toBe(1);
    expect(await page.locator('.plot[data-group="task:0"] .u-title').textContent()).toBe('tool normal force');
    const cameraSrc = () => page.locator('#pictures figure[data-topic="/camera/front/rgb"] img').getAttribute('src');
    const seek = (t: number) => page.evaluate((at) => window.arbor.seek(at), t);
    await seek(0);
    expect(await cameraSrc()).toContain('frame=0');
    await seek(1000);
    await expect.poll(cameraSrc).toContain('frame=1');
    expect(pageErrors).toEqual([]);
  });

  it("shows the task's own plots and not pick-and-place's object height, each in full view at 1440×900", async () => {
    const p = await browser.context.newPage();
    p.on('pageerror', (e) => pageErrors.push(e.message));
    try {
      await p.setViewportSize({ width: 1440, height: 900 });
      await p.goto(`${viewer.url}#study=${study.studyId}&episode=${study.episodes[0][0]}`);
      await p.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
      // The pictures change the layout as they arrive: measure once all four have loaded.
      await expect.poll(() => p.locator('#pictures figure').count(), { timeout: 20_000 }).toBe(4);
      await expect.poll(() => p.evaluate(() => Array.from(document.querySelectorAll<HTMLImageElement>('#pictures img')).every((img) => img.complete && img.naturalWidth > 0)), { timeout: 20_000 }).toBe(true);
      expect(await p.locator('#plots .plot').evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.group))).toEqual(['joints', 'wrench', 'task:0']);
      const layout = await p.evaluate(() => {
        const box = (el: Element) => {
          const r = el.getBoundingClientRect();
          return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
        };
        const plots = Array.from(document.querySelectorAll('#plots .plot'));
        // What is on top at the centre and near the corners of each plot: the plot itself, not the pictures.
        const onTop = plots.map((plot) => {
          const r = plot.getBoundingClientRect();
          const points = [[r.left + r.width / 2, r.top + r.height / 2], [r.left + 4, r.top + 4], [r.right - 4, r.top + 4], [r.left + 4, r.bottom - 4], [r.right - 4, r.bottom - 4]];
          return points.every(([x, y]) => plot.contains(document.elementFromPoint(x, y)));
        });
        return { width: innerWidth, height: innerHeight, panel: box(document.getElementById('plots')!), plots: plots.map(box), onTop, pictures: Array.from(document.querySelectorAll('#pictures, #pictures figure')).map(box) };
      });
      expect(layout.plots).toHaveLength(3);
      type Box = (typeof layout.plots)[number];
      const overlaps = (a: Box, b: Box) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      layout.plots.forEach((plot, i) => {
        // In the window, not scrolled out of the plots panel, clear of the pictures, and on top.
        expect(plot.left, `plot ${i}`).toBeGreaterThanOrEqual(0);
        expect(plot.top, `plot ${i}`).toBeGreaterThanOrEqual(0);
        expect(plot.right, `plot ${i}`).toBeLessThanOrEqual(layout.width);
        expect(plot.bottom, `plot ${i}`).toBeLessThanOrEqual(layout.height);
        expect(plot.top, `plot ${i}`).toBeGreaterThanOrEqual(layout.panel.top);
        expect(plot.bottom, `plot ${i}`).toBeLessThanOrEqual(layout.panel.bottom);
        for (const picture of layout.pictures) expect(overlaps(plot, picture), `plot ${i} and a picture`).toBe(false);
      });
      expect(layout.onTop).toEqual([true, true, true]);
      expect(pageErrors).toEqual([]);
    } finally {
      await p.close();
    }
  });
});
