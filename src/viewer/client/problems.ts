/**
 * Problems shown to the user (Foxglove style: values with a severity, a message and a tip, never
 * thrown into the void): the newest in the header for a few seconds, all of them kept for the
 * status the tests read.
 */
import type { Problem } from '../messages.ts';
import { h } from './elements.ts';

/** How long a problem stays in the header (ms). */
const SHOWN_MS = 8000;

export class Problems {
  private readonly all: Problem[] = [];

  constructor(private readonly box: HTMLElement) {}

  /** Every problem so far, oldest first. */
  get list(): readonly Problem[] {
    return this.all;
  }

  /** Shows `problem` in place of the one shown. */
  show(problem: Problem): void {
    this.all.push(problem);
    const el = h('div', { class: `problem ${problem.severity}`, title: problem.tip ?? '' }, problem.message);
    this.box.replaceChildren(el);
    setTimeout(() => el.remove(), SHOWN_MS);
  }
}
