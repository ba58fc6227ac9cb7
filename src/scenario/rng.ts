/**
 * Small seeded PRNG: xoshiro128** for uniforms, Box-Muller for normals.
 *
 * We carry our own generator (instead of Math.random) so that an optimizer run
 * is reproducible from its seed and can be checkpointed: `state()` captures
 * everything needed to continue the exact same stream after a process restart.
 */
export class Rng {
  private s: Uint32Array;
  /** Box-Muller yields normals in pairs; the second one is kept for the next call. */
  private spareNormal: number | null = null;

  constructor(seed: number) {
    this.s = new Uint32Array(4);
    // Expand the single seed into 128 bits with splitmix32 so that nearby seeds
    // (0, 1, 2, ...) still give unrelated streams and the state is never all zero.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((word) => word === 0)) this.s[0] = 1;
  }

  /** Uniform number in [0, 1) with 32 bits of resolution. */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 4294967296;
  }

  /** Uniform in [lo, hi]. */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal deviate. */
  normal(): number {
    if (this.spareNormal !== null) {
      const spare = this.spareNormal;
      this.spareNormal = null;
      return spare;
    }
    // 1 - next() lies in (0, 1], so the logarithm is finite.
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const angle = 2 * Math.PI * this.next();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /**
   * JSON-serializable snapshot: the four state words, then 1/0 for whether a
   * spare normal is pending, then that spare (0 when none).
   */
  state(): number[] {
    return [...this.s, this.spareNormal === null ? 0 : 1, this.spareNormal ?? 0];
  }

  /** Rebuilds a generator that continues exactly where `state()` was taken. */
  static fromState(state: number[]): Rng {
    if (state.length !== 6) throw new Error(`Rng state must have 6 numbers, got ${state.length}`);
    const rng = new Rng(0);
    for (let i = 0; i < 4; i++) rng.s[i] = state[i] >>> 0;
    rng.spareNormal = state[4] === 1 ? state[5] : null;
    return rng;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
