/**
 * MuJoCo → three.js conventions, in one place. The viewer keeps MuJoCo's world frame as it is
 * (Z up, metres) and sets `camera.up = (0, 0, 1)` instead of rotating the world into three's
 * Y-up: positions then need no conversion, and a body pose from `xpos`/`xquat` goes straight in.
 * What does need converting:
 * - quaternion order: MuJoCo stores (w, x, y, z), three.js (x, y, z, w);
 * - primitive axes: MuJoCo's cylinders and capsules run along their local Z, three's along Y.
 * Cameras agree already: both look along their local -Z with +Y up in the image.
 */

/** The world's up axis (MuJoCo's Z). Use it for `camera.up`. */
export const WORLD_UP: readonly [number, number, number] = [0, 0, 1];

/** Something with three's quaternion setter. */
export interface QuatLike {
  set(x: number, y: number, z: number, w: number): unknown;
}

/** Sets `out` from the MuJoCo quaternion (w, x, y, z) at `q[offset..offset+4)`. */
export function setMjQuat(out: QuatLike, q: ArrayLike<number>, offset = 0): void {
  out.set(q[offset + 1], q[offset + 2], q[offset + 3], q[offset]);
}

/**
 * The rotation (three order x, y, z, w) that turns a three.js primitive built along +Y (cylinder,
 * capsule) into MuJoCo's along +Z: +90° about X.
 */
export const Y_TO_Z: readonly [number, number, number, number] = [Math.SQRT1_2, 0, 0, Math.SQRT1_2];
