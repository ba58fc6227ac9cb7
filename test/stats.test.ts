/**
 * The statistics every success rate is printed with, on counts whose answers are published:
 * Wilson intervals from Newcombe (Stat. Med. 17:857, 1998, table I, method 3), McNemar's exact
 * p from the binomial by hand, and the paired difference on Altman et al.'s worked example
 * (Statistics with Confidence, 2000, table 6.2) by Newcombe's method 10.
 */
import { describe, expect, it } from 'vitest';
import { mcnemarExact, pairedDifference, wilson } from '../src/scoring/stats.ts';

describe('wilson', () => {
  it.each([
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ])('%i/%i is [%f, %f]', (k, n, low, high) => {
    const w = wilson(k, n);
    expect(w.low).toBeCloseTo(low, 4);
    expect(w.high).toBeCloseTo(high, 4);
  });

  it('stays inside [0, 1], is exact at the ends, and says nothing for no episodes', () => {
    expect(wilson(64, 64)).toEqual({ low: expect.closeTo(0.9434, 4), high: 1 });
    expect(wilson(0, 64).low).toBe(0);
    expect(wilson(0, 0)).toEqual({ low: 0, high: 1 });
    expect(() => wilson(5, 4)).toThrow(/5 successes out of 4/);
  });
});

describe('mcnemarExact', () => {
  it('is twice the binomial tail of the rarer discordant side', () => {
    expect(mcnemarExact(5, 1)).toBeCloseTo(14 / 64, 12); // 2·(1 + 6)/2^6
    expect(mcnemarExact(0, 9)).toBeCloseTo(2 / 512, 12);
    expect(mcnemarExact(9, 0)).toBeCloseTo(2 / 512, 12);
    expect(mcnemarExact(3, 3)).toBe(1);
    expect(mcnemarExact(0, 0)).toBe(1);
  });

  it('does not underflow on thousands of pairs', () => {
    const p = mcnemarExact(3000, 2900);
    expect(p).toBeGreaterThan(0.15);
    expect(p).toBeLessThan(0.25);
    expect(mcnemarExact(2000, 1000)).toBeGreaterThan(0);
  });
});

describe('pairedDifference', () => {
  /** Altman's table 6.2: 14 pairs succeed in both, 5 in the first only, 0 in the second only, 22 in neither. */
  const pairs = (both: number, onlyFirst: number, onlySecond: number, neither: number) => {
    const rows = [...Array(both).fill([true, true]), ...Array(onlyFirst).fill([true, false]), ...Array(onlySecond).fill([false, true]), ...Array(neither).fill([false, false])] as [boolean, boolean][];
    return { first: rows.map((r) => r[0]), second: rows.map((r) => r[1]) };
  };

  it("matches the worked example: -5/41, interval [-0.2265, -0.0115], McNemar's p 0.0625", () => {
    const { first, second } = pairs(14, 5, 0, 22);
    const d = pairedDifference(first, second);
    expect(d).toMatchObject({ n: 41, first: 19, second: 14, onlyFirst: 5, onlySecond: 0 });
    expect(d.difference).toBeCloseTo(-5 / 41, 12);
    expect(d.interval.low).toBeCloseTo(-0.2265, 4);
    expect(d.interval.high).toBeCloseTo(-0.0115, 4);
    expect(d.p).toBeCloseTo(0.0625, 12);
    // The mirror comparison mirrors the interval.
    const back = pairedDifference(second, first);
    expect(back.interval.low).toBeCloseTo(0.0115, 4);
    expect(back.interval.high).toBeCloseTo(0.2265, 4);
  });

  it('gives no difference for identical series, and refuses series that do not pair up', () => {
    const same = [true, false, true, true];
    const d = pairedDifference(same, same);
    expect(d.difference).toBe(0);
    expect(d.p).toBe(1);
    expect(d.interval.low).toBeLessThan(0);
    expect(d.interval.high).toBeGreaterThan(0);
    expect(() => pairedDifference([true], [true, false])).toThrow(/same seeds/);
  });
});
