/** Small text helpers for the CLI: aligned tables and numbers a person can scan. */
import { wilsonOfRate } from '../scoring/stats.ts';

/** Renders rows as an aligned text table with a header. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c])).join('  ').trimEnd();
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** A number with `digits` decimals, or '-' when missing. */
export function fixed(value: number | null | undefined, digits = 3): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

/** A fraction as a percentage. */
export function percent(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '-' : `${(value * 100).toFixed(1)}%`;
}

/**
 * A success rate as arbor always prints one: with its Wilson 95% interval and its n, e.g.
 * `85.9% [75.4–92.4%] n=64`, so 3/3 never reads like 64/64. '-' when missing.
 */
export function successText(rate: number | null | undefined, n: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate) || !n) return '-';
  const { low, high } = wilsonOfRate(rate, n);
  return `${percent(rate)} [${(low * 100).toFixed(1)}–${(high * 100).toFixed(1)}%] n=${n}`;
}
