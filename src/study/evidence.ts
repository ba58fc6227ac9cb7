/**
 * The evidence of an episode as a researcher reads it (an LLM's tools, `arbor mcp`): its score,
 * terms, metrics and crash reason, and the task's summary of its trace (which phase failed, gripper
 * and contact events, the object's trajectory).
 */
import type { LoadedScenario } from '../scenario/load.ts';
import type { EpisodeRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { Score } from '../tasks/task.ts';
import type { Trace } from '../trace/trace.ts';
import type { EpisodeResult } from '../evaluation/evaluator.ts';
import type { EpisodeEvidence } from '../researchers/researcher.ts';

/** A stored episode's evidence (the summary read from its trace artifact). */
export function storedEvidence(store: Store, scenario: LoadedScenario, e: EpisodeRecord): EpisodeEvidence {
  const evidence: EpisodeEvidence = {
    seed: e.seed, outcome: e.outcome, score: e.score, success: e.success, terms: { ...e.terms }, metrics: { ...e.metrics },
    ...(e.crashReason ? { crashReason: e.crashReason } : {}),
  };
  return e.tracePath === null ? evidence : { ...evidence, ...summaryOf(scenario, () => store.loadEpisodeTrace(e)) };
}

/** An episode just run (an evaluator's result, or an episode runner's with `ok`), or why it failed. */
export type FinishedEpisode = ({ ok: true; seed: number; trace: Trace } & Score) | { ok: false; seed: number; reason: string };

/** A fresh episode's evidence (a probe, an MCP client's episode). */
export function resultEvidence(scenario: LoadedScenario, r: FinishedEpisode | EpisodeResult): EpisodeEvidence {
  if (!r.ok) return { seed: r.seed, outcome: 'crash', score: null, success: false, terms: {}, metrics: {}, crashReason: r.reason };
  return { seed: r.seed, outcome: r.outcome, score: r.score, success: r.success, terms: r.terms, metrics: r.metrics, ...summaryOf(scenario, () => r.trace) };
}

/** The task's summary lines of a trace, when the task summarizes and the trace can be read. */
function summaryOf(scenario: LoadedScenario, trace: () => Trace): { summary?: string[] } {
  const task = scenario.taskDef;
  if (!task.summarize) return {};
  try {
    return { summary: task.summarize(trace(), scenario.task, scenario) };
  } catch (err) {
    return { summary: [`(no summary: ${(err as Error).message})`] };
  }
}
