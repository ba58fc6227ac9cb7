/**
 * Code policies: a TypeScript or JavaScript controller module, written by a researcher (or a
 * person), run in the QuickJS sandbox. The module exports `act(obs) → action` and optionally
 * `reset(obs)`; inside it sees the helper API `arbor` (robot facts, forward and inverse
 * kinematics, the task's skill phases as primitives) and nothing of the host. `codePolicyGuide`
 * documents the contract for people and LLM researchers alike.
 */
import { createHash } from 'node:crypto';
import { buildSync, transformSync, type Message } from 'esbuild';
import { z } from 'zod';
import type { Action, Observation } from '../robot/link.ts';
import { ValidationError } from '../scenario/validate.ts';
import type { TaskSkill } from '../tasks/task.ts';
import { downwardRotation, dlsStep, poseError, solveIk, type ToolTarget } from './ik.ts';
import type { Policy, PolicyContext } from './policy.ts';
import { Sandbox, type HostFunctions } from './sandbox.ts';
import type { LoadedScenario } from '../scenario/load.ts';

/** Source languages a code policy may be written in. */
export const CODE_LANGUAGES = ['ts', 'js'] as const;
export type CodeLanguage = (typeof CODE_LANGUAGES)[number];

/**
 * Compiled scripts by the hash of language and source: a candidate is compiled once per process,
 * when it is checked, and not again for each of its episodes.
 */
const compiled = new Map<string, string>();
const COMPILED_KEPT = 256;
let compilations = 0;

/** How many modules this process has compiled (cache misses): tests and benchmarks count them. */
export function compileCount(): number {
  return compilations;
}

/**
 * Compiles a policy module to a plain script for the sandbox: types stripped, no imports allowed,
 * `act` must be exported. Throws `ValidationError` with the compiler's messages (line and column).
 */
export function compileCode(source: string, language: CodeLanguage, file = 'policy'): string {
  const key = createHash('sha256').update(language).update('\0').update(source).digest('hex');
  const hit = compiled.get(key);
  if (hit !== undefined) return hit;
  compilations++;
  const sourcefile = `${file}.${language}`;
  let esm: string;
  let exports: string[];
  try {
    // Bundling with nowhere to resolve from turns every import into an error that names it.
    const built = buildSync({
      stdin: { contents: source, loader: language, sourcefile }, bundle: true, format: 'esm', platform: 'neutral',
      target: 'es2020', write: false, metafile: true, logLevel: 'silent',
    });
    esm = built.outputFiles[0].text;
    exports = Object.values(built.metafile.outputs)[0]?.exports ?? [];
  } catch (err) {
    throw compileError(err, file);
  }
  if (!exports.includes('act')) {
    throw new ValidationError([{ file, path: 'source', message: `exports no act() (it exports: ${exports.join(', ') || 'nothing'})`, hint: 'write `export function act(obs) { ... return {position, gripperWidth}; }`' }]);
  }
  let script: string;
  try {
    script = transformSync(esm, { loader: 'js', format: 'iife', globalName: '__policy', target: 'es2020', logLevel: 'silent' }).code;
  } catch (err) {
    throw compileError(err, file);
  }
  script += '\nglobalThis.__exports = __policy;\n';
  if (compiled.size >= COMPILED_KEPT) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, script);
  return script;
}

function compileError(err: unknown, file: string): ValidationError {
  const messages = (err as { errors?: Message[] }).errors;
  if (!messages?.length) return new ValidationError([{ file, path: 'source', message: `does not compile: ${(err as Error).message}` }]);
  return new ValidationError(
    messages.slice(0, 8).map((m) => ({
      file,
      path: 'source',
      message: `does not compile${m.location ? ` at line ${m.location.line}, column ${m.location.column + 1}` : ''}: ${m.text}`,
      hint: /Could not resolve/.test(m.text) ? 'a policy cannot import anything; the helper API is the global `arbor`' : (m.location?.lineText.trim().slice(0, 120) ?? undefined),
    })),
  );
}

/** A tool target as the helper API takes it: a position and the tool pointing down, turned by `yaw`. */
const Target = z.object({ pos: z.tuple([z.number(), z.number(), z.number()]), yaw: z.number().default(0) });
const Joints = (n: number) => z.array(z.number()).length(n, `must list ${n} joint values`);
const IkOptions = z.object({ gain: z.number().min(0).max(1).default(1), damping: z.number().min(0).max(10).default(0.1) }).default({ gain: 1, damping: 0.1 });

/** What `act` must return. */
function actionSchema(joints: number) {
  return z.object({
    /** Joint position targets (rad). */
    position: z.array(z.number()).length(joints, `must list ${joints} joint targets`),
    /** Gripper opening target (m). */
    gripperWidth: z.number(),
    /** Most squeezing force (N). */
    gripperEffort: z.number().nonnegative().optional(),
    /** The phase the policy is in, for traces and evidence. */
    phase: z.string().max(60).optional(),
    /** True once the policy has nothing more to do. */
    done: z.boolean().optional(),
  });
}

/** A policy running a compiled module in a fresh sandbox per episode. */
export class CodePolicy implements Policy {
  phase = 'start';
  done = false;
  private sandbox: Sandbox | undefined;
  private observation: Observation | undefined;
  private readonly skill: TaskSkill | undefined;
  private readonly defaults: Record<string, number>;
  private readonly action: ReturnType<typeof actionSchema>;
  private skillPhase: string | undefined;
  /** The skill parameters `arbor.skill.configure` set for this episode (defaults until then). */
  private configured: Record<string, number>;

  constructor(
    private readonly script: string,
    private readonly context: PolicyContext,
  ) {
    const { scenario } = context;
    this.skill = scenario.taskDef.controllers[scenario.policy.controller].skill?.create(context, scenario.task);
    this.defaults = Object.fromEntries(Object.entries(scenario.policy.params).map(([k, p]) => [k, p.default]));
    this.action = actionSchema(scenario.robotConfig.joints.length);
    this.configured = this.defaults;
  }

  async reset(observation: Observation): Promise<void> {
    this.sandbox?.dispose();
    this.observation = observation;
    this.phase = 'start';
    this.done = false;
    this.skillPhase = undefined;
    this.configured = this.defaults;
    this.skill?.reset(observation, this.defaults);
    this.sandbox = await Sandbox.create(this.script, this.host(), { prelude: helperPrelude(this.context.scenario, this.skill) });
    if (this.sandbox.has('reset')) this.sandbox.call('reset', observationJson(observation));
  }

  act(observation: Observation): Action {
    if (!this.sandbox) throw new Error('act() was called before reset(); the episode runner resets every policy first.');
    this.observation = observation;
    const raw = this.sandbox.call('act', observationJson(observation));
    const parsed = this.action.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`The policy's act() returned ${JSON.stringify(raw)?.slice(0, 200)}: ${issue.path.join('.') || 'the action'} ${issue.message}. Return {position: [one target per joint], gripperWidth}.`);
    }
    const a = parsed.data;
    this.phase = a.phase ?? this.skillPhase ?? 'act';
    this.done = a.done === true;
    return { position: Float64Array.from(a.position), gripperWidth: a.gripperWidth, ...(a.gripperEffort !== undefined ? { gripperEffort: a.gripperEffort } : {}) };
  }

  dispose(): void {
    this.sandbox?.dispose();
    this.sandbox = undefined;
  }

  /** The host side of the helper API: every argument checked, every result plain JSON. */
  private host(): HostFunctions {
    const { kinematics, scenario } = this.context;
    const joints = scenario.robotConfig.joints;
    const n = joints.length;
    const limits = joints.map((j) => j.position);
    const toTarget = (value: unknown): ToolTarget => {
      const t = parse(Target, value, 'target');
      return { pos: t.pos, mat: downwardRotation(t.yaw) };
    };
    const current = () => this.observation!;
    return {
      fk: (q) => {
        const pose = kinematics.pose(Float64Array.from(parse(Joints(n), q ?? Array.from(current().position), 'q')));
        return { pos: Array.from(pose.pos), mat: Array.from(pose.mat) };
      },
      ikStep: (q, target, options) => {
        const joints0 = Float64Array.from(parse(Joints(n), q ?? Array.from(current().position), 'q'));
        const { gain, damping } = parse(IkOptions, options ?? undefined, 'options');
        const { pos, mat, jac } = kinematics.jacobian(joints0);
        const dq = dlsStep(jac, poseError(pos, mat, toTarget(target)), damping);
        return Array.from(joints0, (v, i) => Math.min(limits[i][1], Math.max(limits[i][0], v + gain * dq[i])));
      },
      solveIk: (q, target, options) => {
        const joints0 = parse(Joints(n), q ?? Array.from(current().position), 'q');
        const { damping } = parse(IkOptions, options ?? undefined, 'options');
        const solved = solveIk(kinematics, joints0, toTarget(target), { limits, damping });
        return { q: Array.from(solved.q), positionError: solved.positionError, orientationError: solved.orientationError };
      },
      skillConfigure: (params) => {
        this.configured = this.withParams(params, this.defaults);
        return this.configured;
      },
      skillStep: (phase, params) => {
        if (!this.skill) throw new Error(`Controller '${scenario.policy.controller}' has no skill primitives; use arbor.ikStep and your own phases.`);
        if (typeof phase !== 'string') throw new Error('arbor.skill.step(phase, params?) needs a phase name.');
        const result = this.skill.step(phase, current(), this.withParams(params, this.configured));
        this.skillPhase = phase;
        return { action: { position: Array.from(result.action.position), gripperWidth: result.action.gripperWidth }, done: result.done };
      },
    };
  }

  /** `base` with `overrides` (known names, values within their ranges). */
  private withParams(overrides: unknown, base: Record<string, number>): Record<string, number> {
    if (overrides === undefined || overrides === null) return base;
    if (typeof overrides !== 'object' || Array.isArray(overrides)) throw new Error('skill parameters must be an object {name: value}.');
    const space = this.context.scenario.policy.params;
    const params = { ...base };
    for (const [name, value] of Object.entries(overrides)) {
      const spec = Object.hasOwn(space, name) ? space[name] : undefined;
      if (!spec) throw new Error(`'${name}' is not a skill parameter; known: ${Object.keys(space).join(', ')}.`);
      if (typeof value !== 'number' || !Number.isFinite(value) || value < spec.min || value > spec.max) {
        throw new Error(`skill parameter ${name} = ${JSON.stringify(value)} must be a number in [${spec.min}, ${spec.max}].`);
      }
      params[name] = value;
    }
    return params;
  }
}

/** Parses a helper argument or throws an error the policy's code sees (and may catch). */
function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(`${what}${issue.path.length ? `.${issue.path.join('.')}` : ''} ${issue.message}.`);
}

/** An observation as plain JSON (typed arrays become arrays). */
function observationJson(o: Observation): unknown {
  return {
    time: o.time, position: Array.from(o.position), velocity: Array.from(o.velocity), effort: Array.from(o.effort),
    gripperWidth: o.gripperWidth, touch: o.touch, wrench: Array.from(o.wrench), objects: o.objects,
  };
}

/**
 * The helper API as the sandbox sees it: facts as frozen JSON, functions that call the host, and
 * a seeded `Math.random` (the same stream every episode, so episodes stay deterministic).
 */
function helperPrelude(scenario: LoadedScenario, skill: TaskSkill | undefined): string {
  const robot = scenario.robotConfig;
  const phases = scenario.taskDef.controllers[scenario.policy.controller].skill?.phases ?? {};
  const facts = {
    joints: robot.joints.map((j) => ({ name: j.name, min: j.position[0], max: j.position[1] })),
    gripper: robot.gripper ? { open: robot.gripper.width[1], closed: robot.gripper.width[0] } : null,
    controlPeriod: 1 / scenario.episode.control_rate,
    objects: scenario.taskDef.objects(scenario.task),
    skill: skill ? { phases: Object.keys(phases), params: Object.fromEntries(Object.entries(scenario.policy.params).map(([k, p]) => [k, p.default])) } : null,
  };
  return `(() => {
  const host = globalThis.__host;
  delete globalThis.__host;
  const call = (name, ...args) => JSON.parse(host(name, JSON.stringify(args)));
  const facts = ${JSON.stringify(facts)};
  const deepFreeze = (o) => { if (o && typeof o === 'object') { Object.values(o).forEach(deepFreeze); Object.freeze(o); } return o; };
  const skill = facts.skill && Object.freeze({
    phases: facts.skill.phases,
    params: facts.skill.params,
    configure: (params) => call('skillConfigure', params),
    step: (phase, params) => call('skillStep', phase, params),
  });
  globalThis.arbor = deepFreeze({
    joints: facts.joints, gripper: facts.gripper, controlPeriod: facts.controlPeriod, objects: facts.objects,
    fk: (q) => call('fk', q),
    ikStep: (target, q, options) => call('ikStep', q, target, options),
    solveIk: (target, q, options) => call('solveIk', q, target, options),
    skill,
  });
  let seed = 0x9e3779b9;
  Math.random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
})();`;
}

/** The code-policy contract and helper API in words, for people, docs and LLM researchers. */
export function codePolicyGuide(scenario: LoadedScenario): string {
  const robot = scenario.robotConfig;
  const family = scenario.taskDef.controllers[scenario.policy.controller];
  const skill = Object.entries(family.skill?.phases ?? {});
  const lines = [
    'A code policy is a TypeScript or JavaScript module, run in a sandbox (QuickJS in WebAssembly) once per control tick',
    `(${scenario.episode.control_rate} Hz, ${scenario.episode.duration} s per episode). It exports:`,
    '  export function reset(obs) { ... }          // optional: the first observation of an episode',
    '  export function act(obs) { return {position, gripperWidth, phase?, done?}; }',
    `obs = {time, position[${robot.joints.length}], velocity[], effort[], gripperWidth, touch: [left, right] (N), wrench[6], objects: {name: {position: [x,y,z], orientation: [x,y,z,w]}}}`,
    `action.position: ${robot.joints.length} joint position targets (rad), in order ${robot.joints.map((j) => j.name).join(', ')}; gripperWidth: opening target (m)` +
      `${robot.gripper ? `, ${robot.gripper.width[0]} closed to ${robot.gripper.width[1]} open` : ''}; phase: a name for traces and evidence; done: true once finished.`,
    'Keep state in module-level variables (reset() clears them). Each act() call may take at most 100 ms and the module 32 MB;',
    'there is no import, require, process, fetch, timers or Date; Math.random is seeded the same every episode.',
    'The helper API is the global `arbor`:',
    '  arbor.joints [{name, min, max}], arbor.gripper {open, closed} | null, arbor.controlPeriod (s), arbor.objects (names)',
    '  arbor.fk(q?) → {pos: [x,y,z], mat: [9 row-major]}: the tool pose for joints q (default: the measured ones)',
    '  arbor.ikStep({pos: [x,y,z], yaw?}, q?, {gain?: 1, damping?: 0.1}?) → joints: one damped least-squares step from q toward the tool pose (tool pointing down, turned by yaw), clamped to the joint limits',
    '  arbor.solveIk({pos, yaw?}, q?, {damping?}?) → {q, positionError, orientationError}: iterated to convergence',
  ];
  if (skill.length) {
    lines.push(
      '  arbor.skill.configure(params) → the skill parameters from now on in this episode: the scenario defaults (arbor.skill.params) overridden by params',
      '  arbor.skill.step(phase, params?) → {action, done}: one tick of the built-in skill phase, with params overriding the configured ones for this tick',
      '    (phases called in order with the same params act exactly as the params controller). Phases, in order (arbor.skill.phases):',
      ...skill.map(([name, what]) => `    ${name}: ${what}`),
      '    Example: let phase = 0; const order = arbor.skill.phases;',
      '             export function reset() { phase = 0; arbor.skill.configure({grasp_depth: 0.02}); }',
      "             export function act(obs) { const r = arbor.skill.step(order[phase]); if (r.done && phase < order.length - 1) phase++; return {...r.action, done: order[phase] === 'done'}; }",
    );
  }
  return lines.join('\n');
}
