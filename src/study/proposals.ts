/**
 * Proposals where they enter a study, and candidates on their way out: a proposal is checked
 * against the scenario (its kind, names, ranges, code that compiles) before it is stored; a stored
 * candidate's policy is checked again when it is read back; candidates become the read-only views
 * researchers see.
 */
import { z } from 'zod';
import { PolicyFile, resolvePolicy } from '../policy/file.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { POLICY_KINDS } from '../policy/kinds.ts';
import type { CandidateRecord } from '../store/schema.ts';
import type { CandidateView, Proposal } from '../researchers/researcher.ts';

/** A proposal checked against the scenario where it enters the study. */
export type Checked = { ok: true; policy: PolicyFile } | { ok: false; reason: string };

/** Validates a proposal: an allowed kind whose policy resolves against the scenario (bounds, names, code that compiles). */
export function checkProposal(proposal: Proposal, scenario: LoadedScenario, kinds: readonly string[]): Checked {
  const shape = ProposalShape.safeParse(proposal);
  if (!shape.success) return { ok: false, reason: `The proposal is malformed: ${shape.error.issues.map((i) => `${i.path.join('.') || 'proposal'} ${i.message}`).join('; ')}.` };
  if (!kinds.includes(shape.data.kind)) return { ok: false, reason: `Kind '${shape.data.kind}' is not allowed in this study; allowed: ${kinds.join(', ')}.` };
  try {
    return { ok: true, policy: resolvePolicy({ ...shape.data.body, kind: shape.data.kind }, scenario, 'proposal') };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

const ProposalShape = z.object({
  kind: z.enum(POLICY_KINDS),
  body: z.record(z.string(), z.unknown()),
  rationale: z.string(),
});

/**
 * A stored candidate's policy, parsed on the way out of the store (never trusted by cast). It was
 * resolved against the scenario (ranges, names, code that compiles) where it entered the study, so
 * it is not resolved, nor its code compiled, again.
 */
export function storedPolicy(c: CandidateRecord): PolicyFile {
  const parsed = PolicyFile.safeParse(c.body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`Candidate ${c.id} has a stored policy this arbor cannot read (${issue?.path.join('.') || 'policy'}: ${issue?.message}); the study was made by another version.`);
  }
  return parsed.data;
}

export function proposalOf(c: CandidateRecord): Proposal {
  const body = { ...(c.body as Record<string, unknown>) };
  delete body.kind;
  return { kind: c.kind, body, rationale: c.rationale };
}

export function kindOf(p: Proposal): CandidateRecord['kind'] {
  return (POLICY_KINDS as readonly string[]).includes(p.kind) ? p.kind : 'params';
}

/** A value the store can hold (a malformed proposal's body is kept as text when it is not JSON). */
export function jsonSafe(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value ?? null)) ?? null;
  } catch {
    return String(value);
  }
}

export function firstLine(text: string): string {
  const line = text.split('\n')[0].trim();
  return line.length > 80 ? `${line.slice(0, 77)}...` : line || '(no rationale)';
}

export function viewOf(c: CandidateRecord): CandidateView {
  return Object.freeze({
    id: c.id, generation: c.generation, kind: c.kind, policy: c.body, rationale: c.rationale, description: c.description,
    status: c.status, score: c.scoreMean, successRate: c.successRate, note: c.note,
  });
}
