/**
 * A gauntlet's episodes in the study database, like any others: the gauntlet is a study (its
 * researcher `gauntlet`), each world condition one candidate (the same policy; its description
 * the tier or the axis value), each episode a validation episode whose trace meta holds the
 * perturbation it ran under, so `arbor export`, MCAP and the viewer replay them.
 */
import type { EpisodeResult } from '../evaluation/evaluator.ts';
import type { PolicyFile } from '../policy/policy.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { Store } from '../store/store.ts';
import type { Cell, GauntletReport } from './gauntlet.ts';

/** Where one gauntlet's episodes go. */
export class GauntletRecord {
  private constructor(
    private readonly store: Store,
    /** The study id. */
    readonly studyId: string,
    private readonly candidates: number[],
  ) {}

  /** Creates the gauntlet's study and one candidate per cell. */
  static create(store: Store, scenario: LoadedScenario, policy: PolicyFile, cells: readonly Cell[], config: Record<string, unknown>): GauntletRecord {
    const study = store.createStudy({ scenarioPath: scenario.file, scenarioName: scenario.name, researcher: 'gauntlet', config: { gauntlet: config } });
    const candidates = cells.map((cell, generation) => store.addCandidate(study.id, {
      generation, parentId: null, kind: policy.kind, body: policy, rationale: `the policy under test, in world ${cell.label}`, description: `gauntlet: ${cell.label}`,
    }).id);
    return new GauntletRecord(store, study.id, candidates);
  }

  /** Stores one episode of cell `cell`. */
  record(cell: number, r: EpisodeResult): void {
    const base = { studyId: this.studyId, candidateId: this.candidates[cell], split: 'validation' as const, seed: r.seed, wallTime: r.wallTime };
    if (r.ok) this.store.recordEpisode({ ...base, status: 'ok', success: r.success, score: r.score, outcome: r.outcome, metrics: r.metrics, terms: r.terms, trace: r.trace });
    else this.store.recordEpisode({ ...base, status: 'crash', success: false, score: null, outcome: 'crash', metrics: {}, terms: {}, crashReason: r.reason });
  }

  /** Closes the study with its report as the summary. */
  finish(report: GauntletReport): void {
    this.store.updateStudy(this.studyId, { status: 'done', summary: { gauntlet: report } });
  }
}
