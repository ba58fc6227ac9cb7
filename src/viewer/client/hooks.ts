/**
 * `window.arbor`: what tests and benchmarks read of the page and the few things they drive
 * (open an episode, seek, fix the render scale, read pixels). Typed here once, so a page script
 * in a test is `page.evaluate(() => window.arbor.status())`, checked by the compiler.
 */
import type { ViewerStatus } from './viewer.ts';
import type { Viewer } from './viewer.ts';

export type { ViewerStatus };

/** The page's hooks for tests and benchmarks. */
export interface ViewerHooks {
  /** A snapshot of the page. */
  status(): ViewerStatus;
  /** Milliseconds between the last animation frames, and of the last renders. */
  frameStats(): { frameTimes: number[]; renderMs: number[] };
  /** Replays stored episode `a` (and `b` beside it). */
  open(a: number, b?: number): Promise<void>;
  /** Watches the live streams (of `study`). */
  live(study?: string): Promise<void>;
  /** Pauses the replay. */
  pause(): void;
  /** Fixes the render scale (tests compare pixels), or gives it back to adaptation (undefined). */
  lockScale(scale?: number): void;
  /** Pauses the replay at time `t` (s). */
  seek(t: number): void;
  /** Where body `name` is drawn in view `v` (CSS px from the canvas's top left); undefined when it is not in the scene. */
  project(name: string, v?: number): { x: number; y: number } | undefined;
  /** Shows or hides bodies by name. */
  setBodiesVisible(names: string[], visible: boolean): void;
  /** Renders now and reads an RGBA rectangle (CSS px from the top left, rows bottom-up) as base64. */
  readPixels(x: number, y: number, w: number, h: number): string;
  /** Sends raw text on the page's socket (tests send malformed messages). */
  sendRaw(text: string): void;
}

declare global {
  interface Window {
    /** The viewer's hooks for tests and benchmarks (set once the page's script runs). */
    arbor: ViewerHooks;
  }
}

/** The hooks of `viewer`. */
export function viewerHooks(viewer: Viewer): ViewerHooks {
  const { stage } = viewer;
  return {
    status: () => viewer.status(),
    frameStats: () => ({ frameTimes: [...viewer.clock.frameTimes], renderMs: [...viewer.clock.renderMs] }),
    open: (a, b) => viewer.open(a, b),
    live: (study) => viewer.showLive(study),
    pause: () => viewer.replay.pause(),
    lockScale: (scale) => stage.lockScale(scale),
    seek: (t) => viewer.seek(t),
    project: (name, v = 0) => stage.project(stage.bodyId(name), v),
    setBodiesVisible: (names, visible) => stage.setBodiesVisible(names, visible),
    readPixels: (x, y, w, h) => base64(stage.readPixels(x, y, w, h)),
    sendRaw: (text) => viewer.sendRaw(text),
  };
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
