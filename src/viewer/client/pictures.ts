/**
 * The episode's pictures beside its replay: each image topic (a camera's frames, a task's derived
 * images such as machining's contact map) at the frame the timeline is on, and what each vision
 * check of the scenario saw, drawn, with its verdict. The server renders every picture as a PNG.
 */
import type { Api } from './api.ts';
import { h } from './elements.ts';

/** One image topic on screen. */
interface Shown {
  /** Its topic. */
  topic: string;
  /** Its frames' stamps (s). */
  stamps: number[];
  /** The picture. */
  img: HTMLImageElement;
  /** The caption's time. */
  when: HTMLElement;
  /** The frame shown (-1: none yet). */
  frame: number;
}

export class Pictures {
  private shown: Shown[] = [];
  private episode: number | undefined;
  private t = 0;

  constructor(
    private readonly container: HTMLElement,
    private readonly api: Api,
  ) {}

  /** Shows the pictures of episode `id` (none: clears). */
  async show(id: number | undefined): Promise<void> {
    this.clear();
    this.episode = id;
    if (id === undefined) return;
    const pictures = await this.api.images(id);
    if (this.episode !== id) return;
    const figures: HTMLElement[] = [];
    for (const image of pictures.images) {
      const img = h('img', { alt: image.topic, width: String(image.width), height: String(image.height) });
      const when = h('span', { class: 'muted' });
      figures.push(h('figure', { 'data-topic': image.topic }, img, h('figcaption', {}, `${image.topic} `, when)));
      this.shown.push({ topic: image.topic, stamps: image.stamps, img, when, frame: -1 });
    }
    for (const check of pictures.checks) {
      const metrics = Object.entries(check.metrics).map(([k, v]) => `${k} ${Number(v.toPrecision(3))}`).join(', ');
      const verdict = h('span', { class: check.pass ? 'pass' : 'fail' }, check.pass ? 'pass' : 'fail');
      const img = h('img', { alt: `vision check ${check.name}`, src: this.api.visionUrl(id, check.name) });
      figures.push(h('figure', { 'data-check': check.name }, img, h('figcaption', {}, `${check.name} (${check.kind}${check.required ? '' : ', not required'}): `, verdict, metrics ? ` — ${metrics}` : '')));
    }
    if (pictures.checksProblem) figures.push(h('div', { class: 'problem warn' }, `Vision checks: ${pictures.checksProblem}`));
    this.container.replaceChildren(...figures);
    this.time(this.t);
  }

  /** Shows each image topic's last frame at or before time `t` (s), its first before that. */
  time(t: number): void {
    this.t = t;
    if (this.episode === undefined) return;
    for (const s of this.shown) {
      let frame = 0;
      while (frame + 1 < s.stamps.length && s.stamps[frame + 1] <= t + 1e-9) frame++;
      if (frame === s.frame) continue;
      s.frame = frame;
      s.img.src = this.api.imageUrl(this.episode, s.topic, frame);
      s.when.textContent = `t = ${s.stamps[frame].toFixed(2)} s`;
    }
  }

  clear(): void {
    this.shown = [];
    this.episode = undefined;
    this.container.replaceChildren();
  }
}
