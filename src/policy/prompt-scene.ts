/**
 * The scene as a prompt policy's planner reads it: the task's brief (colours, sizes, places) and
 * the observed object poses, written as one JSON object or as prose, with the facts and the
 * length unit the config chooses. Names are always given, since a plan refers to them.
 */
import type { Observation, TaskBrief } from '../robot/link.ts';
import type { SceneFormat } from '../scenario/prompt.ts';

/** Length unit → metres-to-unit factor and decimals shown. */
const UNITS = { m: { factor: 1, decimals: 3 }, cm: { factor: 100, decimals: 1 }, mm: { factor: 1000, decimals: 0 } } as const;

/** One object or place, with every fact the brief and the pose give (lengths in metres). */
interface Thing {
  name: string;
  colour?: string;
  /** Objects: largest extent; places: [width, depth]. */
  size?: number | [number, number];
  /** Objects: observed centre; places: centre. */
  position?: [number, number];
}

/** Writes the scene for the planner. */
export function describeScene(brief: TaskBrief, obs: Observation, format: SceneFormat): string {
  const { factor, decimals } = UNITS[format.units];
  const len = (m: number) => Number((m * factor).toFixed(decimals));
  const base = brief.robot_base ?? [0, 0];
  const want = new Set(format.facts);
  const objects: Thing[] = Object.entries(brief.objects).map(([name, facts]) => {
    const pose = obs.objects[name];
    return { name, colour: facts.colour, size: facts.size, position: pose ? [pose.position[0], pose.position[1]] : undefined };
  });
  const places: Thing[] = Object.entries(brief.places).map(([name, p]) => ({ name, colour: p.colour, size: [2 * p.half_size[0], 2 * p.half_size[1]], position: p.center }));
  const distance = (t: Thing) => (t.position ? Math.hypot(t.position[0] - base[0], t.position[1] - base[1]) : undefined);

  if (format.format === 'json') {
    const entry = (t: Thing, where: 'position' | 'center') => {
      const out: Record<string, unknown> = { name: t.name };
      if (want.has('colour') && t.colour !== undefined) out.colour = t.colour;
      if (want.has('size') && t.size !== undefined) out.size = typeof t.size === 'number' ? len(t.size) : t.size.map(len);
      if (want.has('position') && t.position) out[where] = t.position.map(len);
      const d = distance(t);
      if (want.has('distance') && d !== undefined) out.distance_from_robot = len(d);
      return out;
    };
    return JSON.stringify({
      units: format.units,
      ...(want.has('position') ? { robot_base: base.map(len) } : {}),
      objects: objects.map((t) => entry(t, 'position')),
      places: places.map((t) => entry(t, 'center')),
    });
  }

  const u = format.units;
  const point = (p: [number, number]) => `(${len(p[0])}, ${len(p[1])}) ${u}`;
  const sentence = (t: Thing, kind: 'object' | 'place') => {
    const parts: string[] = [];
    if (want.has('colour') && t.colour !== undefined) parts.push(t.colour);
    if (want.has('size') && t.size !== undefined) parts.push(typeof t.size === 'number' ? `${len(t.size)} ${u} across` : `${len(t.size[0])} × ${len(t.size[1])} ${u}`);
    if (want.has('position') && t.position) parts.push(`${kind === 'object' ? 'at' : 'centred at'} ${point(t.position)}`);
    const d = distance(t);
    if (want.has('distance') && d !== undefined) parts.push(`${len(d)} ${u} from the robot`);
    return `- ${t.name}${parts.length ? `: ${parts.join(', ')}` : ''}.`;
  };
  return [
    ...(want.has('position') ? [`The robot's base is at ${point(base)}; x points away from it, y to its left.`] : []),
    'Objects:',
    ...objects.map((t) => sentence(t, 'object')),
    'Places (zones where things can be put):',
    ...places.map((t) => sentence(t, 'place')),
  ].join('\n');
}
