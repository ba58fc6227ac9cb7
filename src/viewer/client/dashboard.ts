/**
 * The study dashboard: score per candidate over time (kept, discarded, crashed), the best-so-far
 * curve, the candidate table, and each candidate's episodes to replay or compare. It renders
 * plain snapshots (`StudyView`) and keeps the user's selection across refreshes.
 */
import uPlot from 'uplot';
import type { StudyView } from '../data.ts';
import type { WorkerThroughput } from '../messages.ts';
import type { CandidateRow, EpisodeSummary, PromptSummary, ValidationFigure } from '../views.ts';
import { h } from './elements.ts';
import { ParetoPlot } from './pareto-plot.ts';

/** What the dashboard asks the app to do. */
export interface DashboardActions {
  /** Replay an episode (and compare it with a second one). */
  open(episode: number, compareWith?: number): void;
}

export class Dashboard {
  private chart: uPlot | undefined;
  private view: StudyView | undefined;
  private selected: number | undefined;
  /** Episode picked as A for a comparison. */
  private pickA: number | undefined;
  /** Success against cost per candidate (studies whose policies pay for model calls). */
  private readonly pareto: ParetoPlot;

  constructor(
    private readonly el: { info: HTMLElement; workers: HTMLElement; chart: HTMLElement; pareto: HTMLElement; compare: HTMLElement; table: HTMLTableElement; episodes: HTMLElement },
    private readonly actions: DashboardActions,
  ) {
    this.pareto = new ParetoPlot(el.pareto, (candidate) => this.select(candidate));
  }

  /** Number of candidate rows shown. */
  get rows(): number {
    return this.el.table.tBodies[0]?.rows.length ?? 0;
  }

  /** Shows a study (again, after a change: the selection stays). */
  show(view: StudyView): void {
    const sameStudy = this.view?.study.id === view.study.id;
    this.view = view;
    if (!sameStudy) {
      this.selected = view.study.bestCandidate ?? undefined;
      this.pickA = undefined;
      this.el.workers.replaceChildren();
    }
    this.renderInfo();
    this.renderChart();
    this.pareto.show(view.costs);
    this.renderTable();
    this.renderEpisodes();
    this.renderCompare();
  }

  /** Shows how fast each worker runs the study's episodes (sent while it runs). */
  showWorkers(workers: WorkerThroughput[]): void {
    const total = workers.reduce((sum, w) => sum + w.rate, 0);
    const rows = workers.map((w) => h('tr', {}, h('td', {}, w.worker), h('td', {}, String(w.episodes)), h('td', {}, w.rate.toFixed(2))));
    this.el.workers.replaceChildren(
      h('table', {}, h('tr', {}, h('th', {}, `workers (${total.toFixed(2)} episodes/s)`), h('th', {}, 'episodes'), h('th', {}, 'episodes/s')), ...rows),
    );
  }

  /** Empties the dashboard with a message. */
  empty(message: string): void {
    this.view = undefined;
    this.chart?.destroy();
    this.chart = undefined;
    this.el.info.textContent = message;
    this.el.workers.replaceChildren();
    this.el.chart.replaceChildren();
    this.pareto.show([]);
    this.el.table.replaceChildren();
    this.el.episodes.replaceChildren();
    this.el.compare.replaceChildren();
  }

  private renderInfo(): void {
    const { study, candidates, episodes, stopped, validation, gauntlets } = this.view!;
    const gauntletLinks = gauntlets.flatMap((g, i) => [...(i ? [', '] : []), h('a', { href: `#study=${encodeURIComponent(g)}`, class: 'gauntlet-link' }, g)]);
    const best = candidates.find((c) => c.id === study.bestCandidate);
    this.el.info.replaceChildren(
      h('div', { class: 'study-title' }, study.id),
      h(
        'div',
        { class: 'muted' },
        `${study.scenarioName} · ${study.researcher} · ${study.status} · ${candidates.length} candidates · ${episodes.length} episodes` +
          (best ? ` · best #${best.id} score ${fmt(best.scoreMean)}` : '') +
          (study.costUsd > 0 ? ` · $${study.costUsd.toFixed(4)}` : ''),
      ),
      ...(stopped ? [h('div', { class: 'muted stop-reason' }, `stopped: ${stopped}`)] : []),
      ...(validation.length ? [h('div', { class: 'muted validation', title: 'success on the validation seeds, Wilson 95% interval and n' }, `validation on seeds ${validation[0].seeds}: ${validation.map(validationText).join(' · ')}`)] : []),
      ...(gauntlets.length ? [h('div', { class: 'muted' }, 'gauntlets of its best (tier × axis heatmaps): ', ...gauntletLinks)] : []),
    );
  }

  private renderChart(): void {
    const { candidates } = this.view!;
    const x = candidates.map((_, i) => i + 1);
    const pick = (status: CandidateRow['status']) => candidates.map((c) => (c.status === status ? (c.scoreMean ?? 0) : null));
    let best = -Infinity;
    const bestSoFar = candidates.map((c) => {
      if (c.status === 'keep' && c.scoreMean !== null) best = Math.max(best, c.scoreMean);
      return Number.isFinite(best) ? best : null;
    });
    const data: uPlot.AlignedData = [x, pick('keep'), pick('discard'), pick('crash'), bestSoFar];
    const width = Math.max(280, this.el.chart.clientWidth - 8);
    if (this.chart && this.chart.width === width) {
      this.chart.setData(data);
      return;
    }
    this.chart?.destroy();
    const points = (stroke: string, fill: string): uPlot.Series => ({ stroke, fill, paths: () => null, points: { show: true, size: 8, stroke, fill }, width: 0 });
    this.chart = new uPlot(
      {
        title: 'score per candidate',
        width,
        height: 190,
        scales: { x: { time: false }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1)] } },
        series: [
          { label: 'candidate' },
          { label: 'kept', ...points('#5fd38d', '#5fd38d') },
          { label: 'discarded', ...points('#8a93a3', '#8a93a3') },
          { label: 'crashed', ...points('#e2615b', '#e2615b') },
          { label: 'best so far', stroke: '#4e9af1', width: 2, paths: uPlot.paths.stepped!({ align: 1 }), spanGaps: true },
        ],
        axes: [
          { stroke: '#aab', grid: { stroke: '#2a2f37' }, label: 'candidate (in order)', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] },
          { stroke: '#aab', grid: { stroke: '#2a2f37' }, label: 'score' },
        ],
        cursor: { drag: { x: false, y: false } },
      },
      data,
      this.el.chart,
    );
    this.chart.over.addEventListener('click', () => {
      const i = this.chart?.cursor.idx;
      if (i != null && candidates[i]) this.select(this.view!.candidates[i].id);
    });
  }

  private renderTable(): void {
    const { candidates, params } = this.view!;
    const prompts = candidates.some((c) => c.kind === 'prompt');
    const head = h('thead', {}, h('tr', {}, ...['#', 'status', 'score', 'success', 'eps', prompts ? 'config' : 'params', 'rationale'].map((t) => h('th', {}, t))));
    const body = h('tbody', {});
    for (const c of candidates) {
      const values = c.params;
      // Parameters that differ from the scenario's defaults say what the candidate tried.
      const defaults = new Map(params.map((p) => [p.name, p.default]));
      const changed = Object.keys(values).filter((p) => !defaults.has(p) || Math.abs(values[p] - defaults.get(p)!) > 1e-9);
      const paramText = c.kind === 'prompt' ? configText(c.prompt) : changed.length ? changed.map((p) => `${p}=${fmtNum(values[p])}`).join(' ') : 'defaults';
      const row = h(
        'tr',
        { class: `status-${c.status}${c.id === this.selected ? ' selected' : ''}`, 'data-candidate': String(c.id) },
        h('td', {}, `${c.id}${c.id === this.view!.study.bestCandidate ? ' ★' : ''}`),
        h('td', {}, h('span', { class: `badge ${c.status}` }, c.status)),
        h('td', {}, c.scoreMean === null ? '–' : `${fmt(c.scoreMean)} ± ${fmt(c.scoreStd)}`),
        h('td', { title: 'Wilson 95% interval over the episodes in eps' }, successCell(c)),
        h('td', {}, String(c.nEpisodes ?? '–')),
        h('td', { class: 'params', title: paramText }, paramText),
        h('td', { class: 'rationale', title: c.rationale }, c.description || c.rationale),
      );
      row.addEventListener('click', () => this.select(c.id));
      body.append(row);
    }
    this.el.table.replaceChildren(head, body);
  }

  /** Selects a candidate: its row, its episodes listed, its first one replayed. */
  select(candidate: number): void {
    this.selected = candidate;
    for (const row of Array.from(this.el.table.tBodies[0]?.rows ?? [])) row.classList.toggle('selected', row.dataset.candidate === String(candidate));
    this.renderEpisodes();
    const first = this.episodesOf(candidate)[0];
    if (first) this.actions.open(first.id);
  }

  private episodesOf(candidate: number): EpisodeSummary[] {
    return this.view!.episodes.filter((e) => e.candidateId === candidate);
  }

  private renderEpisodes(): void {
    const c = this.selected;
    if (c === undefined) {
      this.el.episodes.replaceChildren(h('div', { class: 'muted' }, 'Click a candidate to list its episodes.'));
      return;
    }
    const list = this.episodesOf(c);
    const chips = list.map((e) => {
      const chip = h(
        'button',
        { class: `chip ${e.success ? 'ok' : e.status === 'crash' ? 'crash' : 'fail'}`, 'data-episode': String(e.id), title: `episode ${e.id}: ${e.split} seed ${e.seed}, ${e.outcome}. Shift-click to pick it for a comparison.` },
        `${e.split[0]}${e.seed} ${e.outcome} ${fmt(e.score)}`,
      );
      chip.addEventListener('click', (ev) => {
        if ((ev as MouseEvent).shiftKey) {
          if (this.pickA === undefined) this.pickA = e.id;
          else {
            this.actions.open(this.pickA, e.id);
            this.pickA = undefined;
          }
          this.renderCompare();
        } else this.actions.open(e.id);
      });
      return chip;
    });
    this.el.episodes.replaceChildren(h('div', { class: 'muted' }, `candidate ${c}: ${list.length} episodes (click to replay, shift-click two to compare)`), ...chips);
  }

  private renderCompare(): void {
    const pair = this.baselineVsBest();
    const button = h('button', { id: 'compare-best', disabled: pair ? undefined : 'true', title: 'replay the baseline and the best candidate on the same seed, side by side' }, 'Compare baseline vs best');
    if (pair) button.addEventListener('click', () => this.actions.open(pair[0], pair[1]));
    const note = this.pickA !== undefined ? h('span', { class: 'muted' }, ` A = episode ${this.pickA}; shift-click another to compare`) : '';
    this.el.compare.replaceChildren(button, note);
  }

  /** Episodes of the baseline and the best candidate, on a common seed when there is one. */
  private baselineVsBest(): [number, number] | undefined {
    const v = this.view!;
    const bestId = v.study.bestCandidate ?? [...v.candidates].filter((c) => c.status === 'keep').sort((a, b) => (b.scoreMean ?? 0) - (a.scoreMean ?? 0))[0]?.id;
    const baselineEpisodes = v.episodes.filter((e) => e.split === 'baseline');
    const baseline = baselineEpisodes.length ? baselineEpisodes : this.episodesOf(v.candidates[0]?.id ?? -1);
    if (bestId === undefined || baseline.length === 0) return undefined;
    const best = this.episodesOf(bestId).filter((e) => e.split !== 'baseline');
    if (best.length === 0) return undefined;
    for (const a of baseline) {
      const b = best.find((e) => e.seed === a.seed);
      if (b && b.id !== a.id) return [a.id, b.id];
    }
    return baseline[0].id === best[0].id ? undefined : [baseline[0].id, best[0].id];
  }
}

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : v.toFixed(3);
}

/** A prompt config in one line: model, scene, sampling, examples, re-planning, the system prompt's length. */
function configText(c: PromptSummary | null): string {
  if (!c) return '–';
  const shown = (v: string | number | null) => (v === null ? '–' : String(v));
  return `${shown(c.model).replace(/^claude-/, '')} · ${shown(c.sceneFormat)} [${c.sceneFacts.join(',')}] ${shown(c.sceneUnits)} · T${shown(c.temperature)} · ${shown(c.maxTokens)} tok · ${c.examples} ex${c.replan ? ' · replan' : ''} · system ${c.systemChars} ch`;
}

function fmtNum(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

/** One validation figure, e.g. `T2 86% [75–92] n=64`. */
function validationText(v: ValidationFigure): string {
  const pct = (x: number) => Math.round(100 * x);
  return `${v.label} ${pct(v.successRate)}% [${pct(v.successInterval.low)}–${pct(v.successInterval.high)}] n=${v.n}`;
}

/** A success rate with its Wilson 95% interval, e.g. `86% [75–92]`. */
function successCell(c: CandidateRow): string {
  if (c.successRate === null) return '–';
  const pct = (v: number) => Math.round(100 * v);
  return c.successInterval ? `${pct(c.successRate)}% [${pct(c.successInterval.low)}–${pct(c.successInterval.high)}]` : `${pct(c.successRate)}%`;
}
