/** The few 3-vector operations machining's geometry needs, on plain arrays. */

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/** `v` scaled to length 1 (a zero vector stays zero). */
export function unit(v: ArrayLike<number>): number[] {
  const length = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / length, v[1] / length, v[2] / length];
}

/** `v` with its part along the unit vector `n` removed: what lies across `n`. */
export function withoutAlong(v: ArrayLike<number>, n: ArrayLike<number>): number[] {
  const along = dot(v, n);
  return [v[0] - along * n[0], v[1] - along * n[1], v[2] - along * n[2]];
}

export function cross(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
