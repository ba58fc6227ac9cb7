/**
 * The two statistics a gauntlet's claims rest on: the Wilson score interval of a success rate
 * (right at 0 and n, where the normal approximation claims certainty it does not have), and
 * McNemar's exact test of a paired difference (only seeds whose outcome changed carry evidence).
 *
 * Kept here until src/scoring/stats.ts has its own (another branch is adding them); then these
 * two go and the gauntlet imports those.
 */

/** The Wilson score interval [low, high] of `successes` in `n` trials at normal quantile `z` (1.96: 95%). */
export function wilsonInterval(successes: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = successes / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * McNemar's exact two-sided p for paired outcomes: `b` pairs went one way (e.g. success at T0,
 * failure perturbed), `c` the other. Under no difference each discordant pair is a fair coin.
 */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  // Sum the binomial tail in log space: C(n, i) / 2^n for i ≤ k, exact enough for thousands of seeds.
  let logC = 0; // log C(n, 0)
  let tail = 0;
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log(n - i + 1) - Math.log(i);
    tail += Math.exp(logC - n * Math.LN2);
  }
  return Math.min(1, 2 * tail);
}
