/**
 * Machining in a sim world: each seed places and sizes the workpiece on its fixture and draws the
 * error of the cell's localisation; every control tick records where the tool touches the work
 * and how hard (`/tool_contact`), and the episode's first tick records the path (`/target_path`).
 * Those two topics are all the scorer reads: a physical cell publishes them from its tool pose,
 * its tared force/torque sensor and its CAD path registered to the part.
 */
import { z } from 'zod';
import type { Pose } from '../../robot/link.ts';
import type { LoadedScenario } from '../../scenario/load.ts';
import { resizeBox } from '../../sim/randomize.ts';
import { Rng } from '../../scenario/rng.ts';
import type { World } from '../../sim/world.ts';
import type { TraceRecorder } from '../../trace/trace.ts';
import type { TaskScene } from '../task.ts';
import { pathGeometry, topCorner, type PathGeometry, type Workpiece } from './path.ts';
import type { MachiningSpec } from './schema.ts';
import { TARGET_PATH, TOOL_CONTACT, targetPathFields, targetPathRow } from './topics.ts';

/** The corner the policy observes beside the workpiece centre (see `workpieceFromPoses`). */
export const CORNER = 'workpiece_corner';

/** Draws the workpiece of `seed`; every value lies inside its range. */
export function sampleWorkpiece(spec: MachiningSpec, seed: number): Workpiece {
  const rng = new Rng(seed);
  const r = spec.randomization;
  const draw = ([lo, hi]: readonly [number, number]) => rng.uniform(lo, hi);
  const x = draw(r.x);
  const y = draw(r.y);
  const yaw = draw(r.yaw);
  const half: [number, number, number] = [draw(r.half_x), draw(r.half_y), draw(r.half_z)];
  return { center: [x, y, spec.fixture_top + half[2]], yaw, half };
}

/** The localisation error [x, y] (m) of episode `seed`: the systematic offset plus a seeded jitter. */
export function sampleLocalisationError(spec: MachiningSpec, seed: number): [number, number] {
  const rng = new Rng(seed ^ 0x10ca_1e55);
  const { offset, jitter } = spec.localisation;
  return [offset[0] + rng.uniform(-jitter, jitter), offset[1] + rng.uniform(-jitter, jitter)];
}

/** The workpiece as a trace's meta holds it (JSON), checked before it touches a model. */
const StoredWorkpiece = z.object({
  center: z.tuple([z.number(), z.number(), z.number()]),
  yaw: z.number(),
  half: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
});

export class MachiningScene implements TaskScene {
  private readonly body: number;
  private readonly geom: number;
  private readonly tcp: number;
  private readonly touch: number;
  private readonly radius: number;
  private workpiece: Workpiece;
  private path: PathGeometry;
  private localisationError: [number, number] = [0, 0];
  private pathRecorded = false;

  constructor(
    private readonly world: World,
    private readonly spec: MachiningSpec,
    scenario: LoadedScenario,
  ) {
    const robot = scenario.robotConfig;
    if (!robot.tool?.touch_sensor) {
      throw new Error(`Machining needs a tool with a touch sensor; give robot ${robot.name} a tool: block with touch_sensor in ${robot.file}.`);
    }
    this.body = world.id('body', spec.workpiece);
    this.geom = (world.model.body_geomadr as Int32Array)[this.body];
    if ((world.model.body_mocapid as Int32Array)[this.body] < 0) {
      throw new Error(`Body '${spec.workpiece}' in ${scenario.worldPath} must be a mocap body so arbor can place it; add mocap="true" to it.`);
    }
    if (this.geom < 0 || (world.model.geom_type as Int32Array)[this.geom] !== world.mj.mjtGeom.mjGEOM_BOX.value) {
      throw new Error(`Body '${spec.workpiece}' in ${scenario.worldPath} needs a box geom (its first) for the workpiece.`);
    }
    this.tcp = world.id('site', robot.tcp_site);
    this.touch = world.sensorAdr(world.id('sensor', robot.tool.touch_sensor));
    this.radius = robot.tool.radius;
    this.workpiece = sampleWorkpiece(spec, 0);
    this.path = pathGeometry(spec.path, this.workpiece, spec.path_points);
  }

  reset(seed: number): Record<string, unknown> {
    this.workpiece = sampleWorkpiece(this.spec, seed);
    this.localisationError = sampleLocalisationError(this.spec, seed);
    this.place(this.workpiece);
    this.pathRecorded = false;
    return { workpiece: this.workpiece, localisationError: this.localisationError };
  }

  observe(truth: Readonly<Record<string, Pose>>): Record<string, Pose> {
    const [ex, ey] = this.localisationError;
    const shift = (p: readonly number[]): [number, number, number] => [p[0] + ex, p[1] + ey, p[2]];
    const pose = truth[this.spec.workpiece];
    const out: Record<string, Pose> = { ...truth };
    if (pose) out[this.spec.workpiece] = { position: shift(pose.position), orientation: pose.orientation };
    out[CORNER] = { position: shift(topCorner(this.workpiece)), orientation: [0, 0, 0, 1] };
    return out;
  }

  record(time: number, recorder: TraceRecorder): void {
    if (!this.pathRecorded) {
      recorder.topic(TARGET_PATH, 'arbor_msgs/TargetPath', targetPathFields(this.spec.path_points)).push(time, targetPathRow(this.path));
      this.pathRecorded = true;
    }
    // The ball's point furthest along -normal: where it touches the path's surface.
    const p = this.world.data.site_xpos as Float64Array;
    const n = this.path.normal;
    const r = this.radius;
    const i = 3 * this.tcp;
    const force = (this.world.data.sensordata as Float64Array)[this.touch];
    recorder.topic(TOOL_CONTACT.name, TOOL_CONTACT.type, TOOL_CONTACT.fields).push(time, [p[i] - r * n[0], p[i + 1] - r * n[1], p[i + 2] - r * n[2], force]);
  }

  restore(meta: Readonly<Record<string, unknown>>): Record<number, [number, number, number]> {
    const stored = StoredWorkpiece.safeParse(meta.workpiece);
    if (stored.success) this.workpiece = stored.data;
    this.place(this.workpiece);
    return { [this.geom]: [...this.workpiece.half] };
  }

  private place(w: Workpiece): void {
    resizeBox(this.world, this.body, this.geom, w.half);
    this.world.placeMocap(this.body, w.center, w.yaw);
    this.path = pathGeometry(this.spec.path, w, this.spec.path_points);
  }
}
