/**
 * The success-vs-cost plot of a study whose policies pay for model calls: one point per candidate
 * (training success rate against its planner's dollars per episode), coloured by status, with the
 * Pareto front drawn through the candidates nothing beats on both. Click a point to select its
 * candidate. Hidden for studies that spend nothing on their policies.
 */
import uPlot from 'uplot';
import type { CostPoint } from '../pareto.ts';

export class ParetoPlot {
  private chart: uPlot | undefined;
  private order: CostPoint[] = [];

  constructor(
    private readonly el: HTMLElement,
    /** Called with a candidate id when its point is clicked. */
    private readonly select: (candidate: number) => void,
  ) {}

  /** Draws the points (again); none hides the plot. */
  show(points: readonly CostPoint[]): void {
    this.el.hidden = points.length === 0;
    if (points.length === 0) {
      this.clear();
      return;
    }
    // uPlot wants x ascending: the points by cost, the front through them in the same order.
    this.order = [...points].sort((a, b) => a.costPerEpisode - b.costPerEpisode || a.candidate - b.candidate);
    // What is drawn, for people reading the page's source and for tests: candidates by cost, and the front.
    this.el.dataset.candidates = this.order.map((p) => p.candidate).join(' ');
    this.el.dataset.front = this.order.filter((p) => p.front).map((p) => p.candidate).join(' ');
    const x = this.order.map((p) => p.costPerEpisode);
    const pick = (keep: (p: CostPoint) => boolean) => this.order.map((p) => (keep(p) ? p.successRate : null));
    const data: uPlot.AlignedData = [
      x,
      pick((p) => p.status === 'keep'),
      pick((p) => p.status === 'discard' || p.status === 'pending'),
      pick((p) => p.status === 'crash' || p.status === 'invalid'),
      pick((p) => p.front),
    ];
    const width = Math.max(280, this.el.clientWidth - 8);
    if (this.chart && this.chart.width === width) {
      this.chart.setData(data);
      return;
    }
    this.clear();
    const dots = (stroke: string): uPlot.Series => ({ stroke, fill: stroke, paths: () => null, points: { show: true, size: 8, stroke, fill: stroke }, width: 0 });
    const dollars = (v: number | null) => (v == null ? '–' : `$${v < 0.01 ? v.toFixed(5) : v.toFixed(3)}`);
    this.chart = new uPlot(
      {
        title: 'success vs planner cost per episode (Pareto front)',
        width,
        height: 190,
        scales: { x: { time: false }, y: { range: [0, 1.02] } },
        series: [
          { label: '$/episode', value: (_u, v) => dollars(v) },
          { label: 'kept', ...dots('#5fd38d') },
          { label: 'discarded', ...dots('#8a93a3') },
          { label: 'crashed', ...dots('#e2615b') },
          { label: 'Pareto front', stroke: '#e0b341', width: 1.5, dash: [4, 3], spanGaps: true, points: { show: false } },
        ],
        axes: [
          { stroke: '#aab', grid: { stroke: '#2a2f37' }, label: 'planner $ per episode', values: (_u, splits) => splits.map((v) => dollars(v)) },
          { stroke: '#aab', grid: { stroke: '#2a2f37' }, label: 'success rate', values: (_u, splits) => splits.map((v) => `${Math.round(v * 100)}%`) },
        ],
        cursor: { drag: { x: false, y: false } },
      },
      data,
      this.el,
    );
    this.chart.over.addEventListener('click', () => {
      const i = this.chart?.cursor.idx;
      if (i != null && this.order[i]) this.select(this.order[i].candidate);
    });
  }

  private clear(): void {
    this.chart?.destroy();
    this.chart = undefined;
    this.el.replaceChildren();
  }
}
