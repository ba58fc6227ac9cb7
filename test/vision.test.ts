/**
 * Vision on images made here, where every right answer is known: masks by colour and label, area,
 * centroid, IoU, pixel ↔ world geometry, the checks of a scenario's `vision:` block and how they
 * join the score; image topics in trace files (old files still read); PNG files read back.
 */
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { CameraSpec, VisionCheck, type CameraCalibration } from '../src/scenario/schema.ts';
import { runVisionChecks, withVision } from '../src/scoring/vision-checks.ts';
import { blobOf, calibrationModel, imageFrame, maskIou, maskOf, pixelOnPlane, pixelToWorld, worldToPixel, type ImageFrame } from '../src/scoring/vision.ts';
import type { Score } from '../src/tasks/task.ts';
import { encodePng } from '../src/trace/png.ts';
import { decodeTrace, encodeTrace, TraceRecorder, type CameraModel, type Trace } from '../src/trace/trace.ts';
import { scenarioCopy } from './study-helpers.ts';

const W = 40;
const H = 30;

/** An rgb8 frame: grey background with a red rectangle [u0, u1) × [v0, v1). */
function redRectangle(u0: number, u1: number, v0: number, v1: number): Uint8Array {
  const rgb = new Uint8Array(3 * W * H).fill(90);
  for (let v = v0; v < v1; v++) for (let u = u0; u < u1; u++) rgb.set([220, 60, 50], 3 * (v * W + u));
  return rgb;
}

const frame = (bytes: Uint8Array, extra: Partial<ImageFrame> = {}): ImageFrame => ({ width: W, height: H, encoding: 'rgb8', frameId: 'cam', bytes, stamp: 0, ...extra });
const RED = { color: { rgb: [220, 60, 50] as [number, number, number], tolerance: 30 } };

/** A camera 2 m above the origin looking straight down, its image's up along the world's +x. */
const calibration: CameraCalibration = { position: [0, 0, 2], xyaxes: [0, -1, 0, 1, 0, 0], fovy: 60 };

describe('masks, blobs and IoU', () => {
  it('finds a coloured rectangle: its area and centroid, and nothing of another colour', () => {
    const f = frame(redRectangle(10, 20, 5, 9));
    const mask = maskOf(f, RED);
    expect(blobOf(mask, W)).toEqual({ area: 40, u: 14.5, v: 6.5 });
    expect(blobOf(maskOf(f, { color: { rgb: [0, 0, 255], tolerance: 30 } }), W).area).toBe(0);
    expect(Number.isNaN(blobOf(new Uint8Array(W * H), W).u)).toBe(true);
  });

  it('selects labels by name through the legend or by value, and non-zero pixels without a target', () => {
    const labels = new Uint16Array(W * H);
    labels.fill(7, 0, 12);
    labels.fill(3, 100, 103);
    const f = frame(new Uint8Array(labels.buffer), { encoding: '16UC1', labels: { box: 7, table: 3 } });
    expect(blobOf(maskOf(f, { label: 'box' }), W).area).toBe(12);
    expect(blobOf(maskOf(f, { label: 3 }), W).area).toBe(3);
    expect(blobOf(maskOf(f), W).area).toBe(15);
    expect(() => maskOf(f, { label: 'cube' }, '/camera/top/segmentation')).toThrow("/camera/top/segmentation has no label 'cube'. Its labels: box, table.");
    expect(() => maskOf(f, RED, '/camera/top/segmentation')).toThrow('A colour target needs an rgb8 or mono8 image; /camera/top/segmentation is 16UC1.');
    const depth = new Float32Array(W * H).fill(Infinity);
    depth[5] = 1.2;
    expect(blobOf(maskOf(frame(new Uint8Array(depth.buffer), { encoding: '32FC1' })), W).area).toBe(1);
  });

  it('measures intersection over union', () => {
    const a = maskOf(frame(redRectangle(0, 10, 0, 10)), RED);
    const b = maskOf(frame(redRectangle(5, 15, 0, 10)), RED);
    expect(maskIou(a, b)).toBeCloseTo(50 / 150, 12);
    expect(maskIou(a, a)).toBe(1);
    expect(maskIou(new Uint8Array(4), new Uint8Array(4))).toBe(1);
    expect(() => maskIou(a, new Uint8Array(3))).toThrow('the images must have the same size');
  });
});

describe('camera geometry', () => {
  const cam = calibrationModel(calibration, W, H);

  it('maps the image centre below the camera, and image up to the world +x', () => {
    const centre = pixelOnPlane(cam, (W - 1) / 2, (H - 1) / 2, 0)!;
    expect(centre.map((c) => Math.abs(c) < 1e-12 ? 0 : c)).toEqual([0, 0, 0]);
    const up = pixelOnPlane(cam, (W - 1) / 2, 0, 0)!;
    expect(up[0]).toBeGreaterThan(0.5);
    expect(Math.abs(up[1])).toBeLessThan(1e-9);
    // fovy 60°: the top edge of the image (half a pixel above row 0) is 2·tan(30°) from the centre.
    expect(up[0] + (2 * Math.tan(Math.PI / 6)) / (H / 2) / 2).toBeCloseTo(2 * Math.tan(Math.PI / 6), 9);
  });

  it('projects world points to the pixels that see them and back', () => {
    for (const p of [[0.3, -0.2, 0], [0.1, 0.4, 0.5], [-0.5, 0.1, 1.2]] as [number, number, number][]) {
      const [u, v] = worldToPixel(cam, p)!;
      const depth = cam.position[2] - p[2];
      pixelToWorld(cam, u, v, depth).forEach((c, i) => expect(c).toBeCloseTo(p[i], 9));
      pixelOnPlane(cam, u, v, p[2])!.forEach((c, i) => expect(c).toBeCloseTo(p[i], 9));
    }
    expect(worldToPixel(cam, [0, 0, 3])).toBeUndefined();
    expect(pixelOnPlane(cam, 10, 10, 5)).toBeUndefined();
  });
});

/** A trace with one rgb frame of a red rectangle seen by the calibrated camera, and a mask pair. */
function visionTrace(rect: [number, number, number, number]): Trace {
  const recorder = new TraceRecorder();
  recorder.image({ name: '/camera/top/rgb', encoding: 'rgb8', width: W, height: H, frameId: 'top' }).push(0, redRectangle(...rect));
  const map = recorder.image({ name: '/task/map', encoding: 'mono8', width: W, height: H, frameId: 'task' });
  const target = recorder.image({ name: '/task/target', encoding: 'mono8', width: W, height: H, frameId: 'task' });
  map.push(0, new Uint8Array(W * H).fill(255, 0, 300));
  target.push(0, new Uint8Array(W * H).fill(255, 100, 400));
  return recorder.finish();
}

function scenarioWith(checks: Record<string, unknown>, success: 'state' | 'vision' | 'both' = 'both'): Pick<LoadedScenario, 'vision' | 'cameras'> {
  return {
    cameras: { top: CameraSpec.parse({ width: W, height: H, calibration }) },
    vision: { success, checks: Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, VisionCheck.parse(v)])) },
  };
}

describe('vision checks', () => {
  const cam: CameraModel = calibrationModel(calibration, W, H);
  // Where the centre of the rectangle [10, 20) × [5, 9) lands on the table.
  const seen = pixelOnPlane(cam, 14.5, 6.5, 0)!;
  const inZone = { kind: 'inside_zone', image: '/camera/top/rgb', target: RED, min_area: 10, zone: { center: [seen[0], seen[1]], half_size: [0.05, 0.05] } };

  it('detects, places in a zone through the calibration, and compares masks', () => {
    const trace = visionTrace([10, 20, 5, 9]);
    const results = runVisionChecks(trace, scenarioWith({
      seen: { kind: 'detect', image: '/camera/top/rgb', target: RED, min_area: 40, max_area: 40 },
      placed: inZone,
      elsewhere: { ...inZone, zone: { center: [seen[0] + 0.2, seen[1]], half_size: [0.05, 0.05] } },
      overlap: { kind: 'mask_iou', image: '/task/map', target_image: '/task/target', threshold: 0.5 },
    }));
    expect(results.map((r) => [r.name, r.pass])).toEqual([['seen', true], ['placed', true], ['elsewhere', false], ['overlap', true]]);
    expect(results[1].metrics.x).toBeCloseTo(seen[0], 12);
    expect(results[1].metrics.y).toBeCloseTo(seen[1], 12);
    expect(results[3].metrics).toEqual({ iou: 200 / 400, area: 300, target_area: 300 });
    // What each saw, drawn on its frame: the rectangle tinted, the zone outlined.
    const drawn = results[1].annotate();
    expect(drawn.rgb.length).toBe(3 * W * H);
    expect(Buffer.from(drawn.rgb).equals(Buffer.from(redRectangle(10, 20, 5, 9)))).toBe(false);
  });

  it('lets state, vision or both decide success, and reports their disagreement', () => {
    const trace = visionTrace([10, 20, 5, 9]);
    const failing = { ...inZone, zone: { center: [seen[0] + 0.3, seen[1]], half_size: [0.05, 0.05] } };
    const state: Score = { success: true, score: 0.9, outcome: 'success', terms: { success: 1 }, metrics: { place_error: 0.01 } };
    const both = withVision(state, trace, scenarioWith({ placed: failing }, 'both'));
    expect([both.success, both.outcome, both.score]).toEqual([false, 'vision_fail', 0.9]);
    expect(both.metrics).toMatchObject({ state_success: true, vision_success: false, vision_disagrees: true, 'vision.placed.pass': false, place_error: 0.01 });
    expect(withVision(state, trace, scenarioWith({ placed: failing }, 'state')).success).toBe(true);
    const visionDecides = withVision({ ...state, success: false, outcome: 'drop' }, trace, scenarioWith({ placed: inZone }, 'vision'));
    expect([visionDecides.success, visionDecides.outcome]).toEqual([true, 'success']);
    const notRequired = withVision(state, trace, scenarioWith({ placed: { ...failing, required: false } }, 'both'));
    expect([notRequired.success, notRequired.metrics.vision_disagrees]).toEqual([true, false]);
    // Nothing seen: no centroid to report, only what was measured.
    const empty = withVision(state, visionTrace([0, 0, 0, 0]), scenarioWith({ placed: inZone }));
    expect(empty.metrics['vision.placed.area']).toBe(0);
    expect('vision.placed.x' in empty.metrics).toBe(false);
    expect(withVision(state, trace, { cameras: {}, vision: undefined })).toBe(state);
  });

  it('names the missing topic or calibration', () => {
    const trace = visionTrace([10, 20, 5, 9]);
    expect(() => runVisionChecks(trace, scenarioWith({ seen: { kind: 'detect', image: '/camera/side/rgb', target: RED } }))).toThrow(
      "Vision check 'seen' reads the image topic /camera/side/rgb, which this episode did not record (it has: /camera/top/rgb, /task/map, /task/target).",
    );
    expect(() => runVisionChecks(trace, { ...scenarioWith({ placed: inZone }), cameras: {} })).toThrow('/camera/top/rgb carries no camera model; give its camera a calibration in the scenario (cameras: { top: ');
  });
});

describe('image topics in trace files', () => {
  it('round-trip with their encoding, size, legend and camera; a trace without images stays version 1', () => {
    const recorder = new TraceRecorder();
    recorder.topic('/clock', 'rosgraph_msgs/Clock', ['clock']).push(0.5, [0.5]);
    // As JSON has it (no -0), so the header compares equal after the round trip.
    const camera = JSON.parse(JSON.stringify(calibrationModel(calibration, W, H))) as CameraModel;
    const seg = recorder.image({ name: '/camera/top/segmentation', encoding: '16UC1', width: W, height: H, frameId: 'top', labels: { box: 4 }, camera });
    seg.push(0, new Uint8Array(2 * W * H).fill(4, 0, 20));
    seg.push(0.25, new Uint8Array(2 * W * H).fill(9));
    const trace = recorder.finish({ seed: 3 });
    const bytes = encodeTrace(trace);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe('ARBTRC02');
    const back = decodeTrace(bytes);
    const image = back.image('/camera/top/segmentation');
    expect({ ...image, stamps: Array.from(image.stamps), data: Buffer.from(image.data) }).toEqual({
      ...trace.image('/camera/top/segmentation'),
      stamps: [0, 0.25],
      data: Buffer.from(trace.image('/camera/top/segmentation').data),
    });
    expect(Array.from(back.topic('/clock').data)).toEqual([0.5]);
    expect(imageFrame(image, 'last').bytes[0]).toBe(9);
    expect(() => imageFrame(image, 2)).toThrow("Image topic '/camera/top/segmentation' has 2 frames; there is no frame 2.");
    expect(() => back.image('/camera/top/rgb')).toThrow("The trace has no image topic '/camera/top/rgb'. It has: /camera/top/segmentation.");
    expect(() => decodeTrace(bytes.subarray(0, bytes.length - 16))).toThrow("The trace is truncated in image topic '/camera/top/segmentation'.");

    // Without images, the file is version 1 and exactly what it was before image topics existed.
    const plain = new TraceRecorder();
    plain.topic('/clock', 'rosgraph_msgs/Clock', ['clock']).push(0.5, [0.5]);
    const v1 = encodeTrace(plain.finish({ seed: 3 }));
    const header = JSON.stringify({ meta: { seed: 3 }, topics: [{ name: '/clock', type: 'rosgraph_msgs/Clock', fields: ['clock'], count: 1 }] });
    const expected = new Uint8Array(((12 + header.length + 7) & ~7) + 8 + 8);
    expected.set(new TextEncoder().encode('ARBTRC01'), 0);
    new DataView(expected.buffer).setUint32(8, header.length, true);
    expected.set(new TextEncoder().encode(header), 12);
    new DataView(expected.buffer).setFloat64(expected.length - 16, 0.5, true);
    new DataView(expected.buffer).setFloat32(expected.length - 8, 0.5, true);
    expect(Buffer.from(v1).equals(Buffer.from(expected))).toBe(true);
    expect(decodeTrace(v1).images.size).toBe(0);
  });
});

describe('PNG files', () => {
  /** Reads the pixels back from a PNG of filter-0 rows. */
  function readPng(png: Buffer): { width: number; height: number; colorType: number; rows: Buffer } {
    expect(png.subarray(0, 8)).toEqual(Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]));
    let offset = 8;
    const idat: Buffer[] = [];
    let ihdr: Buffer | undefined;
    while (offset < png.length) {
      const length = png.readUInt32BE(offset);
      const type = png.toString('ascii', offset + 4, offset + 8);
      const data = png.subarray(offset + 8, offset + 8 + length);
      if (type === 'IHDR') ihdr = data;
      if (type === 'IDAT') idat.push(data);
      offset += 12 + length;
    }
    return { width: ihdr!.readUInt32BE(0), height: ihdr!.readUInt32BE(4), colorType: ihdr![9], rows: inflateSync(Buffer.concat(idat)) };
  }

  it('hold the pixels given, row by row', () => {
    const rgb = redRectangle(3, 9, 2, 7);
    const png = readPng(encodePng(W, H, 'rgb8', rgb));
    expect([png.width, png.height, png.colorType]).toEqual([W, H, 2]);
    for (let y = 0; y < H; y++) {
      expect(png.rows[y * (3 * W + 1)]).toBe(0);
      expect(png.rows.subarray(y * (3 * W + 1) + 1, (y + 1) * (3 * W + 1))).toEqual(Buffer.from(rgb.subarray(3 * W * y, 3 * W * (y + 1))));
    }
    expect(readPng(encodePng(2, 1, 'mono8', Uint8Array.from([0, 255]))).rows).toEqual(Buffer.from([0, 0, 255]));
    expect(() => encodePng(W, H, 'rgb8', new Uint8Array(5))).toThrow(`A ${W}x${H} rgb8 image has ${3 * W * H} bytes; got 5.`);
  });
});

describe('the cameras: and vision: blocks of a scenario', () => {
  const withBlocks = (blocks: string) => scenarioCopy('scenarios/pick-place.yaml', (text) => `${text}\n${blocks}`).file;

  it('load with their defaults filled in', async () => {
    const sc = await loadScenario(withBlocks('cameras:\n  top: {}\nvision:\n  checks:\n    seen: { kind: detect, image: /camera/top/rgb, target: { label: box } }\n'));
    expect(sc.cameras.top).toEqual({ width: 160, height: 120, rate: 0, images: ['rgb'] });
    expect(sc.vision).toEqual({ success: 'state', checks: { seen: { kind: 'detect', image: '/camera/top/rgb', frame: 'last', required: true, target: { label: 'box' }, min_area: 1 } } });
    expect((await loadScenario('scenarios/pick-place.yaml')).cameras).toEqual({});
  });

  it('name a camera image no camera records, a bad calibration and a target with two selectors, with the fix', async () => {
    const problems = (blocks: string) => loadScenario(withBlocks(blocks)).then(() => 'loaded without a problem', (e: Error) => e.message);
    expect(await problems('cameras:\n  top: { images: [rgb] }\nvision:\n  checks:\n    placed: { kind: inside_zone, image: /camera/top/rgb, depth: /camera/top/depth, target: { label: box }, zone: { center: [0.45, 0.3], half_size: [0.06, 0.06] } }\n')).toMatch(
      /vision\.checks\.placed\.depth: reads \/camera\/top\/depth, which no camera records.*cameras: \{ top: \{ images: \[rgb, depth\] \} \}/s,
    );
    expect(await problems('cameras:\n  top: { calibration: { position: [0, 0, 1], xyaxes: [1, 0, 0, 1, 0, 0], fovy: 50 } }\n')).toMatch(/cameras\.top\.calibration\.xyaxes: must be two non-zero, perpendicular axes/);
    expect(await problems('cameras:\n  top: { images: [rgb] }\nvision:\n  checks:\n    seen: { kind: detect, image: /camera/top/rgb, target: { label: box, color: { rgb: [1, 2, 3] } } }\n')).toMatch(/vision\.checks\.seen\.target: needs exactly one of color or label/);
    expect(await problems('cameras:\n  top: { width: 2000 }\n')).toMatch(/cameras\.top\.width: must be at most 1280/);
  });
});
