/**
 * Where the tool must go: the scenario's path on a workpiece of a given pose and size, as points
 * in the world and the surface normal the tool presses against. The scene, the controller (from
 * the workpiece it observes) and the recorded `/target_path` topic all come from this one place.
 */
import type { Pose } from '../../robot/link.ts';
import type { MachiningPath } from './schema.ts';

/** A box workpiece: centre, yaw about z and half extents (m). */
export interface Workpiece {
  /** Centre [x, y, z] (m). */
  center: [number, number, number];
  /** Yaw about z (rad). */
  yaw: number;
  /** Half extents [x, y, z] (m). */
  half: [number, number, number];
}

/** A path in the world. */
export interface PathGeometry {
  /** Points along the path, in order (m). */
  points: [number, number, number][];
  /** Unit normal of the surface the tool presses on, pointing out of the workpiece. */
  normal: [number, number, number];
}

/** The path sampled at `count` points on `workpiece`. */
export function pathGeometry(path: MachiningPath, workpiece: Workpiece, count: number): PathGeometry {
  const [hx, hy, hz] = workpiece.half;
  const local: [number, number][] = [];
  let normal: [number, number, number];
  if (path.kind === 'edge') {
    const from = -hx + path.inset;
    const to = hx - path.inset;
    for (let k = 0; k < count; k++) local.push([from + ((to - from) * k) / (count - 1), -hy]);
    // The edge's outward bisector, between the top face (+z) and the -y face.
    normal = toWorldDirection([0, -Math.SQRT1_2], Math.SQRT1_2, workpiece.yaw);
  } else {
    for (let k = 0; k < count; k++) {
      const a = path.start + (path.sweep * k) / (count - 1);
      local.push([path.center[0] + path.radius * Math.cos(a), path.center[1] + path.radius * Math.sin(a)]);
    }
    normal = [0, 0, 1];
  }
  const c = Math.cos(workpiece.yaw);
  const s = Math.sin(workpiece.yaw);
  const [x0, y0, z0] = workpiece.center;
  return { points: local.map(([x, y]) => [x0 + c * x - s * y, y0 + s * x + c * y, z0 + hz]), normal };
}

function toWorldDirection([x, y]: [number, number], z: number, yaw: number): [number, number, number] {
  return [Math.cos(yaw) * x - Math.sin(yaw) * y, Math.sin(yaw) * x + Math.cos(yaw) * y, z];
}

/** Yaw about z of a pose's orientation (x, y, z, w). */
export function yawOf(orientation: Pose['orientation']): number {
  const [x, y, z, w] = orientation;
  return Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
}

/**
 * The workpiece as the cell sees it: its centre pose and one top corner (the +x, +y one), as a
 * localisation reports a box. Its half extents are the corner in the workpiece's frame.
 */
export function workpieceFromPoses(center: Pose, corner: Pose): Workpiece {
  const yaw = yawOf(center.orientation);
  const d = [corner.position[0] - center.position[0], corner.position[1] - center.position[1], corner.position[2] - center.position[2]];
  const c = Math.cos(yaw);
  const s = Math.sin(yaw);
  return { center: [...center.position], yaw, half: [c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]] };
}

/** The top corner (+x, +y) of a workpiece, in the world. */
export function topCorner(w: Workpiece): [number, number, number] {
  const [hx, hy, hz] = w.half;
  const c = Math.cos(w.yaw);
  const s = Math.sin(w.yaw);
  return [w.center[0] + c * hx - s * hy, w.center[1] + s * hx + c * hy, w.center[2] + hz];
}
