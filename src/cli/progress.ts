/**
 * Progress on stderr: a live bar when stderr is a terminal (cli-progress), a line every few
 * seconds otherwise, so logs of CI and piped runs stay readable. stdout is left to results.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** Sets the count done and the fields shown after the bar. */
  update(done: number, fields?: Record<string, string | number>): void;
  /** Changes the total (budgets can be revised). */
  setTotal(total: number): void;
  stop(): void;
}

export function progress(label: string, total: number, fieldsFormat = ''): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: process.stderr,
        format: `${label} [{bar}] {value}/{total} | ETA {eta_formatted}${fieldsFormat ? ` | ${fieldsFormat}` : ''}`,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return {
      update: (done, fields) => bar.update(done, fields),
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
      const extra = fields ? Object.entries(fields).map(([k, v]) => `${k} ${v}`).join(', ') : '';
      process.stderr.write(`${label}: ${done}/${max}${Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)} s` : ''}${extra ? `, ${extra}` : ''}\n`);
    },
    setTotal: (t) => (max = t),
    stop: () => {},
  };
}
