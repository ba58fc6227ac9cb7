/** `arbor run`, `resume`, `studies`, `show`, `export`, `best`: studies and their results. */
import type { Command } from 'commander';
import { LiveFeed } from '../research/live.ts';
import { EvaluatorPool } from '../research/pool.ts';
import { createStudy, defaultStudyConfig, runStudy, type StudyConfig, type StudySummary } from '../research/study.ts';
import { loadScenario } from '../scenario/load.ts';
import { DEFAULT_STORE_PATH, Store } from '../store/store.ts';
import type { StudyRecord } from '../store/schema.ts';
import { exportMcap, type McapExportFlags } from './export-mcap.ts';
import { fixed, percent, table } from './format.ts';
import { progress } from './progress.ts';
import { parseInteger } from './sim-commands.ts';
import { publishLiveFeed, startLiveView } from './view.ts';

const DEFAULT_DB = DEFAULT_STORE_PATH;

interface RunFlags {
  researcher?: string;
  budgetEpisodes?: number;
  budgetCandidates?: number;
  wallTime?: number;
  seed?: number;
  workers?: number;
  db: string;
  json?: boolean;
  view?: boolean;
  port?: number;
}

export function registerStudyCommands(program: Command): void {
  const run = program
    .command('run')
    .description('run a study: propose, evaluate in parallel, keep what beats the best, validate')
    .argument('<scenario>', 'scenario YAML file')
    .option('--researcher <name>', 'cmaes or random', 'cmaes')
    .option('--budget-episodes <n>', 'training episodes in all', parseInteger)
    .option('--budget-candidates <n>', 'candidates in all, the baseline included', parseInteger)
    .option('--wall-time <s>', 'wall-clock seconds for the search', parseInteger)
    .option('--seed <n>', "seed of the researcher's random stream", parseInteger);
  withRunOptions(run).action(async (file: string, flags: RunFlags) => {
    const scenario = loadScenario(file);
    if (flags.researcher !== 'cmaes' && flags.researcher !== 'random') {
      throw new Error(`--researcher '${flags.researcher}' is not known; use cmaes or random.`);
    }
    const base = defaultStudyConfig(scenario);
    const config: StudyConfig = {
      ...base,
      researcher: flags.researcher,
      seed: flags.seed ?? base.seed,
      budget: {
        episodes: flags.budgetEpisodes ?? base.budget.episodes,
        candidates: flags.budgetCandidates ?? base.budget.candidates,
        wallTime: flags.wallTime ?? base.budget.wallTime,
      },
    };
    const store = Store.open(flags.db);
    const study = createStudy(store, scenario, config);
    process.stderr.write(`study ${study.id}: ${scenario.name}, ${config.researcher}, budget ${config.budget.episodes} episodes / ${config.budget.candidates} candidates / ${config.budget.wallTime} s, db ${flags.db}\n`);
    await runAndReport(store, study, flags);
  });

  const resume = program
    .command('resume')
    .description('continue a stopped or killed study where it stopped')
    .argument('<study>', 'study id (see arbor studies)');
  withRunOptions(resume).action(async (id: string, flags: RunFlags) => {
    const store = Store.open(flags.db);
    const study = requireStudy(store, id, flags.db);
    if (study.status === 'done') {
      process.stderr.write(`study ${id} is already done.\n`);
      printResults(store, study, flags.json);
      return;
    }
    process.stderr.write(`resuming study ${id} (${study.status})\n`);
    await runAndReport(store, study, flags);
  });

  program
    .command('studies')
    .description('list the studies in the database')
    .option('--db <path>', 'study database', DEFAULT_DB)
    .action((flags: { db: string }) => {
      const store = Store.open(flags.db, { readonly: true });
      const rows = store.studies().map((s) => {
        const summary = s.summary as Partial<StudySummary> | null;
        return [s.id, s.scenarioName, s.researcher, s.status, store.candidates(s.id).length, percent(summary?.validation?.success_rate), s.createdAt];
      });
      console.log(rows.length ? table(['study', 'scenario', 'researcher', 'status', 'candidates', 'validation', 'created'], rows) : `no studies in ${flags.db}`);
      store.close();
    });

  program
    .command('show')
    .description('the results table of a study: one row per candidate')
    .argument('<study>', 'study id')
    .option('--db <path>', 'study database', DEFAULT_DB)
    .option('--json', 'print the study and its rows as JSON')
    .action((id: string, flags: { db: string; json?: boolean }) => {
      const store = Store.open(flags.db, { readonly: true });
      printResults(store, requireStudy(store, id, flags.db), flags.json);
      store.close();
    });

  program
    .command('export')
    .description('export a study: its results rows (tsv, jsonl), or its episodes as one MCAP file for Foxglove and ros2 bag')
    .argument('<study>', 'study id')
    .requiredOption('--format <format>', 'tsv, jsonl or mcap')
    .option('--out <file>', 'mcap: write this file instead of stdout')
    .option('--candidate <n>', "mcap: only this candidate's episodes", parseInteger)
    .option('--episode <n>', 'mcap: only this episode', parseInteger)
    .option('--db <path>', 'study database', DEFAULT_DB)
    .action(async (id: string, flags: McapExportFlags & { format: string }) => {
      const store = Store.open(flags.db, { readonly: true });
      requireStudy(store, id, flags.db);
      if (flags.format === 'mcap') {
        await exportMcap(store, id, flags);
        return store.close();
      }
      for (const option of ['out', 'candidate', 'episode'] as const) {
        if (flags[option] !== undefined) throw new Error(`--${option} works with --format mcap only; the ${flags.format} rows are one per candidate of the whole study.`);
      }
      const rows = store.exportRows(id);
      if (flags.format === 'jsonl') {
        for (const row of rows) console.log(JSON.stringify(row));
      } else if (flags.format === 'tsv') {
        const clean = (v: string) => v.replace(/[\t\n]/g, ' ');
        console.log(['id', 'generation', 'score', 'success_rate', 'n_episodes', 'status', 'description', 'parent', 'rationale', 'params'].join('\t'));
        for (const r of rows) {
          const params = (r.body as { params?: unknown } | null)?.params ?? r.body;
          console.log([r.id, r.generation, r.score ?? '', r.success_rate ?? '', r.n_episodes ?? '', r.status, clean(r.description), r.parent ?? '', clean(r.rationale), JSON.stringify(params)].join('\t'));
        }
      } else {
        throw new Error(`--format '${flags.format}' is not known; use tsv, jsonl or mcap.`);
      }
      store.close();
    });

  program
    .command('best')
    .description('print the best candidate of a study as a policy file (arbor eval --policy takes it)')
    .argument('<study>', 'study id')
    .option('--db <path>', 'study database', DEFAULT_DB)
    .action((id: string, flags: { db: string }) => {
      const store = Store.open(flags.db, { readonly: true });
      const study = requireStudy(store, id, flags.db);
      const best = study.bestCandidate !== null ? store.candidate(study.bestCandidate) : store.candidates(id)[0];
      if (!best) throw new Error(`Study ${id} has no candidates yet.`);
      console.log(JSON.stringify(best.body, null, 2));
      store.close();
    });
}

/** The options `run` and `resume` share: workers, database, output, live viewing. */
function withRunOptions(command: Command): Command {
  return command
    .option('--workers <n>', 'worker threads (default: one per core)', parseInteger)
    .option('--db <path>', 'study database', DEFAULT_DB)
    .option('--json', 'print {study, baseline, best, validation} as JSON on stdout')
    .option('--view', 'serve the live viewer for this study (127.0.0.1)')
    .option('--port <n>', 'viewer port with --view (default 8080)', parseInteger);
}

function requireStudy(store: Store, id: string, db: string): StudyRecord {
  const study = store.study(id);
  if (!study) {
    const known = store.studies().slice(0, 5).map((s) => s.id);
    throw new Error(`No study '${id}' in ${db}.${known.length ? ` Recent: ${known.join(', ')}.` : ''} List them with 'arbor studies'.`);
  }
  return study;
}

/** Runs the study with a progress bar; Ctrl-C stops after the episodes in flight. */
async function runAndReport(store: Store, study: StudyRecord, flags: Pick<RunFlags, 'workers' | 'db' | 'json' | 'view' | 'port'>): Promise<void> {
  const scenario = loadScenario(study.scenarioPath);
  const config = study.config as unknown as StudyConfig;
  // Every run publishes its live feed: in-process with --view, else on a loopback relay that an
  // `arbor view` beside it discovers next to the database. Frames cost little when nobody watches.
  const feed = new LiveFeed();
  const pool = await EvaluatorPool.create(scenario.file, {
    workers: flags.workers,
    live: { study: study.id, fps: 60, onFrame: (frame) => feed.emit('frame', frame) },
  });
  const watcher = flags.view
    ? await startLiveView(feed, { dbPath: flags.db, port: flags.port ?? 8080 })
    : await publishLiveFeed(feed, flags.db);
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping: finishing the episodes in flight (Ctrl-C again to quit at once)...\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const bar = progress('study', config.budget.episodes, 'cand {candidates} | best {best} | success {success} | {phase}');
  let summary: StudySummary;
  try {
    summary = await runStudy(store, study.id, scenario, pool, {
      signal: abort.signal,
      onStored: (event) => {
        if (event.kind === 'episode') feed.emit('episode', { study: study.id, candidate: event.candidate, seed: event.seed ?? -1 });
        else feed.emit('candidate', { study: study.id, candidate: event.candidate });
      },
      onProgress: (p) => {
        // The wall-time budget usually binds first: estimate the episodes it allows.
        const rate = p.episodes / Math.max(p.elapsed, 1);
        const reachable = p.elapsed > 5 ? Math.min(config.budget.episodes, Math.round(rate * config.budget.wallTime)) : config.budget.episodes;
        bar.setTotal(Math.max(reachable, p.episodes));
        bar.update(p.episodes, { candidates: p.candidates, best: fixed(p.bestScore), success: percent(p.bestSuccess), phase: p.phase });
      },
    });
  } finally {
    bar.stop();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await pool.close();
    // The in-process viewer outlives the study (its results are worth a look); the relay does not.
    if (!flags.view || abort.signal.aborted) await watcher.close();
  }
  if (summary.status === 'stopped') {
    process.stderr.write(`study ${study.id} stopped; every finished episode is stored. Resume with:\n  arbor resume ${study.id} --db ${flags.db}\n`);
    process.exitCode = 130;
  }
  printResults(store, store.study(study.id)!, flags.json, summary);
  if (flags.view && !abort.signal.aborted) {
    process.stderr.write('the study is done; the viewer keeps serving its results. Ctrl-C stops it.\n');
    await new Promise<void>((done) => process.once('SIGINT', () => done()));
    await watcher.close();
  }
}

function printResults(store: Store, study: StudyRecord, json?: boolean, fresh?: StudySummary): void {
  const summary = fresh ?? (study.summary as unknown as StudySummary | null);
  if (json) {
    const figure = (f: { success_rate: number; score: number } | null | undefined) => (f ? { success_rate: f.success_rate, score: f.score } : null);
    console.log(JSON.stringify({
      study: study.id,
      status: study.status,
      baseline: figure(summary?.baseline),
      best: summary ? { candidate: summary.best.candidate, ...figure(summary.best), params: summary.best.params } : null,
      validation: summary?.validation ? { ...figure(summary.validation), seeds: summary.validation.seeds } : null,
      candidates: store.exportRows(study.id),
    }));
    return;
  }
  const rows = store.exportRows(study.id).map((r) => [r.id, r.generation, fixed(r.score), percent(r.success_rate), r.n_episodes ?? '-', r.status, r.description]);
  console.log(table(['candidate', 'gen', 'score', 'success', 'episodes', 'status', 'description'], rows));
  console.log('');
  console.log(`study:               ${study.id}`);
  console.log(`scenario:            ${study.scenarioName} (${study.scenarioPath})`);
  console.log(`researcher:          ${study.researcher}`);
  console.log(`status:              ${study.status}`);
  if (summary) {
    console.log(`best_candidate:      ${summary.best.candidate}`);
    console.log(`best_train_score:    ${fixed(summary.best.score)} (${summary.best.episodes} episodes, success ${percent(summary.best.success_rate)})`);
    if (summary.baseline) console.log(`baseline_validation: success ${percent(summary.baseline.success_rate)}, score ${fixed(summary.baseline.score)}`);
    if (summary.validation) console.log(`validation:          success ${percent(summary.validation.success_rate)}, score ${fixed(summary.validation.score)} on seeds ${summary.validation.seeds}`);
    console.log(`train_episodes:      ${summary.train_episodes}`);
    console.log(`wall_time_s:         ${fixed(summary.wall_time, 1)}`);
  }
  console.log(`results:             ${store.path} (arbor show ${study.id}; arbor best ${study.id} > policy.json)`);
}
