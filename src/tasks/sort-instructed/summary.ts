/**
 * The evidence of one instructed-sorting episode in a few lines, for an LLM researcher reading
 * why episodes fail: the instruction and what it wanted, what the policy decided (its plan, a
 * refusal, why it could not act, what went wrong on the way), and where each cube went.
 */
import { PolicyRecord } from '../../policy/policy.ts';
import type { Trace } from '../../trace/trace.ts';
import { cubeEnds, drawOf } from './score.ts';
import type { SortInstructedSpec } from './schema.ts';

export function summarizeSortInstructed(trace: Trace, spec: SortInstructedSpec): string[] {
  const draw = drawOf(trace, spec);
  const { expected, text, goal } = draw.instruction;
  const wants = expected.refuse ? 'a refusal' : Object.entries(expected.moves).map(([cube, zone]) => `${cube} → ${zone}`).join(', ') || 'nothing moved';
  const lines = [`instruction: "${text}" (${goal}); right answer: ${wants}.`];
  const record = PolicyRecord.safeParse(trace.meta.policy ?? {});
  if (record.success) {
    const { decision, metrics } = record.data;
    if (decision.failed !== undefined) lines.push(`planner failure: ${decision.failed}`);
    if (decision.refused !== undefined) lines.push(`the policy refused: ${decision.refused}`);
    if (decision.plan !== undefined) lines.push(`plan: ${JSON.stringify(decision.plan).slice(0, 600)}`);
    for (const note of decision.notes) lines.push(`note: ${note}`);
    const cost = ['llm_calls', 'cached_calls', 'input_tokens', 'output_tokens', 'context_tokens', 'planner_usd', 'planner_s'].filter((k) => metrics[k] !== undefined);
    if (cost.length) lines.push(`planner: ${cost.map((k) => `${k} ${Number(metrics[k].toPrecision(4))}`).join(', ')}.`);
  }
  const cm = (v: number) => `${(v * 100).toFixed(1)}`;
  for (const end of cubeEnds(trace, spec, draw)) {
    const cube = draw.cubes.find((c) => c.name === end.name)!;
    lines.push(
      `${end.name} (${cube.colour}, ${cm(2 * cube.halfSize)} cm): from (${cm(end.from[0])}, ${cm(end.from[1])}) cm to (${cm(end.to[0])}, ${cm(end.to[1])}) cm, ` +
        `${end.zone ? `in ${end.zone}` : 'in no zone'}${end.moved ? '' : ', not moved'}${end.resting ? '' : ', not resting'}.`,
    );
  }
  return lines;
}
