/**
 * The kinds of policy arbor runs: `params` (numbers for a task's built-in controller), `code` (a
 * controller module run in the sandbox) and `prompt` (a language planner's config). A study's
 * candidates and a researcher's proposals are each one of them.
 */
export const POLICY_KINDS = ['params', 'code', 'prompt'] as const;
export type PolicyKind = (typeof POLICY_KINDS)[number];
