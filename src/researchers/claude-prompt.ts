/**
 * The texts the Claude researcher is given: the harness (stable across a study, so it is cached
 * with the tool definitions) and each generation's brief (autoresearch's results log, and Eureka's
 * reflection: the last generation's per-term statistics and failure summaries, and the best so far).
 * Only text here; the conversation and tools are in claude.ts.
 */
import { codePolicyGuide } from '../policy/code.ts';
import { promptPolicyGuide } from '../policy/prompt.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { CandidateView, EpisodeEvidence, Outcome, StudyHistory } from './researcher.ts';

/** What the harness text needs besides the scenario. */
export interface HarnessFacts {
  /** Proposals per generation. */
  batch: number;
  /** Probe episodes per generation. */
  probes: number;
  /** Kinds the study accepts. */
  kinds: readonly string[];
  /** Episodes each candidate runs per generation. */
  seedsPerCandidate: number;
}

/** The scenario as a researcher may see it: the task without what the policy cannot know. */
export function scenarioBrief(scenario: LoadedScenario): Record<string, unknown> {
  const task = scenario.taskDef;
  const family = task.controllers[scenario.policy.controller];
  const hidden = new Set(task.hidden ?? []);
  return {
    name: scenario.name,
    description: scenario.description,
    ...(scenario.policy.prompt ? { prompt: { baseline_config: scenario.policy.prompt.config, choices: scenario.policy.prompt.choices } } : {}),
    task: { description: task.description, ...Object.fromEntries(Object.entries(scenario.task).filter(([k]) => !hidden.has(k))) },
    episode: { duration_s: scenario.episode.duration, control_rate_hz: scenario.episode.control_rate },
    robot: { name: scenario.robotConfig.name, joints: scenario.robotConfig.joints.map((j) => ({ name: j.name, min: j.position[0], max: j.position[1] })) },
    controller: {
      name: scenario.policy.controller,
      description: family.description,
      params: Object.fromEntries(Object.entries(scenario.policy.params).map(([k, p]) => [k, { ...p, what: family.params[k] }])),
    },
  };
}

/** The stable system text: the loop, the rules, the scenario, the code contract. */
export function harnessText(scenario: LoadedScenario, facts: HarnessFacts): string {
  const code = facts.kinds.includes('code');
  const prompt = facts.kinds.includes('prompt');
  return [
    `You are the researcher of an arbor study: you propose robot controller policies${prompt ? ' and language-planner configs' : ''}, arbor runs each on randomized MuJoCo episodes,`,
    'scores them from the recorded sensor topics with a fixed scorer, and keeps a candidate only if it beats the current best on the same seeds',
    'by more than the noise. Your goal: a policy that succeeds on as many fresh (validation) seeds as possible, in as few episodes as possible.',
    '',
    'Each generation you get a brief: the best so far, the last generation\'s outcomes with their per-term score breakdown and failure',
    `summaries, and the results table. Look closer with the tools if you need to, then call propose once with 1 to ${facts.batch} candidates.`,
    `Each candidate runs ${facts.seedsPerCandidate} episodes, on the same seeds as the best. You may run at most ${facts.probes} probe episodes`,
    'per generation (probe) to try a draft before proposing; they count in the episode budget.',
    'Read the failure evidence: where the tool was against the object when it grasped, when the gripper closed and on what, where the object',
    'went. Fix the cause you see, change few things at a time, and say in each rationale what you expect to change and why.',
    '',
    `Candidate kinds this study accepts: ${facts.kinds.join(', ')}.`,
    ...(facts.kinds.includes('params') ? ['- params: values for the controller parameters below, each within [min, max]; missing ones take their defaults.'] : []),
    ...(code ? ['- code: a controller module, as described under "Code policies" below.'] : []),
    ...(prompt ? ['- prompt: a config of the language planner, as described under "Prompt policies" below; fields you leave out take the baseline config\'s.'] : []),
    'Proposals are validated (names, bounds, code that compiles) before they run; an invalid input of a tool comes back to you as an error to fix.',
    '',
    'The scenario (JSON):',
    JSON.stringify(scenarioBrief(scenario), null, 1),
    ...(code ? ['', 'Code policies:', codePolicyGuide(scenario)] : []),
    ...(prompt ? ['', 'Prompt policies:', promptPolicyGuide(scenario)] : []),
  ].join('\n');
}

/** Evidence lines of a candidate's failed episodes (at most `count`). */
export function failureEvidence(episodes: readonly EpisodeEvidence[], count: number): string[] {
  return episodes
    .filter((e) => !e.success)
    .slice(0, count)
    .flatMap((e) => [`    seed ${e.seed} (${e.outcome}${e.crashReason ? `: ${e.crashReason}` : ''}):`, ...(e.summary ?? []).map((l) => `      ${l}`)]);
}

/** The brief of one generation. */
export function generationBrief(history: StudyHistory, facts: HarnessFacts, evidence: (candidate: number) => string[]): string {
  const b = history.budget;
  const best = history.best;
  const lines = [
    `Generation ${history.generation}.`,
    `Budget left: ${b.candidates} candidates, ${b.episodes} episodes, ${Math.round(b.seconds)} s${Number.isFinite(b.dollars) ? `, $${b.dollars.toFixed(2)}` : ''}.`,
    '',
    `Current best: candidate ${best.id} (${best.kind}, generation ${best.generation}): score ${num(best.score)}, success ${pct(best.successRate)} on its training episodes.`,
    `  policy: ${policyText(best.policy)}`,
  ];
  if (history.last.length === 0) {
    lines.push('  Its failed episodes:', ...evidence(best.id));
  } else {
    lines.push('', `Last generation (each candidate and the best ran the same seeds; the bar was the best's mean score ${num(history.last[0].bestScore)}):`);
    for (const o of history.last) lines.push(...outcomeLines(o), ...evidence(o.candidate));
  }
  lines.push('', 'Results so far (newest last):', resultsTable(history.candidates, 25), '');
  lines.push(`Propose 1 to ${facts.batch} candidates with the propose tool.`);
  return lines.join('\n');
}

/** One outcome in a few lines: verdict, score, per-term and metric means, why it failed. */
function outcomeLines(o: Outcome): string[] {
  const counts = Object.entries(o.outcomes).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    `- candidate ${o.candidate} [${o.status}] ${o.proposal.kind}: score ${num(o.score)}, success ${pct(o.successRate)}${counts ? ` (${counts})` : ''}`,
    `    rationale: ${o.proposal.rationale.split('\n')[0].slice(0, 240)}`,
    ...(o.proposal.kind === 'params' ? [`    params: ${JSON.stringify(o.proposal.body.params ?? {})}`] : []),
    ...(o.proposal.kind === 'prompt' ? [`    config: ${JSON.stringify(o.proposal.body.config ?? {}).slice(0, 600)}`] : []),
    ...(Object.keys(o.terms).length ? [`    score terms (mean): ${entries(o.terms)}`] : []),
    ...(Object.keys(o.metrics).length ? [`    metrics (mean): ${entries(o.metrics)}`] : []),
    ...(o.reason ? [`    why: ${o.reason.slice(0, 400)}`] : []),
  ];
}

/** The autoresearch results table: one row a candidate. */
export function resultsTable(candidates: readonly CandidateView[], last: number): string {
  const rows = candidates.slice(-last).map((c) => `${c.id}\t${c.generation}\t${c.kind}\t${c.status}\t${num(c.score)}\t${pct(c.successRate)}\t${c.description}${c.note ? ` — ${c.note.slice(0, 160)}` : ''}`);
  return ['candidate\tgen\tkind\tstatus\tscore\tsuccess\tdescription', ...rows].join('\n');
}

/** A stored policy in one line (code: its size and first line). */
export function policyText(policy: unknown): string {
  const p = policy as { kind?: unknown; params?: unknown; source?: unknown } | null;
  if (p?.kind === 'code' && typeof p.source === 'string') return `code, ${p.source.split('\n').length} lines: ${p.source.split('\n')[0].slice(0, 100)}`;
  if (p?.kind === 'prompt') return `prompt config ${JSON.stringify((p as { config?: unknown }).config).slice(0, 600)}`;
  return JSON.stringify(p?.params ?? p);
}

function entries(values: Record<string, number>): string {
  return Object.entries(values).map(([k, v]) => `${k} ${num(v)}`).join(', ');
}

function num(v: number | null): string {
  return v === null || !Number.isFinite(v) ? '-' : Number(v.toPrecision(3)).toString();
}

function pct(v: number | null): string {
  return v === null || !Number.isFinite(v) ? '-' : `${Math.round(v * 100)}%`;
}
