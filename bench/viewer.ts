/**
 * Viewer benchmarks: `npx tsx bench/viewer.ts [--seconds 5] [--width 1280 --height 800]`.
 *
 * 1. Wire formats: live frames encoded and decoded per second; episode blobs decoded (MB/s).
 * 2. Page frame time in headless Chromium (Debian's or the packaged one, see test/browser.ts; WebGL
 *    on SwiftShader) while a live stream of the arm6 pick-and-place world plays at 60 frames per
 *    second (target: >= 60 fps).
 * 3. Load time of a 10,000-frame episode (200 s at 50 Hz): the server's first build (trace read,
 *    forward kinematics and contacts per frame, encode), a cached fetch, and in the page (fetch,
 *    decode, plots, first frame drawn) (target: < 1 s).
 *
 * Ends with a grep-able `key: value` block.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultPolicy } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { LiveFeed } from '../src/evaluation/live.ts';
import { Store } from '../src/store/store.ts';
import { Trace, type TopicSeries } from '../src/trace/trace.ts';
import { makeDemoStudy } from '../test/fixtures/demo-study.ts';
import { Poser } from '../src/viewer/poser.ts';
import { CONTACT_STRIDE, POSE_STRIDE, decodeEpisode, decodeLiveFrame, encodeEpisode, encodeLiveFrame } from '../src/viewer/protocol.ts';
import { startViewer } from '../src/viewer/server.ts';
import { launchChromium } from '../test/browser.ts';

const { values: args } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, width: { type: 'string', default: '1280' }, height: { type: 'string', default: '800' } },
});
const seconds = Number(args.seconds);
const results: Record<string, string | number> = {};
const log = (s: string) => process.stderr.write(`${s}\n`);

const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-viewer-'));
log(`making a demo study in ${dir} ...`);
const demo = await makeDemoStudy(dir, [1]);

// A real episode: its qpos per control tick (for the live stream) and its trace (for the 10k episode).
const runner = await EpisodeRunner.create(demo.scenario);
const qposes: Float64Array[] = [];
const run = await runner.run(defaultPolicy(demo.scenario), 7, () => qposes.push(runner.link.snapshot()!.qpos));
await runner.close();

// ----- 1. wire formats ----------------------------------------------------------------------

{
  const poser = await Poser.ofScenario(demo.scenario, 'bench');
  poser.poseQpos(qposes[Math.floor(qposes.length / 2)]);
  const { poses, contacts } = poser.frame();
  const frame = { stream: 0, seq: 1, candidate: 1, seed: 7, time: 1, poses, contacts };
  const n = 200_000;
  let t = performance.now();
  let bytes = 0;
  for (let i = 0; i < n; i++) bytes += encodeLiveFrame(frame).length;
  const encodeMs = performance.now() - t;
  const encoded = encodeLiveFrame(frame);
  t = performance.now();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += decodeLiveFrame(encoded).poses[0];
  const decodeMs = performance.now() - t;
  results.live_frame_bytes = encoded.length;
  results.live_frame_bodies = poses.length / POSE_STRIDE;
  results.live_frame_contacts = contacts.length / CONTACT_STRIDE;
  results.live_frame_encode_per_s = Math.round((n / encodeMs) * 1000);
  results.live_frame_decode_per_s = Math.round((n / decodeMs) * 1000);
  t = performance.now();
  const m = 2000;
  for (let i = 0; i < m; i++) poser.poseQpos(qposes[i % qposes.length]), poser.frame();
  results.live_pose_per_s = Math.round((m / (performance.now() - t)) * 1000);
  const blob = encodeEpisode(poser.episode(run.trace));
  t = performance.now();
  const k = 2000;
  for (let i = 0; i < k; i++) sum += decodeEpisode(blob).header.frames;
  results.episode_decode_mb_per_s = Math.round(((k * blob.length) / 1e6 / (performance.now() - t)) * 1000);
  poser.dispose();
  if (!Number.isFinite(sum) || bytes === 0) throw new Error('unreachable');
}

// ----- a 10,000-frame episode in the store ------------------------------------------------------

const FRAMES = 10_000;
const bigTopics = new Map<string, TopicSeries>();
for (const [name, topic] of run.trace.topics) {
  const n = topic.stamps.length;
  const w = topic.fields.length;
  const stamps = new Float64Array(FRAMES);
  const data = new Float32Array(FRAMES * w);
  // Play the episode forward and backward so the motion stays continuous.
  for (let i = 0; i < FRAMES; i++) {
    const cycle = Math.floor(i / n);
    const j = cycle % 2 === 0 ? i % n : n - 1 - (i % n);
    stamps[i] = i * 0.02;
    data.set(topic.data.subarray(j * w, (j + 1) * w), i * w);
  }
  bigTopics.set(name, { ...topic, stamps, data });
}
const store = Store.open(demo.dbPath);
const big = store.recordEpisode({
  studyId: demo.studyId, candidateId: demo.candidates[1], split: 'validation', seed: 424242, status: 'ok', success: run.success, score: run.score,
  outcome: run.outcome, metrics: run.metrics, terms: run.terms, trace: new Trace(bigTopics, run.trace.meta), wallTime: run.wallTime,
})!;
store.close();

const feed = new LiveFeed();
const viewer = await startViewer({ port: 0, dbPath: demo.dbPath, live: feed, watchRelays: false });
const base = viewer.url.replace(/\/$/, '');

// ----- 3a. server side of the 10k-frame load ----------------------------------------------------

{
  await (await fetch(`${base}/api/scene?study=${demo.studyId}`)).arrayBuffer(); // the study's world is loaded
  let t = performance.now();
  let bytes = (await (await fetch(`${base}/api/episodes/${big.id}/frames`)).arrayBuffer()).byteLength;
  results.episode_10k_server_first_ms = Math.round(performance.now() - t);
  t = performance.now();
  bytes = (await (await fetch(`${base}/api/episodes/${big.id}/frames`)).arrayBuffer()).byteLength;
  results.episode_10k_cached_fetch_ms = Math.round(performance.now() - t);
  results.episode_10k_bytes = bytes;
  t = performance.now();
  const contactBytes = (await (await fetch(`${base}/api/episodes/${big.id}/contacts`)).arrayBuffer()).byteLength;
  results.episode_10k_contacts_server_ms = Math.round(performance.now() - t);
  results.episode_10k_contacts_bytes = contactBytes;
}

// ----- 2 and 3b. the page ---------------------------------------------------------------------

const browser = await launchChromium({ width: Number(args.width), height: Number(args.height) });
results.chromium = browser.choice.source;
try {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${viewer.url}#live`);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
  const canvas = (await page.locator('#canvas').boundingBox())!;
  results.canvas = `${Math.round(canvas.width)}x${Math.round(canvas.height)}`;

  // Stream the recorded episode at 60 frames per second, looping.
  let i = 0;
  let t = 0;
  const timer = setInterval(() => {
    t += 1 / 60;
    feed.emit('frame', { worker: 0, study: demo.studyId, candidate: demo.candidates[1], seed: 7, time: t, qpos: qposes[i++ % qposes.length] });
  }, 1000 / 60);
  const status = () => page.evaluate(() => window.arbor.status());
  await page.waitForFunction(() => window.arbor.status().liveDrawn > 10, null, { timeout: 30_000 });
  // Let the adaptive resolution settle first.
  await page.waitForTimeout(3000);
  const before = await status();
  const started = performance.now();
  await page.waitForTimeout(seconds * 1000);
  const after = await status();
  const elapsed = (performance.now() - started) / 1000;
  const stats = await page.evaluate(() => window.arbor.frameStats());
  const ft = stats.frameTimes.slice(-Math.min(stats.frameTimes.length, Math.round(seconds * 60))).sort((a, b) => a - b);
  const rm = stats.renderMs.slice().sort((a, b) => a - b);
  const q = (a: number[], p: number) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
  results.stream_sent_fps = 60;
  results.page_drawn_fps = Number(((after.liveDrawn - before.liveDrawn) / elapsed).toFixed(1));
  results.page_received_fps = Number(((after.liveReceived - before.liveReceived) / elapsed).toFixed(1));
  results.page_frame_ms_mean = Number((ft.reduce((a, b) => a + b, 0) / ft.length).toFixed(2));
  results.page_frame_ms_p50 = Number(q(ft, 0.5).toFixed(2));
  results.page_frame_ms_p95 = Number(q(ft, 0.95).toFixed(2));
  results.page_fps = Number((1000 / results.page_frame_ms_mean).toFixed(1));
  results.page_render_scale = Number(after.renderScale.toFixed(2));
  results.page_render_ms_p50 = Number(q(rm, 0.5).toFixed(2));
  results.page_render_ms_p95 = Number(q(rm, 0.95).toFixed(2));

  // The same at full resolution (no adaptive scaling), for comparison.
  await page.evaluate(() => window.arbor.lockScale(1));
  await page.waitForTimeout(1000);
  const fullBefore = await status();
  const fullStart = performance.now();
  await page.waitForTimeout(3000);
  const fullAfter = await status();
  results.page_drawn_fps_full_resolution = Number(((fullAfter.liveDrawn - fullBefore.liveDrawn) / ((performance.now() - fullStart) / 1000)).toFixed(1));
  await page.evaluate(() => window.arbor.lockScale(undefined));
  clearInterval(timer);

  // 3b. The 10k-frame episode in the page, served from the server's cache.
  const load = async () => {
    await page.evaluate((id) => window.arbor.open(id), big.id);
    return page.evaluate(() => window.arbor.status());
  };
  const warm = await load();
  if (warm.frames !== FRAMES) throw new Error(`The page loaded ${warm.frames} frames, not ${FRAMES}.`);
  results.episode_10k_page_load_ms_cached = Math.round(warm.loadMs);
  results.page_errors = errors.length;
} finally {
  await browser.close();
  await viewer.close();
}

// The whole cold path in a fresh server: build + transfer + decode + plots + first frame.
{
  const fresh = await startViewer({ port: 0, dbPath: demo.dbPath, watchRelays: false });
  const browser2 = await launchChromium({ width: Number(args.width), height: Number(args.height) });
  try {
    const page = await browser2.context.newPage();
    await page.goto(`${fresh.url}#study=${demo.studyId}&episode=${demo.episodes[0][0]}`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 30_000 });
    await page.evaluate((id) => window.arbor.open(id), big.id);
    const s = await page.evaluate(() => window.arbor.status());
    results.episode_10k_page_load_ms_cold = Math.round(s.loadMs);
  } finally {
    await browser2.close();
    await fresh.close();
  }
}

console.log('\n---');
for (const [k, v] of Object.entries(results)) console.log(`${k}: ${v}`);
