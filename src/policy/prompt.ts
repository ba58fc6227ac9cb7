/**
 * Prompt policies: the inner agent is a language planner. At the start of an episode it reads the
 * task's brief (the instruction, the scene's facts) with the observed poses, asks a model for a
 * plan in the plan language, checks it, and has the task's skill carry it out; after a failed step
 * it may ask again (`replan`). What is searched is the config (src/scenario/prompt.ts); what an
 * episode costs in calls, tokens, dollars and seconds goes out as its metrics.
 *
 * A plan that is malformed (not JSON, not the plan language, cut off) or unsafe (an unknown object
 * or place, a target outside the workspace) ends the episode at once as a planner failure with the
 * reason, which the scorer reads from the trace meta; nothing has moved.
 */
import type { Message } from '../llm/messages.ts';
import { ReplyCache } from '../llm/reply-cache.ts';
import type { Action, Observation, TaskBrief } from '../robot/link.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { PromptConfig } from '../scenario/prompt.ts';
import type { PlanLanguage } from '../tasks/task.ts';
import type { Policy, PolicyContext, PolicyDecision } from './policy.ts';
import { PlanExecutor } from './prompt-executor.ts';
import { checkPlan, describePlanLanguage, readPlan, refusalOf, type Plan, type PlanReading } from './prompt-plan.ts';
import { Planner } from './prompt-planner.ts';
import { describeScene } from './prompt-scene.ts';

/** Re-plans after failed steps, at most, when the config re-plans. */
export const MAX_REPLANS = 2;

export class PromptPolicy implements Policy {
  private readonly planner: Planner;
  private executor: PlanExecutor | undefined;
  private brief: TaskBrief | undefined;
  private readonly conversation: Message[] = [];
  private readonly record: { plan?: Plan['steps']; refused?: string; failed?: string; notes: string[] } = { notes: [] };
  /** The plan language of the task's skill. */
  private language: PlanLanguage = {};
  private replans = 0;
  private planSteps = 0;
  private finished = false;

  constructor(
    private readonly config: PromptConfig,
    private readonly context: PolicyContext,
  ) {
    this.planner = new Planner(config, context.cacheDir ? new ReplyCache(context.cacheDir) : undefined);
  }

  get phase(): string {
    if (this.record.failed !== undefined) return 'planner failure';
    if (this.record.refused !== undefined) return 'refused';
    return this.executor?.phase ?? 'plan';
  }

  get done(): boolean {
    return this.finished;
  }

  async reset(obs: Observation): Promise<void> {
    const { scenario } = this.context;
    const family = scenario.taskDef.controllers[scenario.policy.controller];
    const skill = family.skill;
    if (!skill?.steps) throw new Error(`Controller '${scenario.policy.controller}' has no skill a planner can aim; a prompt policy cannot drive it.`);
    const brief = obs.brief;
    if (!brief) {
      throw new Error(`A prompt policy needs the task's brief (the instruction and the scene's facts) in the first observation, and task ${scenario.task.kind} gives none here. The in-process sim and \`arbor sim-serve\` brief it at reset; a robot whose own reset service sends no brief cannot run a prompt policy yet.`);
    }
    this.brief = brief;
    this.language = skill.steps;
    const params = Object.fromEntries(Object.entries(scenario.policy.params).map(([name, p]) => [name, p.default]));
    this.executor = new PlanExecutor(skill.create(this.context, scenario.task), skill.steps, brief, params);
    this.executor.start(obs);
    for (const example of this.config.examples) this.conversation.push(text('user', example.request), text('assistant', example.reply));
    this.conversation.push(text('user', `Instruction: ${brief.instruction}\n\nScene: ${describeScene(brief, obs, this.config.scene)}`));
    await this.plan();
  }

  async act(obs: Observation): Promise<Action> {
    const executor = this.executor;
    if (!executor) throw new Error('act() was called before reset().');
    if (this.finished) return executor.hold();
    const { action, failure } = executor.tick(obs);
    if (failure) {
      this.record.notes.push(failure);
      if (this.config.replan && this.replans < MAX_REPLANS) {
        this.replans++;
        const scene = describeScene(this.brief!, obs, this.config.scene);
        this.conversation.push(text('user', `${failure}. The scene now: ${scene}\n\nReply with a new plan for what is left of the instruction.`));
        await this.plan();
      } else {
        this.finished = true;
      }
    } else if (executor.finished) {
      this.finished = true;
    }
    return action;
  }

  metrics(): Record<string, number> {
    return { ...this.planner.totals, replans: this.replans, plan_steps: this.planSteps };
  }

  decision(): PolicyDecision {
    return structuredClone(this.record);
  }

  dispose(): void {
    this.executor = undefined;
  }

  /** Asks for a plan and follows it, or ends the episode: a refusal, or a planner failure. */
  private async plan(): Promise<void> {
    const reply = await this.planner.ask(this.conversation);
    this.conversation.push(text('assistant', reply.text.trim() || '(no reply)'));
    const reading: PlanReading = reply.cutOff
      ? { ok: false, kind: 'malformed', reason: `the reply was cut off at max_tokens = ${this.config.max_tokens}: ${JSON.stringify(reply.text.slice(0, 120))}` }
      : readPlan(reply.text, this.language);
    const executor = this.executor!;
    if (!reading.ok) return this.fail(reading);
    const problem = checkPlan(reading.plan, this.language, this.brief!, this.context.scenario.robotConfig, executor.held);
    if (problem) return this.fail(problem);
    const plan = reading.plan;
    if (this.record.plan) this.record.notes.push(`new plan: ${JSON.stringify(plan.steps)}`);
    this.record.plan = plan.steps;
    this.planSteps += plan.steps.length;
    const refusal = refusalOf(plan);
    if (refusal !== undefined) {
      this.record.refused = refusal;
      this.finished = true;
      return;
    }
    executor.follow(plan.steps);
  }

  /** Ends the episode as a planner failure: nothing more moves. */
  private fail(problem: Extract<PlanReading, { ok: false }>): void {
    this.record.failed = `${problem.kind} plan: ${problem.reason}`;
    this.finished = true;
  }
}

/** What a prompt config is and how it runs, for people and LLM researchers. */
export function promptPolicyGuide(scenario: LoadedScenario): string {
  const language = scenario.taskDef.controllers[scenario.policy.controller].skill?.steps;
  const steps = Object.entries(language ?? {});
  const checked = steps.flatMap(([, spec]) => (spec.check ? [spec.check.doc] : []));
  return [
    'A prompt policy is a language planner. At the start of each episode it sends the model the system prompt, the few-shot',
    'examples (earlier user/assistant turns), then "Instruction: <the episode\'s instruction>\n\nScene: <the scene>" and reads a plan from the reply;',
    `the task's skill carries the plan out. With replan, a failed step${checked.length ? ` (${checked.join(', ')})` : ''}`,
    `is reported to the model with the scene as it is then, and a new plan is asked for (at most ${MAX_REPLANS} times).`,
    'config = {model, base_url?, temperature (0..1), max_tokens (16..8192), system, examples: [{request, reply}], scene: {format: json|prose,',
    '  facts: subset of [colour, size, position, distance], units: m|cm|mm}, replan: bool, price?: {input, output} $/Mtok}.',
    '  The scene names every object and place; facts says what else it tells (distance: from the robot\'s base). A fact left out is unknown to the model.',
    ...(language ? [describePlanLanguage(language)] : []),
    ...(steps.length ? [`Each step runs the skill's phases: ${steps.map(([skill, spec]) => `${skill} = ${spec.phases.join(' → ')}`).join('; ')}.`] : []),
    'Each episode records the planner\'s calls, tokens (input, output, cache reads and writes, the largest context), dollars and seconds as metrics',
    '(llm_calls, cached_calls, input_tokens, output_tokens, context_tokens, planner_usd, planner_s); the score may weigh dollars and seconds.',
    'At temperature 0 the study caches each call: a config that sends the same prompts again costs nothing the second time.',
  ].join('\n');
}

function text(role: Message['role'], body: string): Message {
  return { role, content: [{ type: 'text', text: body }] };
}
