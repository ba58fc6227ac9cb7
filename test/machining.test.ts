/**
 * Machining's geometry and scoring on traces made here, where every answer is known: a straight
 * path, a tool that follows it (or misses it across, dips into it, presses too hard, never
 * touches), and the contact map a vision check compares with the path. Then the scene on the real
 * world: the workpiece where the seed puts it, the path recorded, the policy seeing it off by the
 * localisation error.
 */
import { describe, expect, it } from 'vitest';
import { SimLink } from '../src/robot/sim-link.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { maskIou, maskOf } from '../src/scoring/vision.ts';
import { CONTACT_MAP, TARGET_IMAGE, machiningImages } from '../src/tasks/machining/images.ts';
import { pathGeometry, topCorner, workpieceFromPoses, type PathGeometry, type Workpiece } from '../src/tasks/machining/path.ts';
import { CORNER, sampleLocalisationError, sampleWorkpiece } from '../src/tasks/machining/scene.ts';
import { MachiningSpec } from '../src/tasks/machining/schema.ts';
import { measureMachining, scoreMachining } from '../src/tasks/machining/score.ts';
import { TARGET_PATH, TOOL_CONTACT, readTargetPath, targetPathFields, targetPathRow } from '../src/tasks/machining/topics.ts';
import { imageFrame } from '../src/scoring/vision.ts';
import { TraceRecorder, type Trace } from '../src/trace/trace.ts';

const spec = MachiningSpec.parse({
  kind: 'machining',
  workpiece: 'workpiece',
  fixture_top: 0.05,
  path: { kind: 'edge', inset: 0 },
  path_points: 41,
  force: { band: [10, 20], contact: 1, max: 40 },
  tolerance: { path: 0.0015, gouge: 0.0005 },
  randomization: { x: [0.45, 0.45], y: [0, 0], half_x: [0.05, 0.05], half_y: [0.04, 0.04], half_z: [0.01, 0.01] },
});

/** A straight path along x from 0.4 to 0.5 at height 0.1, pressed from above. */
const line: PathGeometry = { normal: [0, 0, 1], points: Array.from({ length: 41 }, (_, k) => [0.4 + 0.0025 * k, 0, 0.1] as [number, number, number]) };

/**
 * A trace of a tool that idles for 10 ticks, then runs along the line at 50 Hz, its contact point
 * `across` off it in y and `into` below it, pressing with `force(i)`, then lifts off for 10 ticks.
 */
function runAlong(opts: { across?: number; into?: number; force?: (i: number) => number; from?: number; to?: number } = {}): Trace {
  const { across = 0, into = 0, force = () => 15, from = 0.4, to = 0.5 } = opts;
  const recorder = new TraceRecorder();
  recorder.topic(TARGET_PATH, 'arbor_msgs/TargetPath', targetPathFields(line.points.length)).push(0, targetPathRow(line));
  const contact = recorder.topic(TOOL_CONTACT.name, TOOL_CONTACT.type, TOOL_CONTACT.fields);
  const steps = 100;
  let t = 0;
  for (let i = 0; i < 10; i++) contact.push((t += 0.02), [from, across, 0.13, 0]);
  for (let i = 0; i <= steps; i++) contact.push((t += 0.02), [from + ((to - from) * i) / steps, across, 0.1 - into, force(i)]);
  for (let i = 0; i < 10; i++) contact.push((t += 0.02), [to, across, 0.13, 0]);
  return recorder.finish();
}

describe('machining metrics', () => {
  it('scores a tool that follows the path in the force band as a success', () => {
    const m = measureMachining(runAlong(), spec, 8);
    expect(m).toMatchObject({ success: true, outcome: 'success', coverage: 1, in_band: 1, peak_force: 15, max_path_error: 0, gouge_depth: 0 });
    expect(m.rms_path_error).toBe(0);
    expect(m.contact_time).toBeCloseTo(2, 9);
    expect(m.cycle_time).toBeCloseTo(0.2 + 2.02, 9);
    const scored = scoreMachining(runAlong(), spec, 8);
    expect(scored.terms).toEqual({ success: 1, coverage: 1, path_error: 1, force_band: 1, cycle_time: 1 - m.cycle_time / 8 });
  });

  it('measures the error across the path, and covers only within the tolerance', () => {
    const near = measureMachining(runAlong({ across: 0.001 }), spec, 8);
    expect(near.rms_path_error).toBeCloseTo(0.001, 6);
    expect(near.max_path_error).toBeCloseTo(0.001, 6);
    expect(near.coverage).toBe(1);
    const far = measureMachining(runAlong({ across: 0.002 }), spec, 8);
    expect([far.coverage, far.outcome, far.success]).toEqual([0, 'off_path', false]);
    // Half the path: the other half is not covered.
    const half = measureMachining(runAlong({ to: 0.45 }), spec, 8);
    expect(half.coverage).toBeCloseTo(21 / 41 + 0.0, 1);
    expect(half.outcome).toBe('off_path');
  });

  it('measures how deep the tool went into the surface, apart from the error across it', () => {
    const deep = measureMachining(runAlong({ into: 0.001 }), spec, 8);
    expect(deep.gouge_depth).toBeCloseTo(0.001, 6);
    expect(deep.rms_path_error).toBeCloseTo(0, 9);
    expect(deep.outcome).toBe('gouge');
    expect(measureMachining(runAlong({ into: -0.0002 }), spec, 8).gouge_depth).toBe(0);
  });

  it('takes the fraction of machining time in the force band, the peak force, and tells a crash and no contact apart', () => {
    const light = measureMachining(runAlong({ force: (i) => (i < 30 ? 8 : 15) }), spec, 8);
    expect(light.in_band).toBeCloseTo(71 / 101, 9);
    expect(light.outcome).toBe('force');
    const crash = measureMachining(runAlong({ force: (i) => (i === 50 ? 60 : 15) }), spec, 8);
    expect([crash.peak_force, crash.outcome]).toEqual([60, 'crash']);
    const none = measureMachining(runAlong({ force: () => 0.5 }), spec, 8);
    expect([none.outcome, none.coverage, none.in_band, none.contact_time, none.cycle_time]).toEqual(['no_contact', 0, 0, 0, 8]);
    expect(scoreMachining(runAlong({ force: () => 0.5 }), spec, 8).terms.path_error).toBe(0);
  });

  it('derives the contact map and the target path image on one grid: the same when the tool followed, apart when it missed', () => {
    const iou = (trace: Trace) => {
      const [map, target] = machiningImages(trace, spec);
      expect([map.name, target.name]).toEqual([CONTACT_MAP, TARGET_IMAGE]);
      expect([map.width, map.height]).toEqual([target.width, target.height]);
      return maskIou(maskOf(imageFrame(map, 0)), maskOf(imageFrame(target, 0)));
    };
    expect(iou(runAlong())).toBeGreaterThan(0.97);
    // Off by a tolerance across: the bands (two tolerances wide) overlap by half.
    expect(iou(runAlong({ across: 0.0015 }))).toBeCloseTo(1 / 3, 1);
    expect(iou(runAlong({ across: 0.004 }))).toBe(0);
    expect(iou(runAlong({ force: () => 0 }))).toBe(0);
  });
});

describe('machining paths', () => {
  const workpiece: Workpiece = { center: [0.45, 0.02, 0.06], yaw: 0.4, half: [0.07, 0.05, 0.01] };

  it("runs the edge along the workpiece's -y top edge, pressed along its bisector", () => {
    const edge = pathGeometry({ kind: 'edge', inset: 0.01 }, workpiece, 5);
    const c = Math.cos(0.4);
    const s = Math.sin(0.4);
    const at = (x: number, y: number) => [0.45 + c * x - s * y, 0.02 + s * x + c * y, 0.07];
    edge.points[0].forEach((v, i) => expect(v).toBeCloseTo(at(-0.06, -0.05)[i], 12));
    edge.points[4].forEach((v, i) => expect(v).toBeCloseTo(at(0.06, -0.05)[i], 12));
    [s * Math.SQRT1_2, -c * Math.SQRT1_2, Math.SQRT1_2].forEach((v, i) => expect(edge.normal[i]).toBeCloseTo(v, 12));
  });

  it('traces the contour as an arc on the top face, and reads back from its topic', () => {
    const arc = pathGeometry({ kind: 'contour', center: [0.01, 0], radius: 0.03, start: 0, sweep: Math.PI }, workpiece, 33);
    const centre = [0.45 + Math.cos(0.4) * 0.01, 0.02 + Math.sin(0.4) * 0.01];
    for (const p of arc.points) {
      expect(Math.hypot(p[0] - centre[0], p[1] - centre[1])).toBeCloseTo(0.03, 12);
      expect(p[2]).toBeCloseTo(0.07, 12);
    }
    const recorder = new TraceRecorder();
    recorder.topic(TARGET_PATH, 'arbor_msgs/TargetPath', targetPathFields(33)).push(0, targetPathRow(arc));
    const back = readTargetPath(recorder.finish().topic(TARGET_PATH));
    back.points.forEach((p, k) => p.forEach((v, i) => expect(v).toBeCloseTo(arc.points[k][i], 6)));
  });

  it('recovers the workpiece from its centre pose and top corner', () => {
    const quat: [number, number, number, number] = [0, 0, Math.sin(0.2), Math.cos(0.2)];
    const back = workpieceFromPoses({ position: workpiece.center, orientation: quat }, { position: topCorner(workpiece), orientation: [0, 0, 0, 1] });
    expect(back.yaw).toBeCloseTo(0.4, 12);
    back.half.forEach((v, i) => expect(v).toBeCloseTo(workpiece.half[i], 12));
  });
});

describe('the machining scene', () => {
  it('places the workpiece of each seed, records its path, and shows the policy the workpiece off by the localisation error', async () => {
    const sc = await loadScenario('scenarios/machining-edge.yaml');
    const task = MachiningSpec.parse(sc.task);
    const link = await SimLink.create(sc);
    try {
      for (const seed of [0, 7]) {
        const obs = await link.reset(seed);
        const truth = sampleWorkpiece(task, seed);
        const [ex, ey] = sampleLocalisationError(task, seed);
        const trace = link.trace();
        const pose = trace.topic('/object_pose/workpiece').data;
        truth.center.forEach((v, i) => expect(pose[i]).toBeCloseTo(v, 6));
        expect(obs.objects.workpiece.position[0] - pose[0]).toBeCloseTo(ex, 6);
        expect(obs.objects.workpiece.position[1] - pose[1]).toBeCloseTo(ey, 6);
        const seen = workpieceFromPoses(obs.objects.workpiece, obs.objects[CORNER]);
        seen.half.forEach((v, i) => expect(v).toBeCloseTo(truth.half[i], 9));
        const path = readTargetPath(trace.topic(TARGET_PATH));
        const expected = pathGeometry(task.path, truth, task.path_points);
        path.points.forEach((p, k) => p.forEach((v, i) => expect(v).toBeCloseTo(expected.points[k][i], 6)));
        // Nothing touches yet: the tool hangs above the part.
        expect(trace.topic(TOOL_CONTACT.name).data[3]).toBe(0);
      }
    } finally {
      await link.close();
    }
  });
});
