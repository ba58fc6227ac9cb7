/**
 * The bar under the stage: play, step, the timeline, speed, loop, contacts, the camera, and the
 * episode's MCAP download. It emits what the user asks and shows the replay's snapshot it is given.
 */
import type { SceneSpec } from '../scene-spec.ts';
import { h, type PageElements } from './elements.ts';
import { Emitter } from './emitter.ts';
import { SPEEDS, type ReplayState } from './replay.ts';
import type { CameraChoice } from './stage.ts';

/** What the user asks of the transport bar. */
export interface TransportEvents {
  /** Play or pause. */
  play: void;
  /** Step one frame forward (1) or back (-1). */
  step: number;
  /** Go to this time (s): the user drags the timeline. */
  seek: number;
  /** Play at this speed. */
  speed: number;
  /** Loop or not. */
  loop: boolean;
  /** Show the contacts or not. */
  contacts: boolean;
  /** Look through this camera. */
  camera: CameraChoice;
}

/** The bar's elements. */
type TransportElements = Pick<PageElements, 'transport' | 'play' | 'stepBack' | 'stepFwd' | 'scrubber' | 'time' | 'speed' | 'loop' | 'contactsToggle' | 'camera' | 'mcap'>;

/** A camera select's value (`orbit`, `follow:BODY`, `model:INDEX`) as a choice. */
export function cameraChoice(value: string): CameraChoice {
  const [kind, arg] = value.split(':');
  if (kind === 'follow') return { kind: 'follow', body: Number(arg) };
  if (kind === 'model') return { kind: 'model', index: Number(arg) };
  return { kind: 'orbit' };
}

export class Transport extends Emitter<TransportEvents> {
  constructor(private readonly el: TransportElements) {
    super();
    el.play.addEventListener('click', () => this.emit('play'));
    el.stepBack.addEventListener('click', () => this.emit('step', -1));
    el.stepFwd.addEventListener('click', () => this.emit('step', 1));
    el.scrubber.addEventListener('input', () => this.emit('seek', Number(el.scrubber.value) / 1000));
    el.speed.replaceChildren(...SPEEDS.map((s) => h('option', { value: String(s) }, `${s}×`)));
    el.speed.value = '1';
    el.speed.addEventListener('change', () => this.emit('speed', Number(el.speed.value)));
    el.loop.addEventListener('change', () => this.emit('loop', el.loop.checked));
    el.contactsToggle.addEventListener('change', () => this.emit('contacts', el.contactsToggle.checked));
    el.camera.addEventListener('change', () => this.emit('camera', cameraChoice(el.camera.value)));
  }

  /** Shows a replay's state: the timeline (unless the user holds it), the time, play or pause, speed and loop. */
  show(state: ReplayState): void {
    const { scrubber } = this.el;
    const max = String(Math.round(state.duration * 1000));
    if (scrubber.max !== max) scrubber.max = max;
    if (state.episodes.length && scrubber.ownerDocument.activeElement !== scrubber) scrubber.value = String(Math.round(state.t * 1000));
    if (state.episodes.length) setText(this.el.time, `${state.t.toFixed(2)} / ${state.duration.toFixed(2)} s`);
    setText(this.el.play, state.playing ? '❚❚' : '▶');
    if (this.el.speed.value !== String(state.speed)) this.el.speed.value = String(state.speed);
    this.el.loop.checked = state.loop;
  }

  /** Ticks the contacts box. */
  showContacts(on: boolean): void {
    this.el.contactsToggle.checked = on;
  }

  /** Greys out what only a replay uses (the timeline, play, step). */
  enable(replay: boolean): void {
    this.el.transport.classList.toggle('disabled', !replay);
  }

  /** Offers the scene's cameras: the orbit camera, following each body of `spec.follow`, the model's own; keeps the choice when it is still offered. */
  offerCameras(spec: SceneSpec): void {
    const select = this.el.camera;
    const options = [h('option', { value: 'orbit' }, 'orbit camera')];
    for (const f of spec.follow) options.push(h('option', { value: `follow:${f.id}` }, `follow ${f.name}`));
    spec.cameras.forEach((c, i) => options.push(h('option', { value: `model:${i}` }, `camera ${c.name || i}`)));
    const keep = select.value;
    select.replaceChildren(...options);
    if (Array.from(select.options).some((o) => o.value === keep)) select.value = keep;
  }

  /** Links the MCAP download to `url` (undefined: hides it). */
  offerMcap(url: string | undefined): void {
    if (url) this.el.mcap.href = url;
    this.el.mcap.hidden = url === undefined;
  }
}

/** Sets an element's text only when it changes (no layout work otherwise). */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}
