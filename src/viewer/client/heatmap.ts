/**
 * A gauntlet's tier × axis heatmap: rows are tiers (nominal first), columns the tier's own world
 * (every axis drawn per seed) then each axis alone at that tier's extremes. A square shows its
 * worst world's success rate, coloured from red (0%) through amber to green (100%); its tooltip
 * gives every world behind it with success, Wilson 95% interval, n and the seeds lost against
 * nominal. Click a square to list its world's episodes. Hidden for studies that are not gauntlets.
 */
import type { GauntletMatrix, HeatCell } from '../../transfer/gauntlet-matrix.ts';
import { h } from './elements.ts';

/** Colour stops of the success rate: red at 0, amber at 0.5, green at 1 (RGB). */
const STOPS: [number, [number, number, number]][] = [
  [0, [178, 53, 47]],
  [0.5, [196, 150, 38]],
  [1, [46, 140, 84]],
];

/** The colour of a success rate in [0, 1], as `rgb(r, g, b)`. */
export function heatColour(rate: number): string {
  const r = Math.min(1, Math.max(0, rate));
  const i = r <= STOPS[1][0] ? 0 : 1;
  const [[a, from], [b, to]] = [STOPS[i], STOPS[i + 1]];
  const t = (r - a) / (b - a);
  return `rgb(${from.map((c, k) => Math.round(c + t * (to[k] - c))).join(', ')})`;
}

export class Heatmap {
  constructor(
    private readonly el: HTMLElement,
    /** Called with a world's candidate when its square is clicked. */
    private readonly select: (candidate: number) => void,
  ) {}

  /** Draws a gauntlet's matrix; undefined hides the heatmap. */
  show(matrix: GauntletMatrix | undefined): void {
    this.el.hidden = !matrix;
    if (!matrix) return this.el.replaceChildren();
    const pct = (v: number) => `${Math.round(100 * v)}%`;
    const head = h('tr', {}, h('th', {}, 'tier'), ...matrix.columns.map((c, i) => h('th', { class: i ? 'axis' : 'all' }, h('span', {}, c))));
    const rows = matrix.rows.map((row) =>
      h('tr', {}, h('th', { class: 'tier' }, row.tier), ...row.cells.map((worlds, i) => this.square(row.tier, matrix.columns[i], worlds))),
    );
    const source = matrix.source ? ` · the best (#${matrix.source.candidate}) of study ${matrix.source.study}` : '';
    this.el.replaceChildren(
      h('div', { class: 'heatmap-title' }, `gauntlet: success per tier × axis, ${matrix.seeds.length} paired seeds${source}`),
      h('div', { class: 'muted' }, `each axis alone at the tier's extremes (the worse one shown); nominal ${pct(matrix.rows[0].cells[0][0]?.successRate ?? 0)}; hover a square for its interval and lost seeds, click it for its episodes`),
      h('table', { class: 'heatmap' }, h('thead', {}, head), h('tbody', {}, ...rows)),
      h('div', { class: 'heatmap-legend muted' }, 'success ', ...[0, 0.5, 1].flatMap((r) => [h('span', { class: 'swatch', style: `background: ${heatColour(r)}` }), `${pct(r)} `]), '· framed: the tier with every axis drawn per seed · dark: not run'),
    );
  }

  /** One square: its worst world's rate, coloured, with every world in its tooltip; empty where nothing ran. */
  private square(tier: string, column: string, worlds: HeatCell[]): HTMLTableCellElement {
    const worst = worlds[0];
    if (!worst) return h('td', { class: 'empty', 'data-tier': tier, 'data-column': column, title: `${column} at ${tier}: not run` });
    const cell = h(
      'td',
      {
        'data-tier': tier, 'data-column': column, 'data-rate': String(worst.successRate), 'data-candidate': String(worst.candidate),
        style: `background: ${heatColour(worst.successRate)}`, title: worlds.map((w) => describe(w, tier)).join('\n'),
      },
      worst.n ? String(Math.round(100 * worst.successRate)) : '…',
    );
    cell.addEventListener('click', () => this.select(worst.candidate));
    return cell;
  }
}

/** A world in a line: `arm_kp=0.6 at T4: 11/12 = 92%, Wilson 95% [65%, 99%], n 12; lost vs nominal: seeds 1003; McNemar p 1.000`. */
export function describe(w: HeatCell, tier: string): string {
  const pct = (v: number) => `${Math.round(100 * v)}%`;
  const seeds = (list: number[]) => (list.length ? `seeds ${list.slice(0, 12).join(', ')}${list.length > 12 ? `, … (${list.length})` : ''}` : 'none');
  const where = w.label === tier || w.label === 'nominal' ? w.label : `${w.label} at ${tier}`;
  return `${where}: ${w.successes}/${w.n} = ${pct(w.successRate)}, Wilson 95% [${pct(w.interval[0])}, ${pct(w.interval[1])}], n ${w.n}; lost vs nominal: ${seeds(w.lost)}${w.gained.length ? `; gained: ${seeds(w.gained)}` : ''}; McNemar p ${w.p.toFixed(3)}`;
}
