/**
 * The header: the study picker, the mode buttons (Replay, Live, Model), and a button per live
 * stream. It emits what the user picks and shows the lists and the mode it is given.
 */
import type { LiveStreamInfo } from '../messages.ts';
import type { StudyListItem } from '../views.ts';
import { h, type PageElements } from './elements.ts';
import { Emitter } from './emitter.ts';

/** What the page shows: stored episodes, live studies, or the model at rest. */
export type Mode = 'replay' | 'live' | 'model';

/** What the user picks in the header. */
export interface ToolbarEvents {
  /** A study, by id. */
  study: string;
  /** A mode. */
  mode: Mode;
  /** A live stream to watch. */
  stream: LiveStreamInfo;
}

/** The header's elements. */
type ToolbarElements = Pick<PageElements, 'studySelect' | 'modeReplay' | 'modeLive' | 'modeModel' | 'liveWorkers'>;

export class Toolbar extends Emitter<ToolbarEvents> {
  constructor(private readonly el: ToolbarElements) {
    super();
    el.studySelect.addEventListener('change', () => this.emit('study', el.studySelect.value));
    el.modeReplay.addEventListener('click', () => this.emit('mode', 'replay'));
    el.modeLive.addEventListener('click', () => this.emit('mode', 'live'));
    el.modeModel.addEventListener('click', () => this.emit('mode', 'model'));
  }

  /** The study picked (undefined with none). */
  get study(): string | undefined {
    return this.el.studySelect.value || undefined;
  }

  /** Lists `studies`, keeping `current` picked when it is listed. */
  showStudies(studies: readonly StudyListItem[], current: string | undefined): void {
    const select = this.el.studySelect;
    const keep = current ?? select.value;
    select.replaceChildren(...studies.map((s) => h('option', { value: s.id }, `${s.id} (${s.status}, ${s.candidates})`)));
    if (keep && studies.some((s) => s.id === keep)) select.value = keep;
    select.disabled = studies.length === 0;
  }

  /** Picks study `id` in the list. */
  pickStudy(id: string): void {
    this.el.studySelect.value = id;
  }

  /** Marks the mode button of `mode`. */
  showMode(mode: Mode): void {
    for (const [m, b] of [['replay', this.el.modeReplay], ['live', this.el.modeLive], ['model', this.el.modeModel]] as const) b.classList.toggle('current', m === mode);
  }

  /**
   * A button per live stream (the one shown marked `current`); the Live button is enabled when
   * the server takes live studies or some stream is running.
   */
  showStreams(streams: readonly LiveStreamInfo[], current: number | undefined, liveOffered: boolean): void {
    const buttons = streams.map((s) => {
      const b = h('button', { class: `worker${s.active ? ' active' : ''}${current === s.stream ? ' current' : ''}`, 'data-stream': String(s.stream), title: `study ${s.study}, candidate ${s.candidate}, seed ${s.seed}` }, `w${s.worker}`);
      b.addEventListener('click', () => this.emit('stream', s));
      return b;
    });
    this.el.liveWorkers.replaceChildren(...(buttons.length ? [h('span', { class: 'muted' }, 'live:'), ...buttons] : []));
    this.el.modeLive.disabled = !liveOffered && streams.length === 0;
  }
}
