/**
 * The gauntlet's wall time for the tuned pick-and-place policy, as issue 18 asks: nominal, the
 * tiers T1..T4 and each axis alone at the widest tier's extremes, on 64 paired seeds, through the
 * `arbor gauntlet` command a user runs (2 worker threads: this project's 2-core machines). Prints
 * the wall time, episodes per second, and success per tier and per swept axis with its Wilson
 * interval. One run; ARBOR_BENCH_GAUNTLET_SEEDS (default 1000..1063) narrows it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CellReport, GauntletReport } from '../src/transfer/gauntlet.ts';

const SEEDS = process.env.ARBOR_BENCH_GAUNTLET_SEEDS ?? '1000..1063';
const db = join(mkdtempSync(join(tmpdir(), 'arbor-bench-gauntlet-')), 'gauntlet.db');
const args = ['bin/arbor.js', 'gauntlet', 'scenarios/pick-place.yaml', '--policy', 'scenarios/pick-place.tuned.json', '--seeds', SEEDS, '--workers', '2', '--db', db, '--json'];

const load = loadavg()[0];
const started = performance.now();
const report = JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] })) as GauntletReport;
const seconds = (performance.now() - started) / 1000;

const cells: CellReport[] = [report.nominal, ...report.tiers, ...report.axes.flatMap((a) => a.extremes)];
const episodes = cells.reduce((n, c) => n + c.n, 0);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const row = (c: CellReport) => `| ${c.label} | ${c.successes}/${c.n} | ${pct(c.success_rate)} [${pct(c.interval[0])}–${pct(c.interval[1])}] |`;

console.log(`\n## gauntlet: tuned pick-and-place, seeds ${SEEDS}, 2 workers (load average ${load.toFixed(1)} at the start)\n`);
console.log(`${cells.length} worlds, ${episodes} episodes in ${seconds.toFixed(0)} s: ${(episodes / seconds).toFixed(1)} episodes/s\n`);
console.log('| world | successes | success [Wilson 95%] |\n| --- | --- | --- |');
for (const c of [report.nominal, ...report.tiers]) console.log(row(c));
for (const a of report.axes.filter((x) => x.sensitivity > 0)) for (const c of a.extremes) console.log(row(c));
const unharmed = report.axes.filter((a) => a.sensitivity === 0).map((a) => a.axis);
if (unharmed.length > 0) console.log(`\nAxes that cost no seed alone at their extremes: ${unharmed.join(', ')}.`);
