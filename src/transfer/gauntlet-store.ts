/**
 * A gauntlet's episodes in the study database, like any others: the gauntlet is a study (its
 * researcher `gauntlet`), each world condition one candidate (the same policy; its description
 * the tier or the axis value), each episode a validation episode whose trace meta holds the
 * perturbation it ran under, so `arbor export`, MCAP and the viewer replay them.
 */
import type { EpisodeResult } from '../evaluation/evaluator.ts';
import type { PolicyFile } from '../policy/file.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { meanStd } from '../scoring/stats.ts';
import type { Store } from '../store/store.ts';
import type { Cell, CellReport, GauntletReport } from './gauntlet.ts';
import { cellLayout, gauntletMatrix, type GauntletMatrix } from './gauntlet-matrix.ts';

/** Where one gauntlet's episodes go. */
export class GauntletRecord {
  /** Scores and crashes of each cell so far, for its candidate's row. */
  private readonly tallies: { scores: number[]; crashes: number }[];

  private constructor(
    private readonly store: Store,
    /** The study id. */
    readonly studyId: string,
    /** Each cell's candidate id and label, in cell order. */
    private readonly candidates: { id: number; label: string }[],
  ) {
    this.tallies = candidates.map(() => ({ scores: [], crashes: 0 }));
  }

  /** Creates the gauntlet's study (its config: `config` and the layout of its cells, what the heatmap reads) and one candidate per cell. */
  static create(store: Store, scenario: LoadedScenario, policy: PolicyFile, cells: readonly Cell[], config: Record<string, unknown>): GauntletRecord {
    const study = store.createStudy({ scenarioPath: scenario.file, scenarioName: scenario.name, researcher: 'gauntlet', config: { gauntlet: { ...config, cells: cells.map(cellLayout) } } });
    const candidates = cells.map((cell, generation) => ({
      label: cell.label,
      id: store.addCandidate(study.id, {
        generation, parentId: null, kind: policy.kind, body: policy, rationale: `the policy under test, in world ${cell.label}`, description: `gauntlet: ${cell.label}`,
      }).id,
    }));
    return new GauntletRecord(store, study.id, candidates);
  }

  /** Stores one episode of cell `cell`. */
  record(cell: number, r: EpisodeResult): void {
    this.tallies[cell].scores.push(r.ok ? r.score : 0);
    if (!r.ok) this.tallies[cell].crashes++;
    const base = { studyId: this.studyId, candidateId: this.candidates[cell].id, split: 'validation' as const, seed: r.seed, wallTime: r.wallTime };
    if (r.ok) this.store.recordEpisode({ ...base, status: 'ok', success: r.success, score: r.score, outcome: r.outcome, metrics: r.metrics, terms: r.terms, trace: r.trace });
    else this.store.recordEpisode({ ...base, status: 'crash', success: false, score: null, outcome: 'crash', metrics: {}, terms: {}, crashReason: r.reason });
  }

  /**
   * Closes the study with its report as the summary, and gives each world's candidate its row
   * (kept: every world is evidence), its note the interval and the paired test.
   */
  finish(report: GauntletReport): void {
    const cells = new Map<string, CellReport>([report.nominal, ...report.tiers, ...report.axes.flatMap((a) => a.extremes)].map((c) => [c.label, c]));
    this.candidates.forEach((candidate, i) => {
      const c = cells.get(candidate.label);
      const { mean, std } = meanStd(this.tallies[i].scores);
      this.store.decideCandidate(candidate.id, {
        status: 'keep', scoreMean: Number.isFinite(mean) ? mean : null, scoreStd: Number.isFinite(std) ? std : null,
        successRate: c?.success_rate ?? null, nEpisodes: this.tallies[i].scores.length, nCrashes: this.tallies[i].crashes,
        note: c ? `Wilson 95% [${c.interval.map((v) => v.toFixed(3)).join(', ')}]; vs nominal -${c.lost} +${c.gained}, McNemar p ${c.p.toPrecision(3)}` : undefined,
      });
    });
    // Said in words: a gauntlet has no stop rule, and no reason reads as 'it was interrupted'.
    this.store.updateStudy(this.studyId, { status: 'done', stopReason: 'every world ran on every seed', summary: { gauntlet: report } });
  }

  /** The stored gauntlet as the tier × axis matrix the viewer's heatmap shows (read back from the store, as the viewer reads it). */
  matrix(): GauntletMatrix {
    return gauntletMatrix(this.store.study(this.studyId)!, this.store.candidates(this.studyId), this.store.episodes({ studyId: this.studyId }));
  }
}
