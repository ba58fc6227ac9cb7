/**
 * The replay's clock: one or two stored episodes (A, and B to compare), the time on their common
 * timeline, playing or paused, speed and loop. It knows nothing of the page: the viewer draws
 * when it says `time`, and the transport shows its `state()`.
 */
import { frameAt, type EpisodeFrames } from '../protocol.ts';
import { Emitter } from './emitter.ts';

/** The playback speeds offered, slowest first. */
export const SPEEDS: readonly number[] = [0.1, 0.25, 0.5, 1, 2, 4];

/** What a replay tells its listeners. */
export interface ReplayEvents {
  /** The replay time moved (s): a seek, a step, playback, or new episodes. */
  time: number;
}

/** A plain snapshot of a replay, for the transport bar and the info line. */
export interface ReplayState {
  /** The episodes replayed (A, then B), none before one opens. */
  episodes: readonly EpisodeFrames[];
  /** Time on the timeline (s). */
  t: number;
  /** The longest episode's length (s). */
  duration: number;
  /** Index of episode A's frame at `t`. */
  frame: number;
  /** True while time runs. */
  playing: boolean;
  /** Playback speed (1: real time). */
  speed: number;
  /** True when playback starts over at the end. */
  loop: boolean;
}

export class Replay extends Emitter<ReplayEvents> {
  private shown: readonly EpisodeFrames[] = [];
  private t = 0;
  private running = false;
  private rate = 1;
  private looping = true;

  /** The episodes replayed (A, then B). */
  get episodes(): readonly EpisodeFrames[] {
    return this.shown;
  }

  /** Time on the timeline (s). */
  get time(): number {
    return this.t;
  }

  /** True while time runs. */
  get playing(): boolean {
    return this.running;
  }

  /** Playback speed. */
  get speed(): number {
    return this.rate;
  }

  /** True when playback starts over at the end. */
  get loop(): boolean {
    return this.looping;
  }

  /** The longest episode's length (s); 0 with none. */
  get duration(): number {
    return this.shown.length ? Math.max(...this.shown.map((e) => e.header.duration)) : 0;
  }

  state(): ReplayState {
    const a = this.shown[0];
    return { episodes: this.shown, t: this.t, duration: this.duration, frame: a ? frameAt(a.times, this.t) : 0, playing: this.running, speed: this.rate, loop: this.looping };
  }

  /** Replays `episodes` from their start, playing. */
  load(episodes: readonly EpisodeFrames[]): void {
    this.shown = episodes;
    this.running = episodes.length > 0;
    this.seek(0);
  }

  /** Forgets the episodes (live or model mode). */
  clear(): void {
    this.shown = [];
    this.running = false;
    this.t = 0;
  }

  /** Moves to time `t` (s), clamped to the timeline. */
  seek(t: number): void {
    this.t = Math.min(Math.max(0, t), this.duration);
    this.emit('time', this.t);
  }

  /** Pauses and moves `n` frames of episode A (negative: back). */
  step(n: number): void {
    const a = this.shown[0];
    if (!a) return;
    this.running = false;
    const i = Math.min(a.header.frames - 1, Math.max(0, frameAt(a.times, this.t + 1e-6) + n));
    this.seek(a.times[i]);
  }

  /** Pauses at the start or the end. */
  jump(to: 'start' | 'end'): void {
    this.running = false;
    this.seek(to === 'start' ? 0 : this.duration);
  }

  /** Plays or pauses; playing from the end starts over. */
  togglePlay(): void {
    if (!this.running && this.t >= this.duration) this.t = 0;
    this.running = !this.running;
  }

  pause(): void {
    this.running = false;
  }

  /** Sets the playback speed (one of `SPEEDS`; others fall back to 1). */
  setSpeed(speed: number): void {
    this.rate = SPEEDS.includes(speed) ? speed : 1;
  }

  /** The next speed of `SPEEDS` up (`direction` 1) or down (-1). */
  changeSpeed(direction: 1 | -1): void {
    const i = SPEEDS.indexOf(this.rate) + direction;
    this.rate = SPEEDS[Math.min(SPEEDS.length - 1, Math.max(0, i))];
  }

  setLoop(loop: boolean): void {
    this.looping = loop;
  }

  /** Advances playing time by `dt` seconds of the page's clock; at the end it loops or stops. */
  advance(dt: number): void {
    if (!this.running || this.shown.length === 0) return;
    let t = this.t + dt * this.rate;
    if (t > this.duration) {
      if (this.looping) t = 0;
      else {
        t = this.duration;
        this.running = false;
      }
    }
    this.seek(t);
  }
}
