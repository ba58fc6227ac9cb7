/** Statistics of episode scores: means, spreads and the standard error a comparison needs. */

/** Mean and sample standard deviation (n - 1); std is 0 for a single value. */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, std: NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: 0 };
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, std: Math.sqrt(variance) };
}

/** The normal quantile of a two-sided 95% interval. */
const Z95 = 1.959963984540054;

/** A 95% interval [low, high] around an estimate. */
export interface Interval {
  /** Lower bound. */
  low: number;
  /** Upper bound. */
  high: number;
}

/**
 * Wilson's score interval (95%) for `successes` out of `n`. Unlike the textbook p ± 1.96·se it
 * never leaves [0, 1] and does not shrink to nothing at 0/n or n/n, which is where robot success
 * rates live. n = 0 says nothing: [0, 1].
 */
export function wilson(successes: number, n: number): Interval {
  if (!(n > 0)) return { low: 0, high: 1 };
  if (successes < 0 || successes > n) throw new Error(`wilson: ${successes} successes out of ${n} is impossible.`);
  const p = successes / n;
  const z2 = Z95 * Z95;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const half = (Z95 / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At 0/n and n/n the bound is exactly 0 or 1; rounding must not put it a hair off.
  return { low: successes === 0 ? 0 : Math.max(0, center - half), high: successes === n ? 1 : Math.min(1, center + half) };
}

/** The Wilson interval of a stored success rate over `n` episodes (the count is the rate times n). */
export function wilsonOfRate(rate: number, n: number): Interval {
  return wilson(Math.round(rate * n), n);
}

/**
 * McNemar's exact test (two-sided) of paired successes: `onlyFirst` pairs succeeded only in the
 * first condition, `onlySecond` only in the second. Under "no difference" each discordant pair is
 * a fair coin, so p is twice the binomial tail of the rarer side (at most 1).
 */
export function mcnemarExact(onlyFirst: number, onlySecond: number): number {
  const m = onlyFirst + onlySecond;
  if (m === 0) return 1;
  const k = Math.min(onlyFirst, onlySecond);
  // Binomial terms in log space: 2^-m underflows past a thousand pairs.
  let logTerm = -m * Math.LN2;
  const logs = [logTerm];
  for (let i = 1; i <= k; i++) {
    logTerm += Math.log((m - i + 1) / i);
    logs.push(logTerm);
  }
  const top = Math.max(...logs);
  const tail = Math.exp(top) * logs.reduce((sum, l) => sum + Math.exp(l - top), 0);
  return Math.min(1, 2 * tail);
}

/** Two conditions on the same seeds, compared pair by pair. */
export interface PairedDifference {
  /** Pairs (seeds run in both conditions). */
  n: number;
  /** Successes in the first condition. */
  first: number;
  /** Successes in the second condition. */
  second: number;
  /** Pairs that succeeded in the first condition only. */
  onlyFirst: number;
  /** Pairs that succeeded in the second condition only. */
  onlySecond: number;
  /** Second success rate minus the first. */
  difference: number;
  /** Newcombe's 95% interval of the difference (method 10: Wilson bounds with the pairs' correlation). */
  interval: Interval;
  /** McNemar's exact two-sided p of "no difference". */
  p: number;
}

/**
 * The paired difference of two success series on the same seeds (second minus first), with
 * Newcombe's hybrid score interval for paired data (Stat. Med. 17:2635, 1998, method 10) and
 * McNemar's exact p. Pairing is what makes a 64-seed comparison sensitive: the seeds both
 * conditions pass or both fail say nothing about the difference.
 */
export function pairedDifference(first: readonly boolean[], second: readonly boolean[]): PairedDifference {
  if (first.length !== second.length) throw new Error(`pairedDifference: ${first.length} and ${second.length} outcomes do not pair up; run both conditions on the same seeds.`);
  const n = first.length;
  let both = 0;
  let onlyFirst = 0;
  let onlySecond = 0;
  for (let i = 0; i < n; i++) {
    if (first[i] && second[i]) both++;
    else if (first[i]) onlyFirst++;
    else if (second[i]) onlySecond++;
  }
  const neither = n - both - onlyFirst - onlySecond;
  const k1 = both + onlyFirst;
  const k2 = both + onlySecond;
  const p = mcnemarExact(onlyFirst, onlySecond);
  if (n === 0) return { n, first: 0, second: 0, onlyFirst, onlySecond, difference: NaN, interval: { low: -1, high: 1 }, p };
  const p1 = k1 / n;
  const p2 = k2 / n;
  const w1 = wilson(k1, n);
  const w2 = wilson(k2, n);
  const phi = pairCorrelation(both, onlyFirst, onlySecond, neither, n);
  // Newcombe's interval is for p1 - p2; ours is its mirror, p2 - p1.
  const down = Math.sqrt((p1 - w1.low) ** 2 - 2 * phi * (p1 - w1.low) * (w2.high - p2) + (w2.high - p2) ** 2);
  const up = Math.sqrt((w1.high - p1) ** 2 - 2 * phi * (w1.high - p1) * (p2 - w2.low) + (p2 - w2.low) ** 2);
  const d = p1 - p2;
  return { n, first: k1, second: k2, onlyFirst, onlySecond, difference: (k2 - k1) / n, interval: { low: -(d + up), high: -(d - down) }, p };
}

/** The phi correlation of the paired table, with Newcombe's continuity adjustment (0 when a margin is empty). */
function pairCorrelation(both: number, onlyFirst: number, onlySecond: number, neither: number, n: number): number {
  const margins = (both + onlyFirst) * (onlySecond + neither) * (both + onlySecond) * (onlyFirst + neither);
  if (margins === 0) return 0;
  const cross = both * neither - onlyFirst * onlySecond;
  const adjusted = cross > n / 2 ? cross - n / 2 : cross < 0 ? cross : 0;
  return adjusted / Math.sqrt(margins);
}
