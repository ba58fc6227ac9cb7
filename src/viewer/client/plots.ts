/**
 * Replay plots (uPlot): joint positions, gripper, wrench, the height of objects that move, then the task's own plots
 * (a force with its band, ...), with a cursor that follows the timeline and a click that seeks it.
 * In compare mode the gripper, object and task plots also draw the second episode, dashed.
 */
import uPlot from 'uplot';
import type { EpisodeFrames, SeriesInfo } from '../protocol.ts';

const BUILT_IN: { group: SeriesInfo['group']; title: string }[] = [
  { group: 'joints', title: 'joint positions' },
  { group: 'gripper', title: 'gripper' },
  { group: 'wrench', title: 'wrist wrench' },
  { group: 'object', title: 'object height' },
];
const COLORS = ['#4e9af1', '#f1a54e', '#5fd38d', '#e2615b', '#b48cf2', '#4fd1d9', '#e0d35a'];
/** How a band's edges are drawn. */
const BAND = { stroke: '#8a93a3', dash: [3, 3], width: 1 };

/** Narrowest a plot is drawn (px). */
const MIN_WIDTH = 240;
/** Most plots side by side. */
const MOST_COLUMNS = 3;
/** The container's horizontal padding and the gap between plots (px, as in style.css). */
const PADDING = 16;
const GAP = 12;

/** One plot to draw: its group and title, and the indices of its series in episode A. */
interface PlotGroup {
  group: SeriesInfo['group'];
  title: string;
  idx: number[];
}

/**
 * How wide each of `n` plots is drawn in `room` px: as few rows as the room allows (at most
 * three plots a row, none narrower than `MIN_WIDTH`), the plots spread evenly over them.
 */
export function plotWidth(n: number, room: number): number {
  const fit = Math.max(1, Math.min(MOST_COLUMNS, Math.floor((room - PADDING + GAP) / (MIN_WIDTH + GAP))));
  const rows = Math.max(1, Math.ceil(n / fit));
  const columns = Math.max(1, Math.ceil(n / rows));
  return Math.max(MIN_WIDTH, Math.floor((room - PADDING - GAP * (columns - 1)) / columns));
}

/** The plots of one (or two) episodes. */
export class Plots {
  private plots: { u: uPlot; times: ArrayLike<number> }[] = [];

  constructor(
    private readonly container: HTMLElement,
    /** Called with a time (s) when the user clicks a plot. */
    private readonly seek: (t: number) => void,
  ) {}

  /** Replaces the plots with those of `a` (and `b`, dashed, for comparison). */
  show(a: EpisodeFrames | undefined, b?: EpisodeFrames): void {
    this.clear();
    if (!a) return;
    const groups = [...BUILT_IN, ...(a.header.taskPlots ?? [])]
      .map(({ group, title }) => ({ group, title, idx: a.header.series.flatMap((s, i) => (s.group === group ? [i] : [])) }))
      .filter((g) => g.idx.length > 0);
    const width = plotWidth(groups.length, this.container.clientWidth);
    for (const g of groups) this.draw(g, width, a, b);
  }

  /** Draws one plot of `a` (with `b` dashed where the plot compares). */
  private draw({ group, title, idx }: PlotGroup, width: number, a: EpisodeFrames, b: EpisodeFrames | undefined): void {
    const units = [...new Set(idx.map((i) => a.header.series[i].unit))];
    const series: uPlot.Series[] = [{ label: 't (s)' }];
    let data: uPlot.AlignedData = [Array.from(a.times), ...idx.map((i) => Array.from(a.series[i]))];
    idx.forEach((i, k) => {
      const s = a.header.series[i];
      const look = s.band ? BAND : { stroke: COLORS[k % COLORS.length], width: 1.5 };
      series.push({ label: s.label, ...look, scale: s.unit, value: (_u, v) => (v == null ? '–' : v.toFixed(3)) });
    });
    const overlay = b && (group === 'gripper' || group === 'object' || group.startsWith('task:'));
    if (overlay) {
      const bIdx = idx.map((i) => b.header.series.findIndex((s) => s.key === a.header.series[i].key));
      const bData: uPlot.AlignedData = [Array.from(b.times), ...bIdx.map((j) => (j >= 0 ? Array.from(b.series[j]) : Array.from(b.times, () => null)))];
      data = uPlot.join([data, bData]);
      idx.forEach((i, k) => {
        const s = a.header.series[i];
        series.push({ label: `${s.label} (B)`, stroke: COLORS[k % COLORS.length], dash: [5, 4], width: 1.5, scale: s.unit, spanGaps: true, value: (_u, v) => (v == null ? '–' : v.toFixed(3)) });
      });
      series.forEach((s, k) => k > 0 && (s.spanGaps = true));
    }
    const axes: uPlot.Axis[] = [
      { stroke: '#aab', grid: { stroke: '#2a2f37' }, ticks: { stroke: '#2a2f37' } },
      ...units.map((unit, k) => ({ scale: unit, label: unit, side: k === 0 ? 3 : 1, stroke: '#aab', grid: { show: k === 0, stroke: '#2a2f37' }, ticks: { stroke: '#2a2f37' }, size: 46 }) as uPlot.Axis),
    ];
    const el = document.createElement('div');
    el.className = 'plot';
    el.dataset.group = group;
    this.container.append(el);
    const u = new uPlot(
      {
        title,
        width,
        height: 150,
        series,
        axes,
        scales: { x: { time: false } },
        legend: { live: true },
        cursor: { sync: { key: 'arbor-replay' }, drag: { x: false, y: false } },
      },
      data,
      el,
    );
    u.over.addEventListener('click', () => {
      if (u.cursor.left != null && u.cursor.left >= 0) this.seek(u.posToVal(u.cursor.left, 'x'));
    });
    this.plots.push({ u, times: data[0] as number[] });
  }

  /** Moves every plot's cursor to time `t` (s). */
  cursor(t: number): void {
    for (const { u } of this.plots) {
      const left = u.valToPos(t, 'x');
      if (Number.isFinite(left)) u.setCursor({ left, top: -10 }, false);
    }
  }

  clear(): void {
    for (const { u } of this.plots) u.destroy();
    this.plots = [];
    this.container.replaceChildren();
  }
}
