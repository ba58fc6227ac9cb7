/** `arbor gauntlet`: one policy through the scenario's perturbation tiers and one-axis sweeps. */
import type { Command } from 'commander';
import { EvaluatorPool, workerCount } from '../evaluation/pool.ts';
import { resolvePolicy, type PolicyFile } from '../policy/file.ts';
import { checkPlannerReachable } from '../policy/prompt-planner.ts';
import { DEFAULT_STORE_PATH, Store } from '../store/store.ts';
import { incumbent } from '../study/study.ts';
import { widestTier } from '../scenario/perturbation-draw.ts';
import { gauntletCells, gauntletReport, parseTiers, runGauntlet, type CellReport, type GauntletReport } from '../transfer/gauntlet.ts';
import { GauntletRecord } from '../transfer/gauntlet-store.ts';
import { fixed, percent, table } from './format.ts';
import { choosePolicy, integer, parseSeedRange } from './options.ts';
import { progress } from './progress.ts';
import { scenarioWithFlags } from './sim-commands.ts';

interface GauntletFlags {
  policy?: string;
  study?: string;
  tiers?: string;
  sweepTiers?: string;
  seeds: number[];
  sweeps: boolean;
  workers?: number;
  db: string;
  calibration?: string;
  json?: boolean;
}

export function registerGauntlet(program: Command): void {
  program
    .command('gauntlet')
    .description('run a policy through the scenario\'s perturbation tiers and one-axis sweeps, paired on the same seeds: success with Wilson intervals, McNemar p against nominal, per-axis sensitivity, replayable failures')
    .argument('<scenario>', 'scenario YAML file (with a perturbations: block)')
    .option('--policy <file>', 'policy file (default: the scenario defaults)')
    .option('--study <id>', 'run the best candidate of this stored study (in --db) instead of a policy file')
    .option('--tiers <T0..T4>', 'the tiers to run: a range in the scenario\'s order, or a comma list (default: all)')
    .option('--sweep-tiers <T2,T4>', 'the tiers at whose extremes each axis is moved alone: a range or a comma list (default: the widest tier)')
    .option('--seeds <A..B>', 'seeds, the same in every tier and sweep', parseSeedRange, parseSeedRange('1000..1063'))
    .option('--no-sweeps', 'skip the one-axis sweeps (tiers only)')
    .option('--workers <n>', 'worker threads (default: one per core)', integer(1, 4096))
    .option('--db <path>', 'study database the episodes are stored in', DEFAULT_STORE_PATH)
    .option('--calibration <file>', 'load the world with this calibration instead of the scenario\'s')
    .option('--json', 'print the report as JSON on stdout, with the tier × axis matrix of the viewer\'s heatmap as `matrix`')
    .action(async (file: string, flags: GauntletFlags) => {
      if (flags.policy && flags.study) throw new Error('Give --policy FILE or --study ID, not both: the gauntlet runs one policy.');
      const scenario = await scenarioWithFlags(file, flags);
      const block = scenario.perturbations;
      if (!block) throw new Error(`${file} has no perturbations: block; add one (axes: and tiers:, see docs/sim-to-real.md) to run a gauntlet.`);
      const tiers = parseTiers(block, flags.tiers ?? Object.keys(block.tiers).join(','));
      const sweepTiers = flags.sweeps ? parseTiers(block, flags.sweepTiers ?? widestTier(block), '--sweep-tiers') : [];
      const cells = gauntletCells(block, tiers.filter((t) => block.tiers[t] > 0), sweepTiers);
      const seeds = flags.seeds;
      const sizing = workerCount({ workers: flags.workers, jobs: seeds.length });
      if (sizing.capped) process.stderr.write(`arbor: ${sizing.capped}\n`);
      const store = Store.open(flags.db);
      let source: { study: string; candidate: number } | undefined;
      let policy: PolicyFile;
      let policyArg = flags.policy;
      try {
        if (flags.study) {
          const best = incumbent(store, flags.study);
          if (!best) throw new Error(`--study ${flags.study}: ${flags.db} has no study of that id with a candidate; arbor studies lists them.`);
          policy = resolvePolicy(best.body, scenario, `candidate ${best.id} of study ${flags.study}`);
          if (policy.kind === 'prompt') checkPlannerReachable(policy.config);
          source = { study: flags.study, candidate: best.id };
          // A replay reads the same policy back from the store.
          policyArg = `<(arbor best ${flags.study} --db ${flags.db})`;
        } else policy = choosePolicy(flags.policy, scenario);
      } catch (err) {
        store.close();
        throw err;
      }
      const bar = progress('gauntlet', cells.length * seeds.length);
      const pool = await EvaluatorPool.create(scenario.file, { workers: sizing.count, jobs: seeds.length, calibration: scenario.calibration?.file });
      try {
        const record = GauntletRecord.create(store, scenario, policy, cells, {
          tiers, sweepTiers, seeds: [seeds[0], seeds.at(-1)], sweeps: flags.sweeps, policy: flags.policy ?? null, source: source ?? null, calibration: scenario.calibration?.file ?? null,
        });
        let done = 0;
        const outcomes = await runGauntlet(policy, cells, seeds, pool, (cell, r) => {
          record.record(cell, r);
          bar.update(++done);
        });
        bar.stop();
        const report = gauntletReport(scenario, cells, seeds, outcomes, { scenarioArg: file, policyArg });
        record.finish(report);
        if (flags.json) console.log(JSON.stringify({ study: record.studyId, ...report, matrix: record.matrix() }));
        else printReport(report, record.studyId, flags.db);
      } finally {
        bar.stop();
        await pool.close();
        store.close();
      }
    });
}

/** Success, interval and the paired test of one cell, as table cells. */
function cellRow(c: CellReport): string[] {
  return [`${c.successes}/${c.n}`, percent(c.success_rate), `${percent(c.interval[0])}–${percent(c.interval[1])}`, `${c.difference >= 0 ? '+' : ''}${percent(c.difference)}`, `-${c.lost} +${c.gained}`, fixed(c.p, 4)];
}

function printReport(report: GauntletReport, study: string, db: string): void {
  const seeds = `${report.seeds[0]}..${report.seeds.at(-1)}`;
  console.log(`gauntlet ${report.scenario} on seeds ${seeds} (paired: every world on the same seeds), study ${study} in ${db}\n`);
  const head = ['successes', 'rate', 'Wilson 95%', 'vs nominal', 'seeds -lost +gained', 'McNemar p'];
  console.log(table(['world', ...head], [['nominal', ...cellRow(report.nominal)], ...report.tiers.map((t) => [`${t.tier} (${percent(t.fraction)} of ranges)`, ...cellRow(t)])]));
  if (report.axes.length && report.axes.some((a) => a.extremes.length)) {
    console.log(`\none axis at a time, at the extremes of tiers ${[...new Set(report.axes.flatMap((a) => a.extremes.flatMap((e) => e.tiers)))].join(', ')} (most sensitive first):`);
    console.log(table(['axis', 'kind', 'value', 'extreme of', ...head], report.axes.flatMap((a) => a.extremes.map((e) => [a.axis, a.kind, String(e.value), e.tiers.join(','), ...cellRow(e)]))));
  }
  const failures = [...report.tiers, ...report.axes.flatMap((a) => a.extremes)].filter((c) => c.first_failure && c.lost > 0);
  if (failures.length) {
    console.log(`\nfirst failure per world (succeeded nominally), to replay:`);
    for (const c of failures) console.log(`  ${c.label}: ${c.first_failure!.replay}`);
  }
  for (const a of report.axes) console.log(`sensitivity.${a.axis}: ${fixed(a.sensitivity)}`);
  for (const t of report.tiers) console.log(`success.${t.tier}: ${fixed(t.success_rate)} [${fixed(t.interval[0])}, ${fixed(t.interval[1])}]`);
}
