/**
 * What instructions mean: each goal, the placeholders its wording fills, whether the right answer
 * is to refuse, and which cube must end in which zone given an episode's cubes and zones. The
 * scorer judges an episode against `expectedOutcome`; the scene draws an instruction with `fill`.
 */
import type { Rng } from '../../scenario/rng.ts';

/** The goals an instruction may have. */
export const GOALS = [
  'largest_to_zone',
  'smallest_to_zone',
  'colour_to_nearest',
  'sort_by_colour',
  'colour_to_zone',
  'ambiguous_colour',
  'missing_cube',
  'missing_zone',
] as const;
export type Goal = (typeof GOALS)[number];

type Placeholder = 'colour' | 'zone' | 'missing';

/** What each goal fills in its wording and whether the right answer is a refusal. */
const GOAL_INFO: Record<Goal, { placeholders: readonly Placeholder[]; refuse: boolean; what: string }> = {
  largest_to_zone: { placeholders: ['zone'], refuse: false, what: 'the largest cube into the zone of colour {zone}' },
  smallest_to_zone: { placeholders: ['zone'], refuse: false, what: 'the smallest cube into the zone of colour {zone}' },
  colour_to_nearest: { placeholders: ['colour'], refuse: false, what: 'every cube of colour {colour} into the zone nearest the robot base' },
  sort_by_colour: { placeholders: [], refuse: false, what: 'each cube into the zone of its colour; cubes without one stay' },
  colour_to_zone: { placeholders: ['colour', 'zone'], refuse: false, what: 'the one cube of colour {colour} into the zone of colour {zone}' },
  ambiguous_colour: { placeholders: ['colour', 'zone'], refuse: true, what: 'refuse: {colour} names two or more cubes' },
  missing_cube: { placeholders: ['missing', 'zone'], refuse: true, what: 'refuse: no cube is {missing}' },
  missing_zone: { placeholders: ['colour', 'missing'], refuse: true, what: 'refuse: no zone is {missing}' },
};

/** The parts of the task section the goals read. */
interface Setting {
  cubes: Readonly<Record<string, { colour: string }>>;
  zones: Readonly<Record<string, { colour: string }>>;
}

/** A cube or a zone of one episode, as the goals need them. */
export interface Placed {
  /** Body (cube) or zone name. */
  name: string;
  /** Colour. */
  colour: string;
  /** Centre [x, y] (m, world). */
  x: number;
  y: number;
  /** Half edge (m): cubes only; 0 for zones. */
  halfSize: number;
}

/** What an episode's instruction wants. */
export interface Expected {
  /** The right answer is to refuse. */
  refuse: boolean;
  /** Cube name → the zone it must end in; every other cube must end outside every zone. */
  moves: Record<string, string>;
}

/** The values that fill an instruction's placeholders. */
export type Filling = Partial<Record<Placeholder, string>>;

/**
 * Why an instruction cannot be drawn in this setting (its wording uses other placeholders than
 * its goal fills, or the cubes and zones leave the goal no case), or null.
 */
export function goalProblem(instruction: { goal: Goal; text: string }, setting: Setting): string | null {
  const info = GOAL_INFO[instruction.goal];
  const used = [...instruction.text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const unknown = used.filter((p) => !info.placeholders.includes(p as Placeholder));
  if (unknown.length) return `uses {${unknown.join('}, {')}}, which goal ${instruction.goal} does not fill (it fills: ${info.placeholders.map((p) => `{${p}}`).join(', ') || 'nothing'})`;
  const missing = info.placeholders.filter((p) => !used.includes(p));
  if (missing.length) return `must say {${missing.join('}, {')}}: goal ${instruction.goal} means ${info.what}`;
  const counts = colourCounts(setting);
  if (instruction.goal === 'colour_to_zone' || instruction.goal === 'missing_zone') {
    if (![...counts.values()].includes(1)) return `goal ${instruction.goal} needs a colour that exactly one cube has`;
  }
  if (instruction.goal === 'ambiguous_colour' && ![...counts.values()].some((n) => n >= 2)) return 'goal ambiguous_colour needs two cubes of one colour';
  return null;
}

/** Draws the values of an instruction's placeholders for a setting (goalProblem passed). */
export function fill(goal: Goal, setting: Setting, absent: readonly string[], rng: Rng): Filling {
  const counts = colourCounts(setting);
  const colours = (keep: (n: number) => boolean) => [...counts].filter(([, n]) => keep(n)).map(([c]) => c);
  const choose = <T>(list: readonly T[]) => list[Math.min(list.length - 1, Math.floor(rng.next() * list.length))];
  const zone = () => choose(Object.values(setting.zones).map((z) => z.colour));
  switch (goal) {
    case 'largest_to_zone':
    case 'smallest_to_zone':
      return { zone: zone() };
    case 'colour_to_nearest':
      return { colour: choose(colours(() => true)) };
    case 'sort_by_colour':
      return {};
    case 'colour_to_zone':
      return { colour: choose(colours((n) => n === 1)), zone: zone() };
    case 'ambiguous_colour':
      return { colour: choose(colours((n) => n >= 2)), zone: zone() };
    case 'missing_cube':
      return { missing: choose(absent), zone: zone() };
    case 'missing_zone':
      return { colour: choose(colours((n) => n === 1)), missing: choose(absent) };
  }
}

/** The wording with its placeholders filled. */
export function wording(text: string, filling: Filling): string {
  return text.replace(/\{(\w+)\}/g, (_, p: Placeholder) => filling[p] ?? `{${p}}`);
}

/** What the instruction wants of these cubes and zones; `base` is where the robot stands [x, y]. */
export function expectedOutcome(goal: Goal, filling: Filling, cubes: readonly Placed[], zones: readonly Placed[], base: readonly [number, number]): Expected {
  if (GOAL_INFO[goal].refuse) return { refuse: true, moves: {} };
  const zoneOf = (colour: string | undefined) => zones.find((z) => z.colour === colour)?.name;
  const moves: Record<string, string> = {};
  const put = (cube: Placed | undefined, zone: string | undefined) => {
    if (cube && zone) moves[cube.name] = zone;
  };
  const bySize = [...cubes].sort((a, b) => a.halfSize - b.halfSize);
  switch (goal) {
    case 'largest_to_zone':
      put(bySize.at(-1), zoneOf(filling.zone));
      break;
    case 'smallest_to_zone':
      put(bySize[0], zoneOf(filling.zone));
      break;
    case 'colour_to_nearest': {
      const nearest = [...zones].sort((a, b) => Math.hypot(a.x - base[0], a.y - base[1]) - Math.hypot(b.x - base[0], b.y - base[1]))[0];
      for (const cube of cubes) if (cube.colour === filling.colour) put(cube, nearest?.name);
      break;
    }
    case 'sort_by_colour':
      for (const cube of cubes) put(cube, zoneOf(cube.colour));
      break;
    case 'colour_to_zone':
      put(cubes.find((c) => c.colour === filling.colour), zoneOf(filling.zone));
      break;
  }
  return { refuse: false, moves };
}

/** How many cubes have each colour. */
function colourCounts(setting: Setting): Map<string, number> {
  const counts = new Map<string, number>();
  for (const cube of Object.values(setting.cubes)) counts.set(cube.colour, (counts.get(cube.colour) ?? 0) + 1);
  return counts;
}
