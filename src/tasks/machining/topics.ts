/**
 * Machining's own topics: where the tool touches the work and how hard, every control tick, and
 * the path it should follow, once. Flat arbor messages (the MCAP export writes them as such).
 */
import type { TopicSeries } from '../../trace/trace.ts';
import type { PathGeometry } from './path.ts';

/** The tool's contact point (m, world) and the normal force on it (N), every control tick. */
export const TOOL_CONTACT = {
  /** Topic name. */
  name: '/tool_contact',
  /** Message type (a flat arbor message). */
  type: 'arbor_msgs/ToolContact',
  /** The contact point (m, world), then the normal force (N). */
  fields: ['point.x', 'point.y', 'point.z', 'normal_force'],
};

/** The target path: its surface normal, then its points (m, world); one message per episode. */
export const TARGET_PATH = '/target_path';

/** The fields of `/target_path` for a path of `count` points. */
export function targetPathFields(count: number): string[] {
  const fields = ['normal.x', 'normal.y', 'normal.z'];
  for (let k = 0; k < count; k++) fields.push(`p${k}.x`, `p${k}.y`, `p${k}.z`);
  return fields;
}

/** A path as one `/target_path` message. */
export function targetPathRow(path: PathGeometry): number[] {
  return [...path.normal, ...path.points.flat()];
}

/** The path a `/target_path` message holds (its first). */
export function readTargetPath(topic: TopicSeries): PathGeometry {
  const d = topic.data;
  const count = (topic.fields.length - 3) / 3;
  if (topic.stamps.length === 0 || !Number.isInteger(count) || count < 2) {
    throw new Error(`${TARGET_PATH} must hold one message of a normal and at least 2 points; it has ${topic.stamps.length} messages of ${topic.fields.length} fields.`);
  }
  const points: [number, number, number][] = [];
  for (let k = 0; k < count; k++) points.push([d[3 + 3 * k], d[4 + 3 * k], d[5 + 3 * k]]);
  return { normal: [d[0], d[1], d[2]], points };
}
