/**
 * Where a study's loop is, saved with every step so `resume` continues exactly: the generation and
 * phase, the researcher's state, and the counters the budget needs beyond the stored rows.
 */
import { z } from 'zod';
import type { StudyRecord } from '../store/schema.ts';

export const LoopState = z.object({
  /** The generation in progress (`evaluate`) or to ask for next (`ask`); 0 = the baseline. */
  generation: z.number().int().min(0),
  /** `ask`: the researcher state is from before asking; `evaluate`: the generation's proposals are stored and the state is from after asking; `validate`: the search ended. */
  phase: z.enum(['ask', 'evaluate', 'validate']).default('ask'),
  /** The researcher's own state (JSON). */
  researcher: z.unknown(),
  /** Wall-clock seconds spent in earlier runs and finished steps. */
  elapsed: z.number().min(0),
  /** Generations in a row that kept nothing. */
  sinceKept: z.number().int().min(0).default(0),
  /** Wall-clock seconds the last generation took (for the wall-time budget). */
  lastGenerationSeconds: z.number().min(0).default(0),
  /** Probe episodes run for the researcher (they count in the episode budget). */
  probeEpisodes: z.number().int().min(0).default(0),
  /** Probe episodes run while asking for the current generation (at most `config.probes`). */
  generationProbes: z.number().int().min(0).default(0),
  /** Dollars the researcher spent asking for the current generation and already booked to the study (checkpoints). */
  askCost: z.number().min(0).default(0),
  /** Why the search ended (phase `validate`). */
  stopReason: z.string().nullable().default(null),
});
export type LoopState = z.infer<typeof LoopState>;

/** The saved loop state of a study, or the start of one that has none. */
export function loopOf(study: StudyRecord): LoopState {
  if (study.researcherState === null) return LoopState.parse({ generation: 0, researcher: null, elapsed: 0 });
  const parsed = LoopState.safeParse(study.researcherState);
  if (!parsed.success) throw new Error(`Study ${study.id} has a saved loop state this arbor cannot read (${parsed.error.issues[0]?.message}); it cannot be resumed.`);
  return parsed.data;
}

/** Probe episodes a study's researcher has run so far (they count in its episode budget). */
export function probeEpisodes(study: StudyRecord): number {
  return study.researcherState === null ? 0 : LoopState.safeParse(study.researcherState).data?.probeEpisodes ?? 0;
}
