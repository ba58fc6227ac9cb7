/**
 * What the page knows of live studies: the streams the server announces (one per worker
 * evaluating an episode), the one chosen (none: the newest active), and the newest frame not yet
 * drawn. Frames come faster than the page may draw them; only the newest waits, and the page
 * acknowledges each it takes, so the server never sends far ahead of what is drawn.
 */
import type { LiveStreamInfo } from '../messages.ts';
import type { LiveFrameMessage } from '../protocol.ts';

export class Live {
  /** Frames received since the page loaded. */
  received = 0;
  /** Frames drawn since the page loaded. */
  drawn = 0;
  /** True while the user holds the picture. */
  paused = false;
  /** The last frame drawn. */
  last: LiveFrameMessage | undefined;
  /** Key of the scene the stage holds for live frames ('' before one is set up). */
  scene = '';
  private list: readonly LiveStreamInfo[] = [];
  private chosen: number | null = null;
  private pending: LiveFrameMessage | undefined;

  /** The streams announced last. */
  get streams(): readonly LiveStreamInfo[] {
    return this.list;
  }

  /** The stream shown: the chosen one, else the first active one, else the first. */
  get current(): LiveStreamInfo | undefined {
    if (this.chosen !== null) return this.list.find((s) => s.stream === this.chosen);
    return this.list.find((s) => s.active) ?? this.list[0];
  }

  /** The stream asked of the server: the chosen one, or null for the newest. */
  get subscription(): number | null {
    return this.chosen;
  }

  /** Keeps the list of streams the server announced. */
  setStreams(streams: readonly LiveStreamInfo[]): void {
    this.list = streams;
  }

  /** Shows `stream` from now on. */
  choose(stream: number): void {
    this.chosen = stream;
  }

  /** Keeps a frame from the server until the next draw (replacing one not drawn yet). */
  receive(frame: LiveFrameMessage): void {
    this.received++;
    this.pending = frame;
  }

  /** The frame waiting to be drawn, taken (the caller acknowledges it). */
  take(): LiveFrameMessage | undefined {
    const f = this.pending;
    this.pending = undefined;
    return f;
  }

  /** True when `frame` belongs on screen: not paused, of the current stream, whose scene the stage holds. */
  shows(frame: LiveFrameMessage): boolean {
    const s = this.current;
    return !this.paused && s !== undefined && frame.stream === s.stream && this.scene === s.scene;
  }

  /** Notes that `frame` was drawn. */
  drew(frame: LiveFrameMessage): void {
    this.drawn++;
    this.last = frame;
  }
}
