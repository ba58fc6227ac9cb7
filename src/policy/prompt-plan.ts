/**
 * The plan language of prompt policies: what a planner's reply must be (one JSON object of steps:
 * the steps the task's skill declares, or one refusal), read through zod, then checked against the
 * scene and the robot before anything moves. The schema, the text the model reads and the checks
 * are built from the skill's declaration (`SkillPrimitives.steps`), so this file knows argument
 * kinds, never a skill's words. A reply that is not such a plan is malformed; a plan that names
 * what the scene does not hold, or a target outside the robot's workspace, is unsafe.
 */
import { z } from 'zod';
import type { TaskBrief } from '../robot/link.ts';
import type { RobotConfig } from '../scenario/robot.ts';
import type { PlanAim, PlanArgKind, PlanLanguage, PlanStepSpec } from '../tasks/task.ts';

/** A step as the planner wrote it: its name (`skill`) and its arguments by key; a refusal is `{skill: "refuse", reason}`. */
export interface PlanStep {
  /** The step's name. */
  skill: string;
  /** Its arguments. */
  [arg: string]: string | [number, number];
}

/** A plan as the planner wrote it. */
export interface Plan {
  /** The steps, in order. */
  steps: PlanStep[];
}

/** A reply read as a plan, or why it is not one. */
export type PlanReading = { ok: true; plan: Plan } | { ok: false; kind: 'malformed' | 'unsafe'; reason: string };

/** The step every plan language has: the whole plan, when the instruction cannot be carried out. */
const REFUSE = 'refuse';

const Name = z.string().min(1).max(100);

/** Each argument kind's schema and how the model reads it. */
const ARGS: Readonly<Record<PlanArgKind, { schema: z.ZodType<string | [number, number]>; shown: string }>> = {
  object: { schema: Name, shown: 'NAME' },
  place: { schema: Name, shown: 'PLACE' },
  point: { schema: z.tuple([z.number(), z.number()]), shown: '[X, Y]' },
};

const Refuse = z.strictObject({ skill: z.literal(REFUSE), /** Why the instruction cannot be carried out. */ reason: z.string().min(1).max(1000) });

/** The plan schemas of the languages read so far. */
const schemas = new WeakMap<PlanLanguage, z.ZodType<Plan>>();

/** The zod schema of a plan in `language`: each step one of the language's, or a refusal. */
export function planSchema(language: PlanLanguage): z.ZodType<Plan> {
  const known = schemas.get(language);
  if (known) return known;
  const steps = Object.entries(language).map(([name, spec]) => z.strictObject({
    skill: z.literal(name),
    ...Object.fromEntries(Object.entries(spec.args).map(([key, kind]) => [key, ARGS[kind].schema])),
  }));
  // The language's steps, then the refusal: zod lists them in this order when a step's name is none of them.
  const [first, ...rest] = [...steps, Refuse];
  const schema = z.strictObject({
    /** The steps, in order. */
    steps: z.array(z.discriminatedUnion('skill', [first, ...rest])).min(1, 'must hold at least one step').max(24, 'must hold at most 24 steps'),
  });
  schemas.set(language, schema);
  return schema;
}

/** The plan language in a few lines: what the executor accepts (for people and LLM researchers). */
export function describePlanLanguage(language: PlanLanguage): string {
  const syntax = (name: string, spec: PlanStepSpec) => `{"skill": "${name}"${Object.entries(spec.args).map(([key, kind]) => `, "${key}": ${ARGS[kind].shown}`).join('')}}`;
  const lines = new Map<string, string[]>();
  for (const [name, spec] of Object.entries(language)) lines.set(spec.doc, [...(lines.get(spec.doc) ?? []), syntax(name, spec)]);
  // The descriptions in a column, or three spaces after a longer line.
  const line = (forms: string[], doc: string) => {
    const written = `  ${forms.join(' / ')}`;
    return written.padEnd(Math.max(38, written.length + 3)) + doc;
  };
  return [
    'A plan is one JSON object {"steps": [...]}; each step is one of',
    ...[...lines].map(([doc, forms]) => line(forms, doc)),
    `  {"skill": "${REFUSE}", "reason": TEXT} the whole plan, when the instruction is ambiguous or impossible`,
    'Text around the object (a code fence) is ignored. Anything else is a malformed plan; a name the scene does not hold,',
    'or a target outside the robot\'s workspace, is an unsafe plan; either ends the episode as a planner failure.',
  ].join('\n');
}

/** Reads a reply as a plan in `language`: the first `{` to the last `}` parsed as JSON, then through the schema. */
export function readPlan(text: string, language: PlanLanguage): PlanReading {
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
  const parsed = planSchema(language).safeParse(value);
  if (!parsed.success) {
    return { ok: false, kind: 'malformed', reason: `the plan does not fit the plan language: ${parsed.error.issues.slice(0, 4).map((i) => `${i.path.join('.') || 'plan'} ${i.message}`).join('; ')}` };
  }
  return { ok: true, plan: parsed.data };
}

/** The reason of a plan's refusal; undefined when it does not refuse. */
export function refusalOf(plan: Plan): string | undefined {
  const reason = plan.steps.find((s) => s.skill === REFUSE)?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

/** What a step of `spec` aims at: its arguments' values by kind. */
export function aimOf(step: PlanStep, spec: PlanStepSpec): PlanAim {
  const aim: PlanAim = {};
  for (const [key, kind] of Object.entries(spec.args)) {
    const value = step[key];
    if (kind === 'point') {
      if (typeof value !== 'string') aim.point = value;
    } else if (typeof value === 'string') {
      aim[kind] = value;
    }
  }
  return aim;
}

/** What a step names, after its name or verb in messages: ` OBJECT`, ` at PLACE` (a point is not shown). */
export function namedIn(aim: PlanAim): string {
  return `${aim.object !== undefined ? ` ${aim.object}` : ''}${aim.place !== undefined ? ` at ${aim.place}` : ''}`;
}

type Problem = Extract<PlanReading, { ok: false }>;
const malformed = (reason: string): Problem => ({ ok: false, kind: 'malformed', reason });
const unsafe = (reason: string): Problem => ({ ok: false, kind: 'unsafe', reason });

/**
 * Checks a plan in `language` before anything moves: a refusal stands alone; every object and
 * place it names is in the scene; every target lies inside the robot's workspace; each step finds
 * the hand as it needs it (empty to take, holding to put). `holding` is what the hand holds now.
 * Null when the plan may run.
 */
export function checkPlan(plan: Plan, language: PlanLanguage, brief: TaskBrief, robot: RobotConfig, holding: string | undefined): Problem | null {
  if (refusalOf(plan) !== undefined && plan.steps.length > 1) return malformed('a refuse step must be the whole plan');
  let held = holding;
  for (const [i, step] of plan.steps.entries()) {
    if (step.skill === REFUSE) continue;
    const n = `step ${i + 1} (${step.skill})`;
    if (!Object.hasOwn(language, step.skill)) return malformed(`${n}: this task's skill cannot ${step.skill}`);
    const spec = language[step.skill];
    const aim = aimOf(step, spec);
    const problem = checkAim(n, aim, brief, robot);
    if (problem) return problem;
    const hand = spec.hand;
    if (hand?.change === 'take' && held !== undefined) return malformed(`${n} ${hand.verb}${namedIn(aim)} while the hand holds ${held}`);
    if (hand?.change === 'put' && held === undefined) return malformed(`${n} ${hand.verb}${namedIn(aim)} with nothing in the hand`);
    if (hand) held = hand.change === 'take' ? aim.object : undefined;
  }
  return null;
}

/** Whether what a step aims at is in the scene and inside the robot's workspace: the problem, or null. */
function checkAim(n: string, aim: PlanAim, brief: TaskBrief, robot: RobotConfig): Problem | null {
  const { min, max } = robot.workspace;
  const inside = ([x, y]: readonly [number, number]) => x >= min[0] && x <= max[0] && y >= min[1] && y <= max[1];
  const where = (p: readonly [number, number]) => `(${p[0]}, ${p[1]}) m`;
  const box = `x ${min[0]}..${max[0]} m, y ${min[1]}..${max[1]} m`;
  if (aim.object !== undefined && !Object.hasOwn(brief.objects, aim.object)) {
    return unsafe(`${n} names object '${aim.object}', which the scene does not hold (it holds ${Object.keys(brief.objects).join(', ')})`);
  }
  if (aim.place !== undefined) {
    if (!Object.hasOwn(brief.places, aim.place)) return unsafe(`${n} names place '${aim.place}', which the scene does not have (it has ${Object.keys(brief.places).join(', ')})`);
    const center = brief.places[aim.place].center;
    if (!inside(center)) return unsafe(`${n}: place ${aim.place} at ${where(center)} is outside the robot's workspace (${box})`);
  }
  if (aim.point && (!aim.point.every(Number.isFinite) || !inside(aim.point))) return unsafe(`${n}: target ${where(aim.point)} is outside the robot's workspace (${box})`);
  return null;
}
