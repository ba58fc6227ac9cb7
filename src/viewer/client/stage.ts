/**
 * The 3D stage: one WebGL renderer, one or two scene views side by side (comparison), one free
 * camera shared by both (orbit controls, or following a body), or a camera of the model.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import type { SceneSpec } from '../scene-spec.ts';
import { WORLD_UP } from './coords.ts';
import { buildScene, showContacts, type SceneView } from './scene3d.ts';

/** How the stage looks at the scene: orbit, follow a body, or a camera of the model. */
export type CameraChoice = { kind: 'orbit' } | { kind: 'follow'; body: number } | { kind: 'model'; index: number };

export class Stage {
  readonly renderer: THREE.WebGLRenderer;
  readonly camera: THREE.PerspectiveCamera;
  readonly controls: OrbitControls;
  /** The scene views, left to right. */
  views: SceneView[] = [];
  /** Current camera choice. */
  choice: CameraChoice = { kind: 'orbit' };
  /** True when something changed since the last render. */
  dirty = true;
  private spec: SceneSpec | undefined;
  private readonly followed = new THREE.Vector3();
  private readonly scratch = new THREE.Vector3();
  private contactsVisible = true;
  private needsHome = false;
  /** Render resolution as a fraction of the canvas's (adaptive, see `noteFrame`). */
  private scale = 1;
  private lockedScale: number | undefined;
  private readonly basePixelRatio = Math.min(window.devicePixelRatio || 1, 1.5);
  private slow = 0;
  private fast = 0;
  private ceiling = 1;
  private ceilingUntil = 0;
  private probing = false;

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: false, powerPreference: 'high-performance' });
    this.renderer.setPixelRatio(this.basePixelRatio);
    this.renderer.setScissorTest(true);
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.01, 100);
    this.camera.up.set(WORLD_UP[0], WORLD_UP[1], WORLD_UP[2]);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.enableDamping = false;
    this.controls.addEventListener('change', () => (this.dirty = true));
    new ResizeObserver(() => this.resize()).observe(canvas.parentElement ?? canvas);
    this.resize();
  }

  /** Builds `count` views of a scene (reusing them when the scene and count are the same). */
  setScene(spec: SceneSpec, count: 1 | 2): void {
    if (this.spec?.key === spec.key && this.views.length === count) return;
    const sameScene = this.spec?.key === spec.key;
    for (const v of this.views) v.dispose();
    this.views = Array.from({ length: count }, () => buildScene(spec));
    for (const v of this.views) showContacts(v, this.contactsVisible);
    if (!sameScene) {
      this.spec = spec;
      // Framed at the first render, when the bodies are where the first frame put them.
      this.needsHome = true;
    }
    this.dirty = true;
  }

  /** The scene shown now. */
  get scene(): SceneSpec | undefined {
    return this.spec;
  }

  /**
   * Frames the model: a three-quarter view from the front right of what moves (the robot, the
   * object) and the target zone, or of everything but planes when nothing moves.
   */
  home(): void {
    const spec = this.spec;
    const view = this.views[0];
    if (!spec || !view) return;
    this.camera.fov = spec.fovy;
    view.scene.updateMatrixWorld(true);
    const moving = new Set(spec.dynamic);
    const framed = (all: boolean) => {
      const box = new THREE.Box3();
      for (const g of spec.geoms) {
        if (g.type !== 'plane' && (all || moving.has(g.body) || spec.targets?.includes(g.id))) box.expandByObject(view.geoms.get(g.id)!);
      }
      return box;
    };
    let box = framed(false);
    if (box.isEmpty()) box = framed(true);
    const sphere = box.isEmpty() ? new THREE.Sphere(new THREE.Vector3(...spec.center), spec.extent) : box.getBoundingSphere(new THREE.Sphere());
    const target = sphere.center;
    const dist = Math.max(0.3, (1.2 * sphere.radius) / Math.tan(((spec.fovy / 2) * Math.PI) / 180));
    const az = (-60 * Math.PI) / 180;
    const el = (28 * Math.PI) / 180;
    this.camera.position.set(target.x + dist * Math.cos(el) * Math.cos(az), target.y + dist * Math.cos(el) * Math.sin(az), target.z + dist * Math.sin(el));
    this.camera.near = dist / 100;
    this.camera.far = dist * 20;
    this.controls.target.copy(target);
    this.controls.update();
    this.camera.updateProjectionMatrix();
    this.dirty = true;
  }

  setCamera(choice: CameraChoice): void {
    this.choice = choice;
    this.controls.enabled = choice.kind !== 'model';
    if (choice.kind === 'follow') this.bodyPosition(choice.body, this.followed);
    this.dirty = true;
  }

  setContactsVisible(visible: boolean): void {
    this.contactsVisible = visible;
    for (const v of this.views) showContacts(v, visible);
    this.dirty = true;
  }

  resize(): void {
    const el = this.canvas.parentElement ?? this.canvas;
    const w = Math.max(1, el.clientWidth);
    const h = Math.max(1, el.clientHeight);
    this.renderer.setSize(w, h, false);
    this.dirty = true;
  }

  /** Fraction of the canvas resolution drawn now. */
  get renderScale(): number {
    return this.scale;
  }

  /** Fixes the render scale (tests compare pixels), or gives it back to adaptation (undefined). */
  lockScale(scale: number | undefined): void {
    this.lockedScale = scale;
    if (scale !== undefined) this.setScale(scale);
  }

  /**
   * Adaptive resolution: software WebGL (or a weak GPU) cannot fill a large canvas 60 times a
   * second, so when consecutive rendered frames take longer than a display frame, fewer pixels
   * are drawn (the canvas is scaled up by CSS); when they keep up, the scale probes upwards and
   * remembers for a while where it was too slow.
   */
  noteFrame(intervalMs: number, now: number): void {
    if (this.lockedScale !== undefined) return;
    if (intervalMs > 19) this.slow++;
    else this.fast++;
    if (this.slow + this.fast < 30) return;
    const slowShare = this.slow / (this.slow + this.fast);
    this.slow = this.fast = 0;
    if (slowShare > 0.05) {
      if (this.probing) {
        this.ceiling = this.scale;
        this.ceilingUntil = now + 30_000;
      }
      this.probing = false;
      this.setScale(Math.max(0.3, this.scale * 0.8));
    } else if (slowShare === 0 && this.scale < 1) {
      const limit = now < this.ceilingUntil ? this.ceiling * 0.95 : 1;
      if (this.scale * 1.1 <= limit) {
        this.probing = true;
        this.setScale(Math.min(1, this.scale * 1.1));
      }
    }
  }

  private setScale(scale: number): void {
    if (Math.abs(scale - this.scale) < 1e-3) return;
    this.scale = scale;
    this.renderer.setPixelRatio(this.basePixelRatio * scale);
    this.resize();
  }

  /** Draws every view into its part of the canvas. */
  render(): void {
    if (this.needsHome) {
      this.needsHome = false;
      this.home();
    }
    if (this.choice.kind === 'follow') {
      // Follow: move the orbit target with the body, keeping the viewing offset.
      this.bodyPosition(this.choice.body, this.scratch);
      const delta = this.scratch.sub(this.followed);
      if (delta.lengthSq() > 0) {
        this.camera.position.add(delta);
        this.controls.target.add(delta);
        this.followed.add(delta);
        this.controls.update();
      }
    }
    const size = this.renderer.getSize(new THREE.Vector2());
    const n = this.views.length;
    const w = Math.floor(size.x / Math.max(1, n));
    this.views.forEach((view, i) => {
      const camera = this.choice.kind === 'model' ? (view.cameras[this.choice.index] ?? this.camera) : this.camera;
      camera.aspect = w / size.y;
      camera.updateProjectionMatrix();
      camera.updateMatrixWorld();
      view.headlight.position.setFromMatrixPosition(camera.matrixWorld);
      camera.getWorldDirection(view.headlight.target.position).add(view.headlight.position);
      this.renderer.setViewport(i * w, 0, w, size.y);
      this.renderer.setScissor(i * w, 0, w, size.y);
      this.renderer.render(view.scene, camera);
    });
    this.dirty = false;
  }

  /** Pixel position (CSS px from the canvas's top left) of a body in view `v`. */
  project(body: number, v = 0): { x: number; y: number } | undefined {
    const view = this.views[v];
    if (!view?.bodies[body]) return undefined;
    const camera = this.choice.kind === 'model' ? (view.cameras[this.choice.index] ?? this.camera) : this.camera;
    const p = view.bodies[body].getWorldPosition(new THREE.Vector3()).project(camera);
    const rect = this.canvas.getBoundingClientRect();
    const w = rect.width / this.views.length;
    return { x: v * w + ((p.x + 1) / 2) * w, y: ((1 - p.y) / 2) * rect.height };
  }

  /** Renders now and reads the RGBA pixels of a rectangle (CSS px from the canvas's top left), rows bottom-up. */
  readPixels(x: number, y: number, w: number, h: number): Uint8Array {
    this.render();
    const gl = this.renderer.getContext();
    const ratio = this.renderer.getPixelRatio();
    const height = gl.drawingBufferHeight;
    const [px, py, pw, ph] = [Math.round(x * ratio), Math.round(height - (y + h) * ratio), Math.round(w * ratio), Math.round(h * ratio)];
    const buf = new Uint8Array(pw * ph * 4);
    gl.readPixels(px, py, pw, ph, gl.RGBA, gl.UNSIGNED_BYTE, buf);
    return buf;
  }

  /** The id of the body called `name` in the scene shown (-1: none). */
  bodyId(name: string): number {
    return this.spec?.bodies.find((b) => b.name === name)?.id ?? -1;
  }

  /** Shows or hides the bodies called `names` in every view. */
  setBodiesVisible(names: readonly string[], visible: boolean): void {
    for (const v of this.views) {
      for (const n of names) {
        const body = v.bodies[this.bodyId(n)];
        if (body) body.visible = visible;
      }
    }
    this.dirty = true;
  }

  private bodyPosition(body: number, out: THREE.Vector3): THREE.Vector3 {
    const g = this.views[0]?.bodies[body];
    return g ? g.getWorldPosition(out) : out.copy(this.controls.target);
  }
}
