/**
 * The keyboard, as in MuJoCo's simulate: Space plays/pauses, arrows step (Shift: 10 frames),
 * Home/End jump, [ ] change the speed, C toggles contacts, L toggles loop. `Keys` turns key
 * presses into these intents and emits them; what they do is the viewer's business.
 */
import { Emitter } from './emitter.ts';

/** The intents of the keyboard. */
export interface KeyEvents {
  /** Play or pause. */
  play: void;
  /** Step this many frames (negative: back). */
  step: number;
  /** Jump to the start or the end. */
  jump: 'start' | 'end';
  /** One speed up (1) or down (-1). */
  speed: 1 | -1;
  /** Show or hide the contacts. */
  contacts: void;
  /** Loop or not. */
  loop: void;
}

/** One intent of the keyboard with its value. */
export type KeyIntent = { [K in keyof KeyEvents]: { name: K; value: KeyEvents[K] } }[keyof KeyEvents];

/** The intent of a key (`KeyboardEvent.key`), if it has one. */
export function keyIntent(key: string, shift: boolean): KeyIntent | undefined {
  const frames = shift ? 10 : 1;
  switch (key) {
    case ' ':
      return { name: 'play', value: undefined };
    case 'ArrowRight':
      return { name: 'step', value: frames };
    case 'ArrowLeft':
      return { name: 'step', value: -frames };
    case 'Home':
      return { name: 'jump', value: 'start' };
    case 'End':
      return { name: 'jump', value: 'end' };
    case ']':
      return { name: 'speed', value: 1 };
    case '[':
      return { name: 'speed', value: -1 };
    case 'c':
      return { name: 'contacts', value: undefined };
    case 'l':
      return { name: 'loop', value: undefined };
    default:
      return undefined;
  }
}

/** True for a target that takes typing itself (a select, a text field). */
function typesItself(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target instanceof HTMLSelectElement || (target instanceof HTMLInputElement && target.type === 'text');
}

export class Keys extends Emitter<KeyEvents> {
  private readonly onKey = (e: KeyboardEvent) => {
    if (typesItself(e.target)) return;
    const intent = keyIntent(e.key, e.shiftKey);
    if (!intent) return;
    e.preventDefault();
    this.fire(intent);
  };

  /** Listens to the key presses of `target` (the window). */
  constructor(private readonly target: Window) {
    super();
    target.addEventListener('keydown', this.onKey);
  }

  /** Stops listening. */
  dispose(): void {
    this.target.removeEventListener('keydown', this.onKey);
  }

  private fire(intent: KeyIntent): void {
    switch (intent.name) {
      case 'step':
        return this.emit('step', intent.value);
      case 'jump':
        return this.emit('jump', intent.value);
      case 'speed':
        return this.emit('speed', intent.value);
      default:
        return this.emit(intent.name);
    }
  }
}
