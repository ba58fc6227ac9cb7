/**
 * The server of `arbor mcp`: arbor as a Model Context Protocol server over stdio, so Claude Code or any MCP
 * client can run robot studies as its own tools: list and describe scenarios, run an episode or an
 * evaluation of a policy (JSON, a .ts/.js module, or inline), start, stop and resume studies (each in
 * its own `arbor` process, so the server stays responsive), read their results and episodes.
 * stdout is the protocol's: everything else goes to stderr or to the studies' log files.
 *
 * A client is not trusted with the machine: the files it names are checked (mcp-files.ts), episodes
 * run in worker threads (the protocol is answered meanwhile) and stop when their request is
 * cancelled, and studies and sim calls are capped in number. When the client goes away, the
 * studies stop as Ctrl-C would stop them, resumable.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { codePolicyGuide } from '../policy/code.ts';
import { PolicyFile, baselinePolicy, loadPolicyFile, resolvePolicy } from '../policy/file.ts';
import { scenarioBrief } from '../researchers/claude-prompt.ts';
import type { EpisodeResult } from '../evaluation/evaluator.ts';
import { evaluatePolicy } from '../evaluation/evaluate.ts';
import { resultEvidence, storedEvidence } from '../study/evidence.ts';
import { workerCount } from '../evaluation/pool.ts';
import { incumbent } from '../study/study.ts';
import { studySummaryOf } from '../study/config.ts';
import { loadScenario, preloadTasks, type LoadedScenario } from '../scenario/load.ts';
import { RESEARCHER_NAMES, SEED_MAX } from '../scenario/schema.ts';
import { Store } from '../store/store.ts';
import { POLICY_FILE, SCENARIO_FILE, checkedDir, checkedFile, fileAccess, type FileAccess } from './mcp-files.ts';
import { StudyProcesses } from './mcp-studies.ts';
import { describeError, parseSeedRange } from './options.ts';

/** How long stop_study, and the server when its client leaves, wait for a study to stop. */
const STOP_WAIT_MS = 60_000;

/** The options of `arbor mcp`. */
export interface McpOptions {
  /** The study database. */
  db: string;
  /** Where list_scenarios looks by default. */
  scenarios: string;
  /** Folders the tools may read under (default: the current folder). */
  root?: string[];
  /** Let the tools read anywhere. */
  anyPath: boolean;
  /** Studies running at once. */
  maxStudies: number;
  /** run_episode and evaluate calls running at once. */
  maxRuns: number;
}

/** An argument passed on to an `arbor` command line: never an option. */
const Operand = (what: string) => z.string().min(1).regex(/^[^-]/, `${what} must not start with '-' (it would be read as an option)`);
const ScenarioPath = Operand('a scenario path').describe('scenario YAML file');
const StudyId = Operand('a study id');

/** A policy as MCP tools take it: a file path, or the policy itself. */
const PolicyInput = z
  .union([z.string().describe('a policy file: JSON, or a .ts/.js code policy module'), z.record(z.string(), z.unknown()).describe('a policy: {"kind": "params", "params": {...}} or {"kind": "code", "source": "..."}')])
  .optional()
  .describe('the policy; absent: the scenario defaults');

/** A tool result of JSON. */
function json(value: unknown) {
  return { content: [{ type: 'text' as const, text: JSON.stringify(value, null, 1) }] };
}

/** Runs a tool body; an error comes back as the tool's error with arbor's message. */
async function guarded<T>(body: () => Promise<T> | T): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw new Error(describeError(err));
  }
}

/** What the tools share. */
interface Context {
  /** Absolute path of the study database. */
  db: string;
  /** The server's options. */
  options: McpOptions;
  /** Where the tools may read. */
  access: FileAccess;
  /** The studies this server started. */
  studies: StudyProcesses;
  /** Runs a sim call within `--max-runs`, with a signal that aborts when the request is cancelled or the server closes. */
  simCall: <T>(request: AbortSignal, body: (signal: AbortSignal) => Promise<T>) => Promise<T>;
}

/** The MCP server with arbor's tools, and how to stop what it runs. */
export function createMcpServer(options: McpOptions): { server: McpServer; shutdown: () => Promise<void> } {
  const server = new McpServer({ name: 'arbor', version: readVersion() });
  const db = resolve(options.db);
  const closing = new AbortController();
  let running = 0;
  const simCall = async <T>(request: AbortSignal, body: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    if (running >= options.maxRuns) {
      throw new Error(`arbor mcp already runs ${running} run_episode or evaluate calls, its limit (--max-runs ${options.maxRuns}); wait for one to end, or cancel it.`);
    }
    running++;
    try {
      return await guarded(() => body(AbortSignal.any([request, closing.signal])));
    } finally {
      running--;
    }
  };
  const context: Context = { db, options, access: fileAccess(options.root, options.anyPath), studies: new StudyProcesses(db, options.maxStudies), simCall };
  registerScenarioTools(server, context);
  registerStudyTools(server, context);
  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopped ??= (async () => {
      closing.abort(new Error('arbor mcp is closing'));
      await context.studies.stopAll(STOP_WAIT_MS);
    })();
    return stopped;
  };
  return { server, shutdown };
}

/** Scenarios kept loaded (a client names the same few again and again). */
const SCENARIO_CACHE = 16;

/**
 * Loads scenario arguments. A load holds the thread for 0.1-0.4 s (more on a busy machine), so
 * loads run one at a time, each after the requests that came in meanwhile were answered, and a
 * loaded scenario is kept until its file changes (size or time). Only the brief and the policy
 * checks use it: episodes load the scenario afresh in their workers.
 */
function scenarioLoader(access: FileAccess): (path: string) => Promise<LoadedScenario> {
  const loaded = new Map<string, { stamp: string; scenario: Promise<LoadedScenario> }>();
  let queue: Promise<unknown> = Promise.resolve();
  return (path) => {
    const file = checkedFile(access, path, SCENARIO_FILE);
    const { mtimeMs, size } = statSync(file);
    const stamp = `${mtimeMs}:${size}`;
    const cached = loaded.get(file);
    if (cached?.stamp === stamp) return cached.scenario;
    const scenario = queue.then(() => setImmediate()).then(() => loadScenario(file));
    queue = scenario.catch(() => undefined);
    loaded.delete(file);
    loaded.set(file, { stamp, scenario });
    scenario.catch(() => {
      if (loaded.get(file)?.scenario === scenario) loaded.delete(file);
    });
    if (loaded.size > SCENARIO_CACHE) loaded.delete(loaded.keys().next().value!);
    return scenario;
  };
}

/** The tools that read scenarios and run policies. */
function registerScenarioTools(server: McpServer, context: Context): void {
  const { access, options, simCall } = context;
  const scenarioOf = scenarioLoader(access);
  const policyOf = (input: string | Record<string, unknown> | undefined, scenario: LoadedScenario): PolicyFile => {
    if (input === undefined) return baselinePolicy(scenario);
    return typeof input === 'string' ? loadPolicyFile(checkedFile(access, input, POLICY_FILE), scenario) : resolvePolicy(input, scenario, 'policy');
  };

  server.registerTool('list_scenarios', {
    description: 'The scenario files in a folder: name, task kind, description and parameters of each (or why it does not load).',
    inputSchema: { dir: z.string().optional().describe(`folder (default ${options.scenarios})`) },
  }, ({ dir }) => guarded(async () => {
    const folder = checkedDir(access, dir ?? options.scenarios, 'dir');
    const files = readdirSync(folder).filter((f) => /\.ya?ml$/.test(f)).sort();
    const listed: Record<string, unknown>[] = [];
    // One after the other (scenarioOf loads one at a time anyway).
    for (const file of files.map((f) => join(folder, f))) {
      try {
        const sc = await scenarioOf(file);
        listed.push({ file, name: sc.name, task: sc.task.kind, description: sc.description.trim(), params: Object.keys(sc.policy.params) });
      } catch (err) {
        listed.push({ file, error: describeError(err) });
      }
    }
    return json(listed);
  }));

  server.registerTool('describe_scenario', {
    description: 'A scenario in full: task, episode, robot, controller parameters (range, default, meaning), budget, and the code-policy contract with its helper API.',
    inputSchema: { scenario: ScenarioPath },
  }, ({ scenario }) => guarded(async () => {
    const sc = await scenarioOf(scenario);
    return json({ ...scenarioBrief(sc), budget: sc.budget, researcher: sc.researcher, code_policy: codePolicyGuide(sc) });
  }));

  server.registerTool('run_episode', {
    description: "Runs one episode of a policy and returns its score, terms, metrics and a summary of what happened (phases, where the tool was when it grasped, gripper and contact events, the object's trajectory). Cancelling the request stops the episode.",
    inputSchema: { scenario: ScenarioPath, seed: z.number().int().min(0).max(SEED_MAX), policy: PolicyInput },
  }, ({ scenario, seed, policy }, { signal }) => simCall(signal, async (aborted) => {
    const sc = await scenarioOf(scenario);
    // In a worker thread, as evaluate's episodes: the server answers meanwhile, and a cancel stops it at once.
    let run: EpisodeResult | undefined;
    await evaluatePolicy(sc, policyOf(policy, sc), [seed], 1, (result) => (run = result), undefined, aborted);
    if (!run) throw new Error(`The episode of seed ${seed} ended without a result.`);
    return json(resultEvidence(sc, run));
  }));

  server.registerTool('evaluate', {
    description: 'Runs a policy on a range of seeds in parallel workers: success rate, mean score, spread, and every episode (as arbor eval --json). Cancelling the request stops its episodes.',
    inputSchema: { scenario: ScenarioPath, seeds: z.string().describe('A..B inclusive, e.g. 0..15'), policy: PolicyInput, workers: z.number().int().min(1).max(64).optional() },
  }, ({ scenario, seeds, policy, workers }, { signal }) => simCall(signal, async (aborted) => {
    const sc = await scenarioOf(scenario);
    const list = parseSeedRange(seeds);
    return json(await evaluatePolicy(sc, policyOf(policy, sc), list, workerCount({ workers, jobs: list.length }).count, undefined, undefined, aborted));
  }));

  server.registerTool('start_study', {
    description: `Starts a study (arbor run) in the background and returns its id at once; follow it with study_status, stop it with stop_study. At most ${options.maxStudies} run at once. Database: ${context.db}.`,
    inputSchema: {
      scenario: ScenarioPath,
      researcher: z.enum(RESEARCHER_NAMES).optional(),
      model: z.string().optional(),
      budget_episodes: z.number().int().positive().optional(),
      budget_candidates: z.number().int().positive().optional(),
      wall_time: z.number().positive().optional().describe('seconds'),
      max_cost_usd: z.number().nonnegative().optional(),
      seed: z.number().int().min(0).optional(),
      workers: z.number().int().min(1).optional(),
    },
  }, (input) => guarded(async () => {
    const flags: [string, unknown][] = [
      ['--researcher', input.researcher], ['--model', input.model], ['--budget-episodes', input.budget_episodes], ['--budget-candidates', input.budget_candidates],
      ['--wall-time', input.wall_time], ['--max-cost-usd', input.max_cost_usd], ['--seed', input.seed], ['--workers', input.workers],
    ];
    const scenario = checkedFile(access, input.scenario, SCENARIO_FILE);
    // `--flag=value` and `--` before the scenario: no value a client sends is read as an option.
    const args = ['run', '--db', context.db, ...flags.flatMap(([flag, v]) => (v === undefined ? [] : [`${flag}=${String(v)}`])), '--', scenario];
    return json(await context.studies.start(args));
  }));
}

/** The tools that follow, stop and read studies. */
function registerStudyTools(server: McpServer, context: Context): void {
  const { db, studies } = context;

  server.registerTool('resume_study', {
    description: 'Resumes a stopped or killed study (arbor resume) in the background.',
    inputSchema: { study: StudyId, workers: z.number().int().min(1).optional() },
  }, ({ study, workers }) => guarded(async () => json(await studies.start(['resume', '--db', db, ...(workers ? [`--workers=${workers}`] : []), '--', study], study))));

  server.registerTool('stop_study', {
    description: 'Stops a study this server started, as Ctrl-C would: the episodes in flight finish, the study is marked stopped, and resume_study continues it later. Waits until it has stopped (at most a minute).',
    inputSchema: { study: StudyId },
  }, ({ study }) => guarded(async () => {
    const ended = await studies.stop(study, STOP_WAIT_MS);
    return withStore(db, (store) => {
      const record = requireStudy(store, study);
      return json({ study, status: record.status, stop_reason: record.stopReason, process: ended ? 'exited' : 'still stopping' });
    });
  }));

  server.registerTool('study_status', {
    description: 'Where a study is: status, why it stopped, dollars spent, the best and its validation figures, and its process and the last lines of its log when this server started it.',
    inputSchema: { study: z.string() },
  }, ({ study }) => guarded(() => withStore(db, (store) => {
    const record = requireStudy(store, study);
    return json({
      study, status: record.status, stop_reason: record.stopReason, cost_usd: record.costUsd, candidates: store.candidates(study).length,
      train_episodes: store.episodes({ studyId: study, split: 'train' }).length, summary: studySummaryOf(record),
      ...studies.describe(study),
    });
  })));

  server.registerTool('read_results', {
    description: 'The results table of a study: one row per candidate (id, generation, score, success rate, status keep|discard|crash|invalid, cost, description, note).',
    inputSchema: { study: z.string(), last: z.number().int().min(1).optional().describe('only the newest rows') },
  }, ({ study, last }) => guarded(() => withStore(db, (store) => {
    requireStudy(store, study);
    const rows = store.exportRows(study).map((r) => ({ id: r.id, generation: r.generation, kind: PolicyFile.safeParse(r.body).data?.kind ?? null, status: r.status, score: r.score, success_rate: r.success_rate, episodes: r.n_episodes, cost_usd: r.cost_usd, description: r.description, note: r.note }));
    return json(last ? rows.slice(-last) : rows);
  })));

  server.registerTool('read_episodes', {
    description: "A candidate's training episodes: seed, outcome, score, terms, metrics, crash reason and the summary of what happened.",
    inputSchema: { study: z.string(), candidate: z.number().int(), limit: z.number().int().min(1).max(64).default(8), failed_only: z.boolean().default(false) },
  }, ({ study, candidate, limit, failed_only }) => guarded(() => withStore(db, async (store) => {
    const record = requireStudy(store, study);
    const sc = await loadScenario(record.scenarioPath);
    const episodes = store.episodes({ candidateId: candidate, split: 'train' }).filter((e) => e.studyId === study && (!failed_only || !e.success)).slice(0, limit);
    return json(episodes.map((e) => storedEvidence(store, sc, e)));
  })));

  server.registerTool('best_policy', {
    description: 'The best candidate of a study as a policy (what arbor best prints): JSON, or the module source of a code policy.',
    inputSchema: { study: z.string() },
  }, ({ study }) => guarded(() => withStore(db, (store) => {
    requireStudy(store, study);
    const best = incumbent(store, study);
    const policy = PolicyFile.safeParse(best?.body);
    if (!best || !policy.success) throw new Error(`Study ${study} has no readable best candidate yet.`);
    return json({ candidate: best.id, policy: policy.data });
  })));
}

/** Opens the database read-only for one tool call. */
async function withStore<T>(db: string, body: (store: Store) => T | Promise<T>): Promise<T> {
  const store = Store.open(db, { readonly: true });
  try {
    return await body(store);
  } finally {
    store.close();
  }
}

function requireStudy(store: Store, id: string) {
  const study = store.study(id);
  if (!study) throw new Error(`No study '${id}' in ${store.path}; start one with start_study, or list them with arbor studies --db ${store.path}.`);
  return study;
}

function readVersion(): string {
  const pkg = z.object({ version: z.string() }).safeParse(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')));
  return pkg.success ? pkg.data.version : '0.0.0';
}

/** The longest protocol error written to stderr (a hostile message is echoed in some of the SDK's). */
const ERROR_CHARS = 500;

/**
 * Serves arbor's tools on stdin/stdout until the client closes stdin (or sends SIGINT or SIGTERM);
 * then stops the studies and episodes it runs. When the SDK gives up on the stream itself (a
 * message over its 10 MB limit), it says why on stderr and exits with 1.
 */
export async function serveMcp(options: McpOptions): Promise<void> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  const { server, shutdown } = createMcpServer(options);
  // The task modules, imported now: their first import holds the thread for half a second or more,
  // which a request would otherwise wait behind.
  await preloadTasks();
  const transport = new StdioServerTransport();
  let lastError: string | undefined;
  let clientLeft = false;
  server.server.onerror = (err) => {
    lastError = err.message.slice(0, ERROR_CHARS);
    process.stderr.write(`arbor mcp: ${lastError}\n`);
  };
  server.server.onclose = () => {
    if (!clientLeft) {
      process.stderr.write(`arbor mcp: stopping, the stream cannot go on: ${lastError ?? 'the transport closed'}\n`);
      process.exitCode = 1;
    }
    void shutdown().then(() => {
      // Whatever still holds the event loop (a study that would not stop) must not keep the server.
      setTimeout(() => process.exit(), 1000).unref();
    });
  };
  const leave = () => {
    clientLeft = true;
    void transport.close();
  };
  process.stdin.once('end', leave);
  process.once('SIGINT', leave);
  process.once('SIGTERM', leave);
  await server.connect(transport);
  process.stderr.write(`arbor mcp: serving on stdio (studies in ${resolve(options.db)})\n`);
}
