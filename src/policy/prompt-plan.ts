/**
 * The plan language of prompt policies: what a planner's reply must be (one JSON object of steps:
 * pick, place, move, open, close, refuse), read through zod, then checked against the scene and
 * the robot before anything moves. A reply that is not such a plan is malformed; a plan that
 * names what the scene does not hold, or a target outside the robot's workspace, is unsafe.
 */
import { z } from 'zod';
import type { TaskBrief } from '../robot/link.ts';
import type { RobotConfig } from '../scenario/robot.ts';
import type { PlanSkill } from '../tasks/task.ts';

const Name = z.string().min(1).max(100);

export const PlanStep = z.discriminatedUnion('skill', [
  z.strictObject({ skill: z.literal('pick'), /** The object to pick up. */ object: Name }),
  z.strictObject({ skill: z.literal('place'), /** The place to put the held object in. */ at: Name }),
  z.strictObject({ skill: z.literal('move'), /** Where to carry the hand: [x, y] (m, world). */ to: z.tuple([z.number(), z.number()]) }),
  z.strictObject({ skill: z.literal('open') }),
  z.strictObject({ skill: z.literal('close') }),
  z.strictObject({ skill: z.literal('refuse'), /** Why the instruction cannot be carried out. */ reason: z.string().min(1).max(1000) }),
]);
export type PlanStep = z.infer<typeof PlanStep>;

export const Plan = z.strictObject({
  /** The steps, in order. */
  steps: z.array(PlanStep).min(1, 'must hold at least one step').max(24, 'must hold at most 24 steps'),
});
export type Plan = z.infer<typeof Plan>;

/** A reply read as a plan, or why it is not one. */
export type PlanReading = { ok: true; plan: Plan } | { ok: false; kind: 'malformed' | 'unsafe'; reason: string };

/** The plan language in a few lines: what the executor accepts (for people and LLM researchers). */
export const PLAN_LANGUAGE = [
  'A plan is one JSON object {"steps": [...]}; each step is one of',
  '  {"skill": "pick", "object": NAME}   pick up an object (the hand must be empty)',
  '  {"skill": "place", "at": PLACE}     put the held object down inside a place (zone)',
  '  {"skill": "move", "to": [X, Y]}     carry the hand to above (X, Y), in metres, world frame',
  '  {"skill": "open"} / {"skill": "close"}   open or close the gripper',
  '  {"skill": "refuse", "reason": TEXT} the whole plan, when the instruction is ambiguous or impossible',
  'Text around the object (a code fence) is ignored. Anything else is a malformed plan; a name the scene does not hold,',
  'or a target outside the robot\'s workspace, is an unsafe plan; either ends the episode as a planner failure.',
].join('\n');

/** Reads a reply as a plan: the first `{` to the last `}` parsed as JSON, then through the schema. */
export function readPlan(text: string): PlanReading {
  const start = text.indexOf('{');
  const end = text.lastIndexOf('}');
  const shown = JSON.stringify(text.trim().slice(0, 160));
  if (start < 0 || end <= start) return { ok: false, kind: 'malformed', reason: `the reply holds no JSON object: ${shown}` };
  let value: unknown;
  try {
    value = JSON.parse(text.slice(start, end + 1));
  } catch (err) {
    return { ok: false, kind: 'malformed', reason: `the reply is not valid JSON (${(err as Error).message}): ${shown}` };
  }
  const parsed = Plan.safeParse(value);
  if (!parsed.success) {
    return { ok: false, kind: 'malformed', reason: `the plan does not fit the plan language: ${parsed.error.issues.slice(0, 4).map((i) => `${i.path.join('.') || 'plan'} ${i.message}`).join('; ')}` };
  }
  return { ok: true, plan: parsed.data };
}

/**
 * Checks a plan before anything moves: a refusal stands alone; every object and place it names is
 * in the scene; every target lies inside the robot's workspace; it picks only with an empty hand
 * and places only what it holds. `holding` is what the hand holds now. Null when the plan may run.
 */
export function checkPlan(plan: Plan, brief: TaskBrief, robot: RobotConfig, holding: string | undefined, steps: ReadonlySet<PlanSkill>): Extract<PlanReading, { ok: false }> | null {
  const malformed = (reason: string) => ({ ok: false as const, kind: 'malformed' as const, reason });
  const unsafe = (reason: string) => ({ ok: false as const, kind: 'unsafe' as const, reason });
  const { min, max } = robot.workspace;
  const inside = ([x, y]: readonly [number, number]) => x >= min[0] && x <= max[0] && y >= min[1] && y <= max[1];
  const where = (p: readonly [number, number]) => `(${p[0]}, ${p[1]}) m`;
  const box = `x ${min[0]}..${max[0]} m, y ${min[1]}..${max[1]} m`;
  if (plan.steps.some((s) => s.skill === 'refuse') && plan.steps.length > 1) return malformed('a refuse step must be the whole plan');
  let held = holding;
  for (const [i, step] of plan.steps.entries()) {
    const n = `step ${i + 1} (${step.skill})`;
    if (step.skill !== 'refuse' && !steps.has(step.skill)) return malformed(`${n}: this task's skill cannot ${step.skill}`);
    switch (step.skill) {
      case 'pick':
        if (!Object.hasOwn(brief.objects, step.object)) return unsafe(`${n} names object '${step.object}', which the scene does not hold (it holds ${Object.keys(brief.objects).join(', ')})`);
        if (held !== undefined) return malformed(`${n} picks ${step.object} while the hand holds ${held}`);
        held = step.object;
        break;
      case 'place': {
        if (!Object.hasOwn(brief.places, step.at)) return unsafe(`${n} names place '${step.at}', which the scene does not have (it has ${Object.keys(brief.places).join(', ')})`);
        const center = brief.places[step.at].center;
        if (!inside(center)) return unsafe(`${n}: place ${step.at} at ${where(center)} is outside the robot's workspace (${box})`);
        if (held === undefined) return malformed(`${n} places at ${step.at} with nothing in the hand`);
        held = undefined;
        break;
      }
      case 'move':
        if (!step.to.every(Number.isFinite) || !inside(step.to)) return unsafe(`${n}: target ${where(step.to)} is outside the robot's workspace (${box})`);
        break;
      case 'open':
        held = undefined;
        break;
    }
  }
  return null;
}
