/**
 * The progress line of `arbor run`, piped (a line every few seconds) and in a terminal (a live bar):
 * a field without a value, as a study's cost before any model call, is left out, never shown as
 * `cost ,` with nothing after it.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progress } from '../src/cli/progress.ts';

function capture(tty: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream: PassThrough & { isTTY?: boolean } = new PassThrough();
  if (tty) stream.isTTY = true;
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

const fields = (cost?: string) => ({ cand: 2, best: '0.514', success: '40%', cost, phase: 'search' });

describe('the progress line', () => {
  it('piped: names each field with its value and leaves out a cost not yet spent', () => {
    const out = capture(false);
    const bar = progress('study', 4, out.stream);
    bar.update(4, fields());
    expect(out.text()).toMatch(/^study: 4\/4, ETA 0 s, cand 2, best 0\.514, success 40%, phase search\n$/);
    const paid = capture(false);
    progress('study', 4, paid.stream).update(4, fields('$0.0123'));
    expect(paid.text()).toContain('success 40%, cost $0.0123, phase search');
  });

  it('in a terminal: the same fields after the bar, no placeholder and no empty cost', async () => {
    const out = capture(true);
    const bar = progress('study', 4, out.stream);
    bar.update(2, fields());
    bar.stop();
    const shown = out.text();
    expect(shown).toContain('| cand 2 | best 0.514 | success 40% | phase search');
    expect(shown).not.toMatch(/cost|\{\w+\}/);
  });
});
