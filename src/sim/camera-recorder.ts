/**
 * Records the scenario's cameras into a trace as sensor_msgs/Image topics: the first frame of the
 * episode, then one every 1/rate seconds of sim time, and the last frame when the episode ends.
 * A scenario without `cameras:` never makes one of these, so its episodes cost what they did.
 * Each image topic carries the camera's model as it was at the first frame: cameras are taken to
 * be fixed in the world (a camera on the arm would need its pose per frame).
 */
import type { CameraSpec } from '../scenario/schema.ts';
import { cameraTopic } from '../trace/topics.ts';
import type { ImageWriter, TraceRecorder } from '../trace/trace.ts';
import { RayCamera } from './ray-camera.ts';
import type { World } from './world.ts';

/** One recorded camera. */
interface Recorded {
  /** MJCF camera name (the images' frame id). */
  name: string;
  /** How the scenario records it. */
  spec: CameraSpec;
  /** Its renderer. */
  camera: RayCamera;
  /** Sim time (s) of its next frame; the first frame is due at once. */
  next: number;
}

export class CameraRecorder {
  private readonly cameras: Recorded[];
  /** Segmentation legend shared by every camera: geom name → label (geom id + 1; 0 is nothing). */
  private readonly labels: Record<string, number>;
  /** Stamp of the last frame taken (every camera takes its frames at the same instants or later). */
  private lastStamp = -Infinity;

  constructor(
    private readonly world: World,
    specs: Readonly<Record<string, CameraSpec>>,
  ) {
    this.cameras = Object.entries(specs).map(([name, spec]) => ({ name, spec, camera: new RayCamera(world, name, spec.width, spec.height), next: 0 }));
    this.labels = {};
    world.names('geom').forEach((name, id) => {
      if (name && id + 1 <= 0xffff) this.labels[name] = id + 1;
    });
  }

  /** A new episode: its first frame is due at once. */
  reset(): void {
    for (const c of this.cameras) c.next = -Infinity;
    this.lastStamp = -Infinity;
  }

  /** Takes the frames that are due at sim time `time` (called once per control tick). */
  tick(time: number, recorder: TraceRecorder): void {
    for (const c of this.cameras) {
      if (time < c.next) continue;
      this.take(c, time, recorder);
      // Frames at whole multiples of the period keep their stamps on the rate's grid.
      c.next = c.spec.rate > 0 ? (Math.floor(time * c.spec.rate + 1e-9) + 1) / c.spec.rate : Infinity;
    }
  }

  /** The episode ended at `time`: takes the last frame of every camera unless it was just taken. */
  finish(time: number, recorder: TraceRecorder): void {
    if (time === this.lastStamp) return;
    for (const c of this.cameras) this.take(c, time, recorder);
  }

  dispose(): void {
    for (const c of this.cameras) c.camera.dispose();
  }

  private take(c: Recorded, time: number, recorder: TraceRecorder): void {
    const { camera, spec, name } = c;
    const image = camera.render();
    const model = camera.model();
    const writer = (kind: 'rgb' | 'depth' | 'segmentation', encoding: 'rgb8' | '32FC1' | '16UC1'): ImageWriter =>
      recorder.image({
        name: cameraTopic(name, kind),
        encoding,
        width: spec.width,
        height: spec.height,
        frameId: name,
        camera: model,
        ...(kind === 'segmentation' ? { labels: this.labels } : {}),
      });
    for (const kind of spec.images) {
      if (kind === 'rgb') writer('rgb', 'rgb8').push(time, camera.rgb(image));
      else if (kind === 'depth') writer('depth', '32FC1').push(time, new Uint8Array(image.depth.buffer, image.depth.byteOffset, image.depth.byteLength));
      else {
        const labels = new Uint16Array(image.geom.length);
        for (let i = 0; i < labels.length; i++) labels[i] = image.geom[i] + 1;
        writer('segmentation', '16UC1').push(time, new Uint8Array(labels.buffer));
      }
    }
    this.lastStamp = time;
  }
}
