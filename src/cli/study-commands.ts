/** `arbor run`, `resume`, `studies`, `show`, `export`, `best`: studies and their results. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { Option } from 'commander';
import { baselinePolicy, PolicyFile } from '../policy/file.ts';
import { checkPlannerReachable } from '../policy/prompt-planner.ts';
import type { Evaluator } from '../evaluation/evaluator.ts';
import { LiveFeed } from '../evaluation/live.ts';
import { EvaluatorPool, workerCount } from '../evaluation/pool.ts';
import { parseRedisAddress } from '../evaluation/queue/connection.ts';
import { metered, ThroughputMeter } from '../evaluation/throughput.ts';
import { createStudy, incumbent, runStudy } from '../study/study.ts';
import { describeStop, parseStudyConfig, readStudyConfig, studyConfigInput, studyConfigOf, studySummaryOf, type StudyConfig, type StudySummary } from '../study/config.ts';
import { prepareResearcher } from '../researchers/registry.ts';
import { parseBackend } from '../robot/links.ts';
import { loadScenario, robustProblem, withCalibration, type LoadedScenario } from '../scenario/load.ts';
import { scenarioWithFlags } from './sim-commands.ts';
import { KEEP_RULES, RESEARCHER_NAMES, type KeepRule, type ResearcherName } from '../scenario/schema.ts';
import { DEFAULT_STORE_PATH, Store } from '../store/store.ts';
import type { StudyRecord } from '../store/schema.ts';
import type { McapExportFlags } from './export-mcap.ts';
import { fixed, percent, successText, table } from './format.ts';
import { wilsonOfRate } from '../scoring/stats.ts';
import { integer, number, seed } from './options.ts';
import { progress } from './progress.ts';
import { publishLiveFeed, startLiveView } from './view.ts';

const DEFAULT_DB = DEFAULT_STORE_PATH;
/** How often a run tells the dashboard its per-worker throughput (ms). */
const THROUGHPUT_EVERY_MS = 2000;

interface RunFlags {
  researcher?: ResearcherName;
  budgetEpisodes?: number;
  budgetCandidates?: number;
  wallTime?: number;
  patience?: number;
  targetSuccess?: number;
  maxCostUsd?: number;
  model?: string;
  seed?: number;
  backend?: string;
  operator?: boolean;
  dryRun?: boolean;
  calibration?: string;
  robust?: string;
  keepIf?: KeepRule;
  workers?: number;
  evaluator?: string;
  maxResultMb?: number;
  db: string;
  json?: boolean;
  view?: boolean;
  port?: number;
  scriptedAnswers?: boolean;
}

export function registerStudyCommands(program: Command): void {
  registerRun(program);
  registerResume(program);
  registerListing(program);
  registerExport(program);
  registerBest(program);
}

/** `arbor run`: a new study of a scenario, run to its end. */
function registerRun(program: Command): void {
  const run = program
    .command('run')
    .description('run a study: propose, evaluate in parallel, keep what beats the best, validate')
    .argument('<scenario>', 'scenario YAML file')
    .addOption(new Option('--researcher <name>', "who proposes (default: the scenario's researcher.name, else cmaes)").choices(RESEARCHER_NAMES))
    .option('--model <name>', 'the model of an LLM researcher')
    .option('--budget-episodes <n>', 'training episodes in all', integer(1, 10_000_000))
    .option('--budget-candidates <n>', 'candidates in all, the baseline included', integer(1, 100_000))
    .option('--wall-time <s>', 'wall-clock seconds for the search', number(1, 30 * 24 * 3600))
    .option('--patience <n>', 'stop after n generations in a row keep no candidate', integer(1, 100_000))
    .option('--target-success <rate>', "stop once the best's training success rate reaches rate (0..1) over two generations of seeds", number(0, 1))
    .option('--max-cost-usd <dollars>', 'stop before the researcher spends more than this', number(0, 1e6))
    .option('--seed <n>', "seed of the researcher's random stream", seed)
    .option('--backend <backend>', 'where episodes run: sim, rosbridge://HOST:PORT, ros2[:NAMESPACE]', 'sim')
    .option('--operator', 'supervise every episode: sim gate for new candidates, run/skip/stop before each, scene resets, any key an e-stop, reduced speed first')
    .option('--dry-run', 'play the first episodes in sim through the safety envelope and report every clamp and rejection; send nothing, store nothing')
    .option('--calibration <file>', "load the sim world with this calibration instead of the scenario's (the study records it)")
    .option('--robust <tier>', "a robust study: every training episode's world drawn per seed at this tier of the scenario's perturbations: block; validation reports nominal and this tier (overrides budget.robust)")
    .addOption(new Option('--keep-if <rule>', "what a keep needs beyond a better mean: no_tier_regresses also refuses a significant paired loss in the nominal world or at the robust tier (overrides budget.keep_if)").choices(KEEP_RULES));
  withRunOptions(run).action(async (file: string, flags: RunFlags) => {
    checkOperatorInput(flags.operator ?? false, flags);
    const scenario = await scenarioWithFlags(file, flags);
    if (parseBackend(flags.backend ?? 'sim').kind === 'ros2' && !flags.dryRun) {
      // Refused before a study exists, so a machine without ROS 2 leaves no failed study behind.
      const missing = (await import('../robot/ros2.ts')).ros2Unavailable();
      if (missing) throw new Error(`--backend ${flags.backend} needs ROS 2: ${missing}.`);
    }
    // The config is parsed once, where the flags join the scenario's defaults, and passed on from there.
    const base = studyConfigInput(scenario, robustFlags(scenario, flags));
    // A study of prompt configs calls a model in every episode: refuse now without a way to reach it.
    const baseline = baselinePolicy(scenario);
    if (baseline.kind === 'prompt' && !flags.dryRun) checkPlannerReachable(baseline.config);
    if (flags.dryRun) {
      const { dryRun, formatDryRun } = await import('./dry-run.ts');
      const rows = await dryRun(scenario, parseStudyConfig(base));
      if (flags.json) console.log(JSON.stringify({ backend: flags.backend ?? 'sim', episodes: rows }));
      else console.log(formatDryRun(rows, flags.backend ?? 'sim', scenario.robotConfig.safety.reduced_speed));
      if (rows.some((r) => r.breach !== null)) process.exitCode = 1;
      return;
    }
    const config = parseStudyConfig(prepareResearcher({
      ...base,
      researcher: flags.researcher ?? base.researcher,
      seed: flags.seed ?? base.seed,
      model: flags.model ?? base.model,
      patience: flags.patience ?? base.patience,
      targetSuccess: flags.targetSuccess ?? base.targetSuccess,
      backend: flags.backend ?? base.backend,
      operator: flags.operator ?? false,
      budget: {
        episodes: flags.budgetEpisodes ?? base.budget.episodes,
        candidates: flags.budgetCandidates ?? base.budget.candidates,
        wallTime: flags.wallTime ?? base.budget.wallTime,
        costUsd: flags.maxCostUsd ?? base.budget.costUsd,
      },
    }));
    checkEvaluatorFlags(flags, config.backend);
    const store = Store.open(flags.db);
    const study = createStudy(store, scenario, config);
    const stops = [config.patience !== undefined ? `patience ${config.patience}` : '', config.targetSuccess !== undefined ? `target success ${percent(config.targetSuccess)}` : ''].filter(Boolean);
    const robust = config.robust ? `, robust at ${config.robust.tier}${config.keepIf === 'no_tier_regresses' ? ' (no tier regresses)' : ''}` : '';
    process.stderr.write(
      `study ${study.id}: ${scenario.name}, ${config.researcher}${robust}, budget ${config.budget.episodes} episodes / ${config.budget.candidates} candidates / ${config.budget.wallTime} s` +
        `${config.budget.costUsd !== undefined ? ` / $${config.budget.costUsd}` : ''}${stops.length ? `, stops early at ${stops.join(' or ')}` : ''}, db ${flags.db}\n`,
    );
    await runAndReport(store, study, config, flags, scenario);
  });
}

/** The robust tier and keep rule of `--robust` and `--keep-if` over the scenario's, refused in the scenario loader's words when they do not fit its block. */
function robustFlags(scenario: LoadedScenario, flags: Pick<RunFlags, 'robust' | 'keepIf'>): Partial<StudyConfig> {
  const tier = flags.robust ?? scenario.budget.robust;
  const keepIf = flags.keepIf ?? scenario.budget.keep_if;
  const problem = robustProblem(scenario.perturbations, tier, keepIf);
  if (problem) throw new Error(`${problem.field === 'robust' ? `--robust ${tier}` : `--keep-if ${keepIf}`}: ${problem.message}; ${problem.hint}.`);
  return {
    ...(tier !== undefined && scenario.perturbations ? { robust: { tier, perturbations: scenario.perturbations } } : {}),
    ...(keepIf !== undefined ? { keepIf } : {}),
  };
}

/** `arbor resume`: a stopped or killed study, continued. */
function registerResume(program: Command): void {
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
    const config = studyConfigOf(study);
    checkOperatorInput(prepareResearcher(config).operator, flags);
    process.stderr.write(`resuming study ${id} (${study.status})\n`);
    await runAndReport(store, study, config, flags);
  });
}

/** `arbor studies` and `arbor show`: what the database holds. */
function registerListing(program: Command): void {
  program
    .command('studies')
    .description('list the studies in the database')
    .option('--db <path>', 'study database', DEFAULT_DB)
    .action((flags: { db: string }) => {
      const store = Store.open(flags.db, { readonly: true });
      const rows = store.studies().map((s) => {
        const summary = studySummaryOf(s);
        return [s.id, s.scenarioName, s.researcher, s.status, store.candidates(s.id).length, successText(summary?.validation?.success_rate, summary?.validation?.episodes), s.stopReason ?? '-', s.createdAt];
      });
      console.log(rows.length ? table(['study', 'scenario', 'researcher', 'status', 'candidates', 'validation', 'stopped by', 'created'], rows) : `no studies in ${flags.db}`);
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
}

/** `arbor export`: a study's rows (tsv, jsonl) or episodes (mcap). */
function registerExport(program: Command): void {
  program
    .command('export')
    .description('export a study: its results rows (tsv, jsonl), or its episodes as one MCAP file for Foxglove and ros2 bag')
    .argument('<study>', 'study id')
    .requiredOption('--format <format>', 'tsv, jsonl or mcap')
    .option('--out <file>', 'mcap: write this file instead of stdout')
    .option('--candidate <n>', "mcap: only this candidate's episodes", integer(1))
    .option('--episode <n>', 'mcap: only this episode', integer(1))
    .option('--db <path>', 'study database', DEFAULT_DB)
    .action(async (id: string, flags: McapExportFlags & { format: string }) => {
      const store = Store.open(flags.db, { readonly: true });
      requireStudy(store, id, flags.db);
      if (flags.format === 'mcap') {
        const { exportMcap } = await import('./export-mcap.ts');
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
        console.log(['id', 'generation', 'score', 'success_rate', 'n_episodes', 'status', 'description', 'parent', 'rationale', 'cost_usd', 'note', 'policy'].join('\t'));
        for (const r of rows) {
          const params = (r.body as { params?: unknown } | null)?.params ?? r.body;
          console.log([r.id, r.generation, r.score ?? '', r.success_rate ?? '', r.n_episodes ?? '', r.status, clean(r.description), r.parent ?? '', clean(r.rationale), r.cost_usd, clean(r.note ?? ''), JSON.stringify(params)].join('\t'));
        }
      } else {
        throw new Error(`--format '${flags.format}' is not known; use tsv, jsonl or mcap.`);
      }
      store.close();
    });
}

/** `arbor best`: the best candidate as a policy file. */
function registerBest(program: Command): void {
  program
    .command('best')
    .description('print the best candidate of a study as a policy file (arbor eval --policy takes it): JSON, or the module source of a code policy')
    .argument('<study>', 'study id')
    .option('--db <path>', 'study database', DEFAULT_DB)
    .option('--out <file>', 'write it to this file instead of stdout')
    .action((id: string, flags: { db: string; out?: string }) => {
      const store = Store.open(flags.db, { readonly: true });
      requireStudy(store, id, flags.db);
      const best = incumbent(store, id);
      if (!best) throw new Error(`Study ${id} has no candidates yet.`);
      const policy = PolicyFile.safeParse(best.body);
      if (!policy.success) throw new Error(`The best candidate of study ${id} (${best.id}) has a policy this arbor cannot read (${policy.error.issues[0]?.message}).`);
      const text = policy.data.kind === 'code' ? policy.data.source : `${JSON.stringify(policy.data, null, 2)}\n`;
      if (flags.out) {
        writeFileSync(flags.out, text);
        process.stderr.write(`wrote candidate ${best.id} (${policy.data.kind}) to ${flags.out}; run it with arbor eval SCENARIO --seeds 0..63 --policy ${flags.out}\n`);
      } else {
        process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
      }
      store.close();
    });
}

/** The options `run` and `resume` share: workers, database, output, live viewing. */
function withRunOptions(command: Command): Command {
  return command
    .option('--workers <n>', 'worker threads (default: one per core; capped by the cores)', integer(1, 4096))
    .option('--evaluator <redis>', 'run the episodes on `arbor worker` processes through the Redis queue at redis://HOST:PORT instead of in this process')
    .option('--max-result-mb <n>', 'with --evaluator: the largest compressed episode result (trace included) a worker may send', number(1, 512))
    .option('--db <path>', 'study database', DEFAULT_DB)
    .option('--json', 'print {study, baseline, best, validation} as JSON on stdout')
    .option('--view', 'serve the live viewer for this study (127.0.0.1)')
    .option('--port <n>', 'viewer port with --view (default 8080)', integer(0, 65535))
    .option('--scripted-answers', "with --operator: the operator's answers come scripted on stdin (a pipe, not a person at a terminal); read them in order, and log in the study that they were scripted");
}

function requireStudy(store: Store, id: string, db: string): StudyRecord {
  const study = store.study(id);
  if (!study) {
    const known = store.studies().slice(0, 5).map((s) => s.id);
    throw new Error(`No study '${id}' in ${db}.${known.length ? ` Recent: ${known.join(', ')}.` : ''} List them with 'arbor studies'.`);
  }
  return study;
}

/**
 * Runs the study with a progress bar; Ctrl-C stops after the episodes in flight. Whatever goes
 * wrong, the study is never left marked `running`: a failure marks it `failed` with the reason.
 */
async function runAndReport(store: Store, study: StudyRecord, config: StudyConfig, flags: EvaluatorFlags, scenario?: LoadedScenario): Promise<void> {
  let summary: StudySummary;
  try {
    summary = await runWithEvaluator(store, study, config, flags, scenario ?? (await studyScenario(study, config)));
  } catch (error) {
    if (store.study(study.id)?.status === 'running') {
      store.updateStudy(study.id, { status: 'failed' });
      store.addEvent(study.id, { kind: 'stop', message: `The run failed: ${(error as Error)?.message ?? String(error)}` });
    }
    throw error;
  }
  if (summary.status === 'stopped') {
    process.stderr.write(`study ${study.id} stopped; every finished episode is stored. Resume with:\n  arbor resume ${study.id} --db ${flags.db}\n`);
    process.exitCode = 130;
  }
  printResults(store, store.study(study.id)!, flags.json, summary, config);
}

/** The scenario of a stored study, in the world it was started in: its calibration, as recorded in its config. */
async function studyScenario(study: StudyRecord, config: StudyConfig): Promise<LoadedScenario> {
  const loaded = await loadScenario(study.scenarioPath);
  const calibration = config.calibration;
  return calibration ? withCalibration(loaded, calibration) : loaded;
}

/** The flags that choose and size where a run's episodes go, and how it is shown. */
type EvaluatorFlags = Pick<RunFlags, 'workers' | 'evaluator' | 'maxResultMb' | 'db' | 'json' | 'view' | 'port' | 'scriptedAnswers'>;

/**
 * Refuses an operator run whose answers nobody types at the prompt: from a pipe, answers written in
 * advance would run episodes on the robot unattended. `--scripted-answers` says they are scripted.
 */
export function checkOperatorInput(operator: boolean, flags: Pick<EvaluatorFlags, 'scriptedAnswers'>): void {
  if (flags.scriptedAnswers && !operator) throw new Error("--scripted-answers says the operator's answers on stdin are scripted; it needs --operator.");
  if (operator && !flags.scriptedAnswers && !process.stdin.isTTY) {
    throw new Error(
      '--operator asks a person at a terminal before every episode, and stdin is not a terminal: answers piped or typed in advance would run the robot unattended. ' +
        'Run it in a terminal, or pass --scripted-answers to say the answers on stdin are scripted (the study then logs that they were).',
    );
  }
}

/**
 * Where the episodes run: the in-process pool of worker threads, or (`--evaluator redis://...`)
 * the queue of remote workers. It is a flag of each run, not part of the stored study: it is how
 * a run executes, not what the study is, and a study may be resumed on another evaluator (the
 * build check keeps the episodes identical wherever they run).
 */
/** Refuses flags that do not go together, before a study is created for nothing. */
function checkEvaluatorFlags(flags: EvaluatorFlags, backend: string): void {
  if (flags.evaluator === undefined) {
    if (flags.maxResultMb !== undefined) throw new Error('--max-result-mb sizes the results of remote workers; it needs --evaluator redis://HOST:PORT.');
    return;
  }
  if (flags.workers !== undefined) throw new Error('--workers sizes the in-process pool; with --evaluator the episodes run on `arbor worker` processes, sized by their --concurrency.');
  if (backend !== 'sim') throw new Error(`This study runs its episodes on '${backend}', where the robot is; --evaluator sends episodes to remote simulation workers. Leave out --evaluator.`);
  parseRedisAddress(flags.evaluator);
}

/** Runs the study on its evaluator, with the live feed, the throughput meter, a progress bar and Ctrl-C. `scenario` and `config` are the study's, loaded and parsed once. */
async function runWithEvaluator(store: Store, study: StudyRecord, config: StudyConfig, flags: EvaluatorFlags, scenario: LoadedScenario): Promise<StudySummary> {
  // Every run publishes its live feed: in-process with --view, else on a loopback relay that an
  // `arbor view` beside it discovers next to the database. The workers post frames only while one watches.
  const feed = new LiveFeed();
  // Per-worker throughput for the dashboard's workers panel, every couple of seconds.
  const meter = new ThroughputMeter();
  const evaluator = metered(await openEvaluator(store, study, scenario, config, flags, feed), meter);
  const tellThroughput = () => {
    const workers = meter.snapshot();
    if (workers.length) feed.emit('workers', { study: study.id, workers });
  };
  const reportThroughput = setInterval(tellThroughput, THROUGHPUT_EVERY_MS);
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
  const bar = progress('study', config.budget.episodes);
  try {
    return await runStudy(store, study.id, scenario, evaluator, {
      config,
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
        bar.update(p.episodes, { cand: p.candidates, best: fixed(p.bestScore), success: successText(p.bestSuccess, p.bestEpisodes), cost: p.costUsd > 0 ? `$${p.costUsd.toFixed(4)}` : undefined, phase: p.phase });
      },
    });
  } finally {
    clearInterval(reportThroughput);
    tellThroughput();
    bar.stop();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    await evaluator.close();
    if (flags.view && !abort.signal.aborted) {
      process.stderr.write('the viewer keeps serving the results. Ctrl-C stops it.\n');
      await new Promise<void>((done) => process.once('SIGINT', () => done()));
    }
    await watcher.close();
  }
}

/**
 * The evaluator of a run: the queue of remote workers (`--evaluator redis://...`); worker threads
 * for the sim; for a robot on the network, or under an operator, one link in this process (one
 * robot runs one episode at a time, and the operator's terminal is here).
 */
async function openEvaluator(store: Store, study: StudyRecord, scenario: LoadedScenario, config: StudyConfig, flags: EvaluatorFlags, feed: LiveFeed): Promise<Evaluator> {
  checkEvaluatorFlags(flags, config.backend);
  if (flags.evaluator !== undefined) {
    // The scenario bundle remote workers load carries no calibration file yet.
    if (config.calibration) throw new Error(`This study's sim is calibrated (${config.calibration}); remote workers cannot load a calibration yet. Leave out --evaluator.`);
    if (config.robust) throw new Error(`This study is robust (at ${config.robust.tier}); remote workers cannot carry perturbations yet. Leave out --evaluator.`);
    const address = parseRedisAddress(flags.evaluator);
    // BullMQ and ioredis load only for a queue (a third of a second of every other arbor run's start).
    const { QueueEvaluator } = await import('../evaluation/queue/queue-evaluator.ts');
    const evaluator = await QueueEvaluator.create(address, scenario, {
      study: study.id,
      maxResultBytes: flags.maxResultMb !== undefined ? Math.round(flags.maxResultMb * 2 ** 20) : undefined,
      onNotice: (message) => {
        process.stderr.write(`arbor: ${message}\n`);
        store.addEvent(study.id, { kind: 'evaluator', message });
      },
    });
    process.stderr.write(`arbor: episodes go to the queue at ${address.shown} (scenario bundle ${evaluator.bundleHash.slice(0, 12)}); start workers with: arbor worker ${address.shown}\n`);
    return evaluator;
  }
  // Model replies at temperature 0, shared by the workers and by every run of this study.
  const cacheDir = join(store.dir, 'artifacts', study.id, 'replies');
  if (config.backend === 'sim' && !config.operator) {
    const sizing = workerCount({ workers: flags.workers, backend: config.backend });
    if (sizing.capped) process.stderr.write(`arbor: ${sizing.capped}\n`);
    const pool = await EvaluatorPool.create(scenario.file, {
      workers: sizing.count,
      backend: config.backend,
      cacheDir,
      calibration: config.calibration,
      // Frames only while a viewer watches (--view, or `arbor view` on the relay): unwatched, they
      // cost each episode messages and this thread work that the workers' cores could use.
      live: { study: study.id, fps: 60, hidden: !feed.watched, onFrame: (frame) => feed.emit('frame', frame) },
    });
    feed.on('watched', (on) => pool.showLive(on));
    return pool;
  }
  const [{ LinkEvaluator }, { TerminalOperator }] = await Promise.all([import('../evaluation/link-evaluator.ts'), import('./operator-console.ts')]);
  if (flags.workers !== undefined && flags.workers > 1) process.stderr.write(`arbor: --workers ${flags.workers} is ignored: one robot runs one episode at a time.\n`);
  if (config.operator && flags.scriptedAnswers) {
    const message = "The operator's answers are scripted (--scripted-answers): read from stdin in order, not typed at each prompt.";
    process.stderr.write(`arbor: ${message}\n`);
    store.addEvent(study.id, { kind: 'scripted-answers', message });
  }
  return LinkEvaluator.create(scenario, parseBackend(config.backend), {
    operator: config.operator ? new TerminalOperator(process.stdin, process.stderr, flags.scriptedAnswers ?? false) : undefined,
    cacheDir,
    // The viewer's live page shows the robot from its joint states, as it does the sim's workers.
    live: { study: study.id, fps: 30, onFrame: (frame) => feed.emit('frame', frame) },
    onEvent: (e) => {
      store.addEvent(study.id, { kind: e.kind, message: e.message, candidateId: e.candidate, data: e.data });
      if (!config.operator) process.stderr.write(`\narbor: ${e.message}\n`);
    },
  });
}

/** Prints a study's results; `config` is its config when the caller has parsed it already. */
function printResults(store: Store, study: StudyRecord, json?: boolean, fresh?: StudySummary, config?: StudyConfig): void {
  const summary = fresh ?? studySummaryOf(study);
  if (json) {
    // Every rate with its n and Wilson interval: a figure on 3 episodes must not read like one on 64.
    const figure = (f: { success_rate: number | null; score: number | null; episodes: number } | null | undefined) =>
      f ? { success_rate: f.success_rate, success_interval: f.success_rate === null ? null : wilsonOfRate(f.success_rate, f.episodes), n: f.episodes, score: f.score } : null;
    console.log(JSON.stringify({
      study: study.id,
      status: study.status,
      stop_reason: study.stopReason,
      cost_usd: study.costUsd,
      baseline: figure(summary?.baseline),
      best: summary ? { candidate: summary.best.candidate, ...figure(summary.best), params: summary.best.params } : null,
      validation: summary?.validation ? { ...figure(summary.validation), seeds: summary.validation.seeds } : null,
      ...(summary?.validation_tier ? { validation_tier: { tier: summary.validation_tier.tier, ...figure(summary.validation_tier), seeds: summary.validation_tier.seeds } } : {}),
      candidates: store.exportRows(study.id),
    }));
    return;
  }
  const showCost = store.exportRows(study.id).some((r) => r.cost_usd > 0) || study.costUsd > 0;
  const rows = store.exportRows(study.id).map((r) => [
    r.id, r.generation, fixed(r.score), successText(r.success_rate, r.n_episodes), r.n_episodes ?? '-', r.status, ...(showCost ? [`$${r.cost_usd.toFixed(4)}`] : []),
    r.status === 'invalid' || r.status === 'crash' ? `${r.description} — ${r.note ?? ''}`.slice(0, 160) : r.description,
  ]);
  console.log(table(['candidate', 'gen', 'score', 'success', 'episodes', 'status', ...(showCost ? ['cost'] : []), 'description'], rows));
  console.log('');
  console.log(`study:               ${study.id}`);
  console.log(`scenario:            ${study.scenarioName} (${study.scenarioPath})`);
  console.log(`researcher:          ${study.researcher}`);
  const stored = config ?? readStudyConfig(study.config).data;
  if (stored?.calibration) console.log(`calibration:         ${stored.calibration}`);
  if (stored?.robust) console.log(`robust:              ${stored.robust.tier} (training worlds drawn per seed at ${stored.robust.tier}; keep rule ${stored.keepIf ?? 'mean'})`);
  console.log(`status:              ${study.status}`);
  if (study.status === 'done' || study.stopReason) console.log(`stopped_by:          ${study.stopReason ?? '-'} (${describeStop(study.stopReason)})`);
  if (summary) {
    console.log(`best_candidate:      ${summary.best.candidate}`);
    console.log(`best_train_score:    ${fixed(summary.best.score)} (${summary.best.episodes} episodes, success ${successText(summary.best.success_rate, summary.best.episodes)})`);
    if (summary.baseline) console.log(`baseline_validation: success ${successText(summary.baseline.success_rate, summary.baseline.episodes)}, score ${fixed(summary.baseline.score)}`);
    if (summary.validation) console.log(`validation:          success ${successText(summary.validation.success_rate, summary.validation.episodes)}, score ${fixed(summary.validation.score)} on seeds ${summary.validation.seeds}${summary.validation_tier ? ' (nominal)' : ''}`);
    const tier = summary.validation_tier;
    if (tier) console.log(`validation_${tier.tier}:       success ${successText(tier.success_rate, tier.episodes)}, score ${fixed(tier.score)} on seeds ${tier.seeds} (the same seeds at ${tier.tier})`);
    console.log(`train_episodes:      ${summary.train_episodes}`);
    console.log(`wall_time_s:         ${fixed(summary.wall_time, 1)}`);
  }
  console.log(`cost_usd:            ${study.costUsd.toFixed(4)}`);
  console.log(`results:             ${store.path} (arbor show ${study.id}; arbor best ${study.id} > policy.json)`);
}
