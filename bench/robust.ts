/**
 * A robust study against a nominal one (issue 18 §3's must-show): both search pick-and-place with
 * the same researcher seed and budget, the nominal study in the calibrated sim's own world, the
 * robust one with every training world drawn per seed at a tier of the axes a calibration fits
 * (kp, damping, command delay: what stays uncertain after `arbor calibrate`). Then both bests run
 * on stand-in robots (fixed perturbations the studies never saw as such) on the same 64 seeds:
 * success with Wilson 95% intervals, the paired difference (robust − nominal) with Newcombe's
 * interval and McNemar's exact p.
 *
 * Slow (two studies and a few hundred episodes); never part of the test suite. Environment:
 * ARBOR_BENCH_ROBUST_TIER (default T4), ARBOR_BENCH_ROBUST_WALL (seconds per study, default 240),
 * ARBOR_BENCH_ROBUST_SEED (researcher seed, default 1).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execSync } from 'node:child_process';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { PolicyFile } from '../src/policy/file.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { pairedDifference, wilson } from '../src/scoring/stats.ts';
import { defaultStudyConfig, type StudySummary } from '../src/study/config.ts';
import { createStudy, incumbent, runStudy } from '../src/study/study.ts';
import { Store } from '../src/store/store.ts';
import { perturbSource } from '../src/scenario/perturbation-draw.ts';

const TIER = process.env.ARBOR_BENCH_ROBUST_TIER ?? 'T4';
const WALL = Number(process.env.ARBOR_BENCH_ROBUST_WALL ?? 240);
const SEED = Number(process.env.ARBOR_BENCH_ROBUST_SEED ?? 1);
const SEEDS = Array.from({ length: 64 }, (_, i) => 2000 + i); // neither training nor validation seeds
/** Stand-in robots: test/calibrate.test.ts's (slower, more damped, two ticks late), and the T4 corner. */
const STAND_INS = { 'kp 0.7, damping 1.8, delay 2': 'arm_kp=0.7,arm_damping=1.8,command_delay=2', 'kp 0.6, damping 2.0, delay 3': 'arm_kp=0.6,arm_damping=2,command_delay=3' };

/** pick-place with only the calibrated axes in its perturbations block, and the wall-time budget of the bench. */
function benchScenario(dir: string): string {
  const root = resolve('.');
  const text = readFileSync('scenarios/pick-place.yaml', 'utf8')
    .replace('robot: ../robots/', `robot: ${root}/robots/`)
    .replace('world: ../sim/', `world: ${root}/sim/`)
    .replace(/^perturbations:[\s\S]*?(?=^#|^budget:)/m, [
      'perturbations:',
      '  axes:',
      '    arm_kp:        { kind: kp, scale: [0.6, 1.4] }',
      '    arm_damping:   { kind: damping, scale: [0.5, 2.0] }',
      '    command_delay: { kind: command_delay, ticks: [0, 3] }',
      '',
    ].join('\n'))
    .replace(/^( {2}wall_time:).*$/m, `$1 ${WALL}`);
  const file = join(dir, 'pick-place-robust.yaml');
  writeFileSync(file, text);
  return file;
}

const rate = (k: number, n: number) => {
  const { low, high } = wilson(k, n);
  return `${((100 * k) / n).toFixed(1)}% [${(100 * low).toFixed(1)}–${(100 * high).toFixed(1)}%] n=${n}`;
};

async function study(scenario: LoadedScenario, pool: EvaluatorPool, db: string, robust: boolean): Promise<{ summary: StudySummary; policy: PolicyFile; seconds: number }> {
  const store = Store.open(db);
  const config = defaultStudyConfig(scenario, { researcher: 'cmaes', seed: SEED, ...(robust ? { robust: { tier: TIER, perturbations: scenario.perturbations! } } : {}) });
  const record = createStudy(store, scenario, config);
  const started = performance.now();
  const summary = await runStudy(store, record.id, scenario, pool);
  const policy = PolicyFile.parse(incumbent(store, record.id)!.body);
  store.close();
  return { summary, policy, seconds: (performance.now() - started) / 1000 };
}

const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-robust-'));
const scenario = await loadScenario(benchScenario(dir));
console.log(`# robust (${TIER} of kp, damping, command delay) vs nominal study on pick-place, researcher cmaes seed ${SEED}, ${WALL} s wall each`);
console.log(`load_average_before: ${execSync('uptime').toString().trim().replace(/.*load average: /, '')}`);
const pool = await EvaluatorPool.create(scenario.file);
try {
  const runs = { nominal: await study(scenario, pool, join(dir, 'nominal.db'), false), robust: await study(scenario, pool, join(dir, 'robust.db'), true) };
  for (const [name, r] of Object.entries(runs)) {
    const v = r.summary.validation!;
    const t = r.summary.validation_tier;
    const figure = (f: { success_rate: number | null; episodes: number }) => rate(Math.round((f.success_rate ?? 0) * f.episodes), f.episodes);
    console.log(`${name}_study: ${r.seconds.toFixed(0)} s, ${r.summary.train_episodes} training episodes, ${r.summary.candidates} candidates, stopped by ${r.summary.stop_reason}; validation nominal ${figure(v)}${t ? `, at ${t.tier} ${figure(t)}` : ''}`);
  }
  for (const [label, values] of Object.entries(STAND_INS)) {
    const world = perturbSource(values, scenario);
    const outcomes: Record<string, boolean[]> = {};
    for (const [name, r] of Object.entries(runs)) {
      const results = await pool.evaluate(SEEDS.map((seed) => ({ policy: r.policy, seed, perturbation: world(seed) })));
      outcomes[name] = results.map((x) => x.ok && x.success);
    }
    const d = pairedDifference(outcomes.nominal, outcomes.robust);
    console.log(`\n## stand-in: ${label} (seeds ${SEEDS[0]}..${SEEDS.at(-1)})`);
    console.log(`nominal_best_success: ${rate(d.first, d.n)}`);
    console.log(`robust_best_success:  ${rate(d.second, d.n)}`);
    console.log(`paired_difference:    ${(100 * d.difference).toFixed(1)} points [${(100 * d.interval.low).toFixed(1)}, ${(100 * d.interval.high).toFixed(1)}] (robust − nominal; robust only ${d.onlySecond}, nominal only ${d.onlyFirst}), McNemar p = ${d.p.toPrecision(3)}`);
  }
  console.log(`\nload_average_after: ${execSync('uptime').toString().trim().replace(/.*load average: /, '')}`);
} finally {
  await pool.close();
}
