/**
 * The scenario's vision checks on an episode's image topics, and how they join the task's score.
 * Checks read only sensor_msgs/Image topics and the scenario (calibrations, zones, colours), so
 * they judge a physical cell's camera as they judge the sim's: there the camera is often the only
 * judge, with no object pose to read. Each check can draw what it saw and where it looked.
 *
 * Success is decided in one place for every task: by the task's state scorer, by the vision
 * checks, or by both; the other verdict, and whether they disagree, are kept in the metrics.
 */
import type { LoadedScenario } from '../scenario/load.ts';
import type { VisionCheck, VisionSpec } from '../scenario/schema.ts';
import type { Score } from '../tasks/task.ts';
import type { CameraModel, Trace } from '../trace/trace.ts';
import { blobOf, calibrationModel, imageFrame, maskIou, maskOf, meanDepth, pixelOnPlane, pixelToWorld, worldToPixel, type ImageFrame } from './vision.ts';
import { cross, polygon, tint, viewable, type RgbImage } from './vision-draw.ts';

/** What one check found in one episode. */
export interface VisionCheckResult {
  /** The check's name in the scenario. */
  name: string;
  /** Its kind. */
  kind: VisionCheck['kind'];
  /** Whether it counts toward vision success. */
  required: boolean;
  /** Whether it passed. */
  pass: boolean;
  /** Its measurements (pixels, metres, IoU), by name; NaN where there is nothing to measure (no centroid of nothing). */
  metrics: Record<string, number>;
  /** Draws what the check saw and where it looked, on the frame it read. */
  annotate(): RgbImage;
}

const SEEN: readonly [number, number, number] = [255, 64, 200];
const MARK: readonly [number, number, number] = [255, 255, 0];
const ZONE_COLOUR: readonly [number, number, number] = [0, 255, 255];
const BOTH: readonly [number, number, number] = [40, 220, 80];
const ONLY_IMAGE: readonly [number, number, number] = [235, 50, 50];
const ONLY_TARGET: readonly [number, number, number] = [60, 110, 255];

/** Runs every check of the scenario's `vision:` block on a trace (none without one). */
export function runVisionChecks(trace: Trace, scenario: Pick<LoadedScenario, 'vision' | 'cameras'>): VisionCheckResult[] {
  const checks = scenario.vision?.checks ?? {};
  return Object.entries(checks).map(([name, check]) => runCheck(name, check, trace, scenario));
}

function runCheck(name: string, check: VisionCheck, trace: Trace, scenario: Pick<LoadedScenario, 'cameras'>): VisionCheckResult {
  const topic = (t: string) => {
    if (!trace.images.has(t)) {
      throw new Error(`Vision check '${name}' reads the image topic ${t}, which this episode did not record (it has: ${[...trace.images.keys()].join(', ') || 'no images'}).`);
    }
    return trace.image(t);
  };
  const frame = imageFrame(topic(check.image), check.frame);
  const base = { name, kind: check.kind, required: check.required };
  switch (check.kind) {
    case 'detect': {
      const mask = maskOf(frame, check.target, check.image);
      const blob = blobOf(mask, frame.width);
      const pass = blob.area >= check.min_area && (check.max_area === undefined || blob.area <= check.max_area);
      return {
        ...base,
        pass,
        metrics: { area: blob.area, u: blob.u, v: blob.v },
        annotate: () => marked(frame, mask, blob),
      };
    }
    case 'inside_zone': {
      const mask = maskOf(frame, check.target, check.image);
      const blob = blobOf(mask, frame.width);
      const camera = cameraFor(frame, check.image, scenario.cameras);
      let point: [number, number, number] | undefined;
      if (blob.area >= check.min_area) {
        if (check.depth) {
          const depth = meanDepth(imageFrame(topic(check.depth), check.frame), mask);
          point = Number.isFinite(depth) ? pixelToWorld(camera, blob.u, blob.v, depth) : undefined;
        } else point = pixelOnPlane(camera, blob.u, blob.v, check.plane_z);
      }
      const { center, half_size } = check.zone;
      const inZone = (p: [number, number, number]) => Math.abs(p[0] - center[0]) <= half_size[0] - check.margin && Math.abs(p[1] - center[1]) <= half_size[1] - check.margin;
      const atHeight = (p: [number, number, number]) => !check.height || (p[2] >= check.height[0] && p[2] <= check.height[1]);
      const inside = point !== undefined && inZone(point) && atHeight(point);
      const z = point?.[2] ?? check.plane_z;
      return {
        ...base,
        pass: inside,
        metrics: { area: blob.area, u: blob.u, v: blob.v, x: point?.[0] ?? NaN, y: point?.[1] ?? NaN, z: point?.[2] ?? NaN },
        annotate: () => {
          const image = marked(frame, mask, blob);
          const corners = [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(([sx, sy]) => worldToPixel(camera, [center[0] + sx * half_size[0], center[1] + sy * half_size[1], z]));
          if (corners.every((c) => c !== undefined)) polygon(image, corners as [number, number][], ZONE_COLOUR);
          return image;
        },
      };
    }
    case 'mask_iou': {
      const target = imageFrame(topic(check.target_image), check.frame);
      if (target.width !== frame.width || target.height !== frame.height) {
        throw new Error(`Vision check '${name}': ${check.image} is ${frame.width}x${frame.height} but ${check.target_image} is ${target.width}x${target.height}; mask IoU needs the same size.`);
      }
      const mask = maskOf(frame, check.target, check.image);
      const goal = maskOf(target, check.target, check.target_image);
      const iou = maskIou(mask, goal);
      return {
        ...base,
        pass: iou >= check.threshold,
        metrics: { iou, area: blobOf(mask, frame.width).area, target_area: blobOf(goal, frame.width).area },
        annotate: () => {
          const image = viewable(frame);
          const both = mask.map((m, i) => m & goal[i]);
          tint(image, both, BOTH, 0.8);
          tint(image, mask.map((m, i) => m & (goal[i] ^ 1)), ONLY_IMAGE, 0.8);
          tint(image, goal.map((g, i) => g & (mask[i] ^ 1)), ONLY_TARGET, 0.8);
          return image;
        },
      };
    }
  }
}

/** The frame with the mask tinted and its centroid marked. */
function marked(frame: ImageFrame, mask: Uint8Array, blob: { area: number; u: number; v: number }): RgbImage {
  const image = viewable(frame);
  tint(image, mask, SEEN, 0.45);
  if (blob.area > 0) cross(image, blob.u, blob.v, Math.max(3, Math.round(frame.width / 40)), MARK);
  return image;
}

/** The camera model a check maps pixels with: the scenario's calibration of the image's camera, else the image's own model. */
export function cameraFor(frame: Pick<ImageFrame, 'width' | 'height' | 'camera' | 'frameId'>, topic: string, cameras: LoadedScenario['cameras']): CameraModel {
  const id = frame.frameId;
  const calibration = Object.hasOwn(cameras, id) ? cameras[id].calibration : undefined;
  if (calibration) return calibrationModel(calibration, frame.width, frame.height);
  if (frame.camera) return frame.camera;
  throw new Error(`${topic} carries no camera model; give its camera a calibration in the scenario (cameras: { ${id || 'NAME'}: { calibration: { position, xyaxes, fovy } } }).`);
}

/** The verdicts of an episode: the task's state scorer's and the vision checks'. */
export interface Verdicts {
  /** The task's own (state) success. */
  state: boolean;
  /** Every required check passed. */
  vision: boolean;
}

/**
 * The task's score with the vision checks joined in: success decided by `vision.success` (state,
 * vision or both), each check's result under `vision.<check>.<metric>` in the metrics, and the
 * two verdicts with their disagreement (`state_success`, `vision_success`, `vision_disagrees`).
 * Without a `vision:` block the score is returned as it is.
 */
export function withVision(score: Score, trace: Trace, scenario: Pick<LoadedScenario, 'vision' | 'cameras'>): Score {
  if (!scenario.vision) return score;
  const results = runVisionChecks(trace, scenario);
  const verdicts: Verdicts = { state: score.success, vision: results.every((r) => !r.required || r.pass) };
  const success = decide(scenario.vision.success, verdicts);
  const metrics: Score['metrics'] = { ...score.metrics, state_success: verdicts.state, vision_success: verdicts.vision, vision_disagrees: verdicts.state !== verdicts.vision };
  for (const r of results) {
    metrics[`vision.${r.name}.pass`] = r.pass;
    // Only what was measured: a store keeps finite numbers, and "no centroid" is no number.
    for (const [key, value] of Object.entries(r.metrics)) if (Number.isFinite(value)) metrics[`vision.${r.name}.${key}`] = value;
  }
  const outcome = success === verdicts.state ? score.outcome : success ? 'success' : 'vision_fail';
  return { ...score, success, outcome, metrics };
}

/** Success as the scenario's `vision.success` decides it. */
export function decide(source: VisionSpec['success'], verdicts: Verdicts): boolean {
  if (source === 'state') return verdicts.state;
  if (source === 'vision') return verdicts.vision;
  return verdicts.state && verdicts.vision;
}
