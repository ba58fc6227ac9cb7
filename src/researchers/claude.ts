/**
 * The Claude researcher: each generation, Claude reads a brief (the best so far, the last
 * generation's per-term outcomes and failure evidence, the results table), may look closer with
 * tools (the scenario, the results, an episode's evidence, a few probe episodes of a draft), and
 * proposes K candidates, parameters or controller code, with a rationale each.
 *
 * Every generation is a fresh conversation over the same cached prefix (the harness text and the
 * tool definitions); what carries over is the study itself, as autoresearch's results log does.
 * The conversation in progress is part of `state()` and the study saves it after every reply
 * (`tools.checkpoint`), so a killed study resumes it without paying for an answer twice; once the
 * proposals are stored, a resumed study evaluates them and never asks for that generation again.
 */
import { z } from 'zod';
import { LlmClient } from '../llm/anthropic.ts';
import { llmSettings } from '../llm/settings.ts';
import { NO_USAGE, addUsage } from '../llm/prices.ts';
import { Conversation, runToolLoop, type Tool, type ToolOutcome } from '../llm/tool-loop.ts';
import { CODE_LANGUAGES } from '../policy/code.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { POLICY_KINDS } from '../policy/kinds.ts';
import { failureEvidence, generationBrief, harnessText, resultsTable, scenarioBrief, type HarnessFacts } from './claude-prompt.ts';
import type { Proposal, Researcher, ResearcherSettings, StudyHistory } from './researcher.ts';

/** Proposals per generation when the study does not say (Eureka's K). */
const DEFAULT_BATCH = 4;
/** Bounds of one generation's conversation. */
const LIMITS = { turns: 10, repairs: 3, nudges: 2 };
/** Probe seeds live far above training and validation seeds. */
const PROBE_SEED_BASE = 1_500_000_000;
/** Failed episodes shown per candidate in a brief. */
const EVIDENCE_PER_CANDIDATE = 2;

const StoredProposal = z.object({ kind: z.enum(POLICY_KINDS), body: z.record(z.string(), z.unknown()), rationale: z.string(), invalid: z.string().optional() });

/** Everything the researcher keeps between calls (JSON, read back through zod). */
const ClaudeState = z.object({
  /** Dollars spent over the whole study. */
  spentUsd: z.number().min(0).default(0),
  /** Model calls answered over the whole study. */
  calls: z.number().int().min(0).default(0),
  /** Tokens over the whole study. */
  usage: z.object({ input: z.number(), output: z.number(), cacheWrite: z.number(), cacheRead: z.number() }).default(NO_USAGE),
  /** The generation being asked for, while it is. */
  pending: z
    .object({
      /** Its number. */
      generation: z.number().int().min(1),
      /** The conversation so far. */
      conversation: Conversation,
      /** Proposals accepted by the propose tool (the generation's answer, once there are any). */
      proposals: z.array(StoredProposal).default([]),
      /** Probe episodes run in this generation. */
      probes: z.number().int().min(0).default(0),
    })
    .nullable()
    .default(null),
});
type ClaudeState = z.infer<typeof ClaudeState>;

/** A candidate as the model writes it in `propose` and `probe`. */
const CandidateInput = z
  .object({
    kind: z.enum(['params', 'code', 'prompt']).describe('params: controller parameter values; code: a controller module; prompt: a language planner config'),
    params: z.record(z.string(), z.number()).optional().describe('kind params: {name: value}, each within its [min, max]; missing ones take their defaults'),
    source: z.string().optional().describe('kind code: the module source, exporting act(obs) and optionally reset(obs)'),
    language: z.enum(CODE_LANGUAGES).optional().describe('kind code: ts (default) or js'),
    config: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("kind prompt: the planner config {model, temperature, max_tokens, system, examples, scene: {format, facts, units}, replan}; fields left out take the baseline config's"),
  })
  .superRefine((c, ctx) => {
    if (c.kind === 'params' && !c.params) ctx.addIssue({ code: 'custom', path: ['params'], message: 'is required for kind params' });
    if (c.kind === 'code' && !c.source) ctx.addIssue({ code: 'custom', path: ['source'], message: 'is required for kind code' });
    if (c.kind === 'prompt' && !c.config) ctx.addIssue({ code: 'custom', path: ['config'], message: 'is required for kind prompt' });
  });
type CandidateInput = z.infer<typeof CandidateInput>;

/** A candidate's policy body as the study stores it. */
function bodyOf(c: CandidateInput): Record<string, unknown> {
  switch (c.kind) {
    case 'params':
      return { params: c.params ?? {} };
    case 'code':
      return { source: c.source ?? '', ...(c.language ? { language: c.language } : {}) };
    case 'prompt':
      return { config: c.config ?? {} };
  }
}

export class ClaudeResearcher implements Researcher {
  readonly name = 'claude';
  readonly batchSize: number;
  private state_: ClaudeState;
  private readonly facts: HarnessFacts;
  private readonly system: string;
  /** What had been spent before this process's client started counting. */
  private readonly before: Pick<ClaudeState, 'spentUsd' | 'calls' | 'usage'>;

  constructor(
    private readonly client: LlmClient,
    scenario: LoadedScenario,
    config: ResearcherSettings,
    state: unknown,
  ) {
    const parsed = ClaudeState.safeParse(state ?? {});
    if (!parsed.success) throw new Error(`The saved state of the claude researcher cannot be read (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}).`);
    this.state_ = parsed.data;
    this.before = { spentUsd: parsed.data.spentUsd, calls: parsed.data.calls, usage: parsed.data.usage };
    this.batchSize = config.batch ?? DEFAULT_BATCH;
    this.facts = { batch: this.batchSize, probes: config.probes, kinds: config.kinds, seedsPerCandidate: config.seedsPerCandidate };
    this.system = harnessText(scenario, this.facts);
  }

  async ask(history: StudyHistory): Promise<Proposal[]> {
    const g = history.generation;
    if (this.state_.pending?.generation !== g) {
      const evidence = (candidate: number) => failureEvidence(history.tools.episodes(candidate, 16), EVIDENCE_PER_CANDIDATE);
      const brief = generationBrief(history, this.facts, evidence);
      this.state_.pending = { generation: g, conversation: { messages: [{ role: 'user', content: [{ type: 'text', text: brief }] }], turns: 0, repairs: 0, nudges: 0 }, proposals: [], probes: 0 };
    }
    const pending = this.state_.pending!;
    if (pending.proposals.length === 0) {
      const spentAtStart = this.client.costUsd;
      await runToolLoop({
        client: this.client,
        system: this.system,
        tools: this.tools(history, pending),
        conversation: pending.conversation,
        limits: LIMITS,
        nudge: `Call propose with 1 to ${this.batchSize} candidates.`,
        onStep: () => {
          this.sync();
          history.tools.checkpoint();
        },
        // Stop calling once this generation's spending reaches what the dollar budget has left.
        mayCall: () => this.client.costUsd - spentAtStart < history.budget.dollars,
      });
    }
    this.sync();
    const proposals = pending.proposals;
    this.state_.pending = null;
    return proposals;
  }

  tell(): void {
    // The next brief is made from the study's own record of the outcomes (history.last).
  }

  state(): unknown {
    this.sync();
    return structuredClone(this.state_);
  }

  spent(): number {
    return this.before.spentUsd + this.client.costUsd;
  }

  /** Brings the totals in the state up to the client's counters. */
  private sync(): void {
    this.state_.spentUsd = this.spent();
    this.state_.calls = this.before.calls + this.client.calls;
    this.state_.usage = addUsage(this.before.usage, this.client.usage);
  }

  /** The tools of one generation. */
  private tools(history: StudyHistory, pending: NonNullable<ClaudeState['pending']>) {
    const K = this.batchSize;
    const probes = this.facts.probes;
    const candidateIds = new Set(history.candidates.map((c) => c.id));
    const readScenario: Tool<Record<string, never>> = {
      name: 'read_scenario',
      description: 'The scenario: task, episode, robot, and the controller parameters with their ranges, defaults and meaning.',
      input: z.object({}).strict(),
      run: () => ({ content: JSON.stringify(scenarioBrief(history.scenario)) }),
    };
    const readResults: Tool<{ last: number }> = {
      name: 'read_results',
      description: 'The results table: one row per candidate (id, generation, kind, status keep|discard|crash|invalid, mean training score, success rate, description).',
      input: z.object({ last: z.number().int().min(1).max(500).default(50).describe('rows, newest last') }),
      run: ({ last }) => ({ content: resultsTable(history.candidates, last) }),
    };
    const readEpisodes: Tool<{ candidate: number; limit: number; failed_only: boolean }> = {
      name: 'read_episodes',
      description: "A candidate's training episodes: seed, outcome, score, score terms, metrics, crash reason, and a summary of what happened (phases, where the tool was when it grasped, gripper and contact events, the object's trajectory).",
      input: z.object({
        candidate: z.number().int().describe('candidate id'),
        limit: z.number().int().min(1).max(8).default(4),
        failed_only: z.boolean().default(false),
      }),
      run: ({ candidate, limit, failed_only }) => {
        if (!candidateIds.has(candidate)) return { invalid: `candidate ${candidate} does not exist; the candidates are ${[...candidateIds].join(', ')}` };
        const episodes = history.tools.episodes(candidate, 64).filter((e) => !failed_only || !e.success).slice(0, limit);
        return { content: episodes.length ? JSON.stringify(episodes) : `Candidate ${candidate} has no ${failed_only ? 'failed ' : ''}training episodes.` };
      },
    };
    const probe: Tool<{ policy: CandidateInput; episodes: number }> = {
      name: 'probe',
      description: `Runs a draft policy now on fresh seeds and returns each episode's evidence, to try an idea before proposing it. At most ${probes} probe episodes per generation; they count in the episode budget.`,
      input: z.object({ policy: CandidateInput, episodes: z.number().int().min(1).max(Math.max(1, probes)) }),
      run: async ({ policy, episodes }): Promise<ToolOutcome | { invalid: string }> => {
        if (pending.probes + episodes > probes) return { content: `Only ${probes - pending.probes} probe episodes are left in this generation.`, isError: true };
        const problem = history.tools.check({ kind: policy.kind, body: bodyOf(policy), rationale: 'probe' });
        if (problem) return { invalid: problem };
        const seeds = Array.from({ length: episodes }, (_, i) => PROBE_SEED_BASE + pending.generation * 64 + pending.probes + i);
        const evidence = await history.tools.probe({ kind: policy.kind, ...bodyOf(policy) }, seeds);
        pending.probes += episodes;
        return { content: JSON.stringify(evidence) };
      },
    };
    const propose: Tool<{ candidates: (CandidateInput & { rationale: string })[] }> = {
      name: 'propose',
      description: `Proposes this generation's candidates (1 to ${K}); each is validated, stored and then run. Call it once, last.`,
      input: z.object({
        candidates: z.array(CandidateInput.and(z.object({ rationale: z.string().min(1).describe('what you expect to change, and why') }))).min(1).max(K),
      }),
      run: ({ candidates }) => {
        const proposals: Proposal[] = candidates.map((c) => ({ kind: c.kind, body: bodyOf(c), rationale: c.rationale }));
        const problems = proposals.flatMap((p, i) => {
          const problem = history.tools.check(p);
          return problem ? [`candidate ${i + 1}: ${problem}`] : [];
        });
        if (problems.length) return { invalid: problems.join(' ') };
        pending.proposals = proposals;
        return { content: `Accepted ${proposals.length} candidate(s); they will run next.`, done: true };
      },
      giveUp: (raw, reason) => {
        pending.proposals = invalidProposals(raw, reason);
        return { content: `The proposal still does not validate (${reason}); it is recorded as invalid.`, isError: true, done: true };
      },
    };
    return [readScenario, readResults, readEpisodes, probe, propose];
  }
}

/** A propose input that never validated, kept as invalid proposals with the reason. */
function invalidProposals(raw: unknown, reason: string): Proposal[] {
  const list = (raw as { candidates?: unknown } | null)?.candidates;
  const items = Array.isArray(list) && list.length ? list : [raw];
  return items.map((item) => {
    const fields: Record<string, unknown> = item && typeof item === 'object' && !Array.isArray(item) ? { ...(item as Record<string, unknown>) } : { value: item };
    const { kind, rationale, ...body } = fields;
    return {
      kind: (POLICY_KINDS as readonly unknown[]).includes(kind) ? (kind as Proposal['kind']) : 'params',
      body,
      rationale: typeof rationale === 'string' ? rationale : '(no rationale)',
      invalid: reason,
    };
  });
}

/** The Claude researcher of a study: settings from the environment and the study's model. */
export function createClaudeResearcher(scenario: LoadedScenario, config: ResearcherSettings, state: unknown, env: NodeJS.ProcessEnv = process.env): ClaudeResearcher {
  const client = new LlmClient(llmSettings({ model: config.model, who: 'The claude researcher', env }));
  return new ClaudeResearcher(client, scenario, config, state);
}
