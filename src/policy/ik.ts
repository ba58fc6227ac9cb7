/**
 * Damped-least-squares inverse kinematics on the site Jacobian:
 *   dq = Jᵀ (J Jᵀ + λ² I)⁻¹ e,   e = [position error; orientation error]
 * The damping λ keeps steps bounded near singularities, at the price of slower convergence there.
 */
import type { Kinematics } from '../sim/kinematics.ts';

/** A Cartesian target for the tool: position and rotation matrix (row-major). */
export interface ToolTarget {
  /** Target position (m, world). */
  pos: ArrayLike<number>;
  /** Target rotation, row-major 3x3. */
  mat: ArrayLike<number>;
}

/** 6-vector error between the current tool pose and a target (position, then rotation). */
export function poseError(pos: ArrayLike<number>, mat: ArrayLike<number>, target: ToolTarget): Float64Array {
  const e = new Float64Array(6);
  for (let i = 0; i < 3; i++) e[i] = target.pos[i] - pos[i];
  // Orientation error ½ Σ_k (r_k × r*_k) over the frame axes: zero when aligned, and a small
  // rotation vector near alignment, which is what the angular Jacobian maps to.
  for (let k = 0; k < 3; k++) {
    const a0 = mat[k];
    const a1 = mat[3 + k];
    const a2 = mat[6 + k];
    const b0 = target.mat[k];
    const b1 = target.mat[3 + k];
    const b2 = target.mat[6 + k];
    e[3] += 0.5 * (a1 * b2 - a2 * b1);
    e[4] += 0.5 * (a2 * b0 - a0 * b2);
    e[5] += 0.5 * (a0 * b1 - a1 * b0);
  }
  return e;
}

// Scratch of dlsStep, reused: a policy takes a step every control tick. Nothing keeps them
// between calls, and calls never overlap (they are synchronous).
const normal = new Float64Array(36);
const cholesky = new Float64Array(36);
const forward = new Float64Array(6);
const solution = new Float64Array(6);

/** One DLS step: the joint change that reduces `error` given the 6xN Jacobian `jac`. */
export function dlsStep(jac: Float64Array, error: Float64Array, damping: number): Float64Array {
  const n = jac.length / 6;
  // A = J Jᵀ + λ² I  (6x6), solve A y = e, then dq = Jᵀ y.
  const a = normal;
  for (let r = 0; r < 6; r++) {
    for (let c = r; c < 6; c++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += jac[r * n + k] * jac[c * n + k];
      a[r * 6 + c] = s;
      a[c * 6 + r] = s;
    }
    a[r * 6 + r] += damping * damping;
  }
  const y = solveSymmetric6(a, error);
  const dq = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let s = 0;
    for (let r = 0; r < 6; r++) s += jac[r * n + k] * y[r];
    dq[k] = s;
  }
  return dq;
}

/** Solves A x = b for a symmetric positive-definite 6x6 A by Cholesky decomposition (x is scratch). */
function solveSymmetric6(a: Float64Array, b: Float64Array): Float64Array {
  const l = cholesky;
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * 6 + j];
      for (let k = 0; k < j; k++) s -= l[i * 6 + k] * l[j * 6 + k];
      l[i * 6 + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j * 6 + j];
    }
  }
  const y = forward;
  for (let i = 0; i < 6; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i * 6 + k] * y[k];
    y[i] = s / l[i * 6 + i];
  }
  const x = solution;
  for (let i = 5; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < 6; k++) s -= l[k * 6 + i] * x[k];
    x[i] = s / l[i * 6 + i];
  }
  return x;
}

/** Options of the iterative solver. */
export interface SolveOptions {
  /** Joint limits per joint [min, max]; steps are clamped into them. */
  limits: [number, number][];
  /** Damping λ. */
  damping?: number;
  /** Iteration cap. */
  maxIterations?: number;
  /** Stop when the position error is below this (m)... */
  positionTolerance?: number;
  /** ...and the orientation error below this (rad). */
  orientationTolerance?: number;
}

/** Iterates DLS steps from `q0` until the target is reached; returns the joints and final errors. */
export function solveIk(
  kin: Kinematics,
  q0: ArrayLike<number>,
  target: ToolTarget,
  options: SolveOptions,
): { q: Float64Array; positionError: number; orientationError: number; iterations: number } {
  const { damping = 0.05, maxIterations = 200, positionTolerance = 1e-4, orientationTolerance = 1e-3 } = options;
  const q = Float64Array.from(q0);
  let positionError = Infinity;
  let orientationError = Infinity;
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    const { pos, mat, jac } = kin.jacobian(q);
    const e = poseError(pos, mat, target);
    positionError = Math.hypot(e[0], e[1], e[2]);
    orientationError = Math.hypot(e[3], e[4], e[5]);
    if (positionError < positionTolerance && orientationError < orientationTolerance) break;
    const dq = dlsStep(jac, e, damping);
    for (let i = 0; i < q.length; i++) {
      const [lo, hi] = options.limits[i];
      q[i] = Math.min(hi, Math.max(lo, q[i] + dq[i]));
    }
  }
  return { q, positionError, orientationError, iterations };
}

/** Rotation (row-major) of a tool pointing straight down with its x axis at `yaw` in the table plane. */
export function downwardRotation(yaw: number): Float64Array {
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  // Columns: x = (c, s, 0), y = z × x = (s, -c, 0), z = (0, 0, -1).
  return Float64Array.from([c, s, 0, s, -c, 0, 0, 0, -1]);
}
