/**
 * Progress on stderr: a live bar when stderr is a terminal (cli-progress), a line every few
 * seconds otherwise, so logs of CI and piped runs stay readable. stdout is left to results.
 * Both show the same fields, each as `name value`; a field without a value (a study's cost before
 * any model call) is left out, not shown as a bare name.
 */
import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';

/** Named values shown after the count, in order; `undefined` hides a field. */
export type ProgressFields = Record<string, string | number | undefined>;

export interface Progress {
  /** Sets the count done and the fields shown after the bar. */
  update(done: number, fields?: ProgressFields): void;
  /** Changes the total (budgets can be revised). */
  setTotal(total: number): void;
  stop(): void;
}

/** `name value` for each field with a value, joined by `separator`. */
export function fieldsText(fields: ProgressFields | undefined, separator: string): string {
  return Object.entries(fields ?? {})
    .filter(([, value]) => value !== undefined && value !== '')
    .map(([name, value]) => `${name} ${value}`)
    .join(separator);
}

export function progress(label: string, total: number, stream: Writable & { isTTY?: boolean } = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { stream, format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted}{fields}`, hideCursor: true, etaBuffer: 50 },
      cliProgress.Presets.shades_classic,
    );
    const payload = (fields?: ProgressFields) => {
      const text = fieldsText(fields, ' | ');
      return { fields: text ? ` | ${text}` : '' };
    };
    bar.start(total, 0, payload());
    return {
      update: (done, fields) => bar.update(done, payload(fields)),
      setTotal: (t) => bar.setTotal(t),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  let max = total;
  const started = Date.now();
  return {
    update(done, fields) {
      const now = Date.now();
      if (now - last < 5000 && done < max) return;
      last = now;
      const rate = done / Math.max((now - started) / 1000, 1e-3);
      const eta = rate > 0 ? Math.max(0, (max - done) / rate) : NaN;
      const extra = fieldsText(fields, ', ');
      stream.write(`${label}: ${done}/${max}${Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)} s` : ''}${extra ? `, ${extra}` : ''}\n`);
    },
    setTotal: (t) => (max = t),
    stop: () => {},
  };
}
