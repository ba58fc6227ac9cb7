/**
 * The server of `arbor mcp`: arbor as a Model Context Protocol server over stdio, so Claude Code or any MCP
 * client can run robot studies as its own tools: list and describe scenarios, run an episode or an
 * evaluation of a policy (JSON, a .ts/.js module, or inline), start and resume studies (each in
 * its own `arbor` process, so the server stays responsive), read their results and episodes.
 * stdout is the protocol's: everything else goes to stderr or to the studies' log files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { codePolicyGuide } from '../policy/code.ts';
import { PolicyFile, baselinePolicy, loadPolicyFile, resolvePolicy } from '../policy/file.ts';
import { scenarioBrief } from '../researchers/claude-prompt.ts';
import { EpisodeRunner } from '../evaluation/episode.ts';
import { evaluatePolicy } from '../evaluation/evaluate.ts';
import { resultEvidence, storedEvidence } from '../study/evidence.ts';
import { workerCount } from '../evaluation/pool.ts';
import { incumbent } from '../study/study.ts';
import { studySummaryOf } from '../study/config.ts';
import { loadScenario, type LoadedScenario } from '../scenario/load.ts';
import { RESEARCHER_NAMES, SEED_MAX } from '../scenario/schema.ts';
import { Store } from '../store/store.ts';
import { describeError, parseSeedRange } from './options.ts';

const ARBOR_BIN = fileURLToPath(new URL('../../bin/arbor.js', import.meta.url));

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

function policyOf(input: string | Record<string, unknown> | undefined, scenario: LoadedScenario): PolicyFile {
  if (input === undefined) return baselinePolicy(scenario);
  return typeof input === 'string' ? loadPolicyFile(input, scenario) : resolvePolicy(input, scenario, 'policy');
}

/** The MCP server with arbor's tools. */
export function createMcpServer(options: { db: string; scenarios: string }): McpServer {
  const server = new McpServer({ name: 'arbor', version: readVersion() });
  const db = resolve(options.db);
  /** Study processes this server started, by study id. */
  const running = new Map<string, { child: ChildProcess; log: string }>();
  registerScenarioTools(server, options.scenarios);
  registerStudyTools(server, db, running);
  return server;
}

/** The tools on scenarios and policies: list, describe, run an episode, evaluate. */
function registerScenarioTools(server: McpServer, scenarios: string): void {
  server.registerTool('list_scenarios', {
    description: 'The scenario files in a folder: name, task kind, description and parameters of each (or why it does not load).',
    inputSchema: { dir: z.string().optional().describe(`folder (default ${scenarios})`) },
  }, ({ dir }) => guarded(async () => {
    const folder = dir ?? scenarios;
    const files = readdirSync(folder).filter((f) => /\.ya?ml$/.test(f)).sort();
    return json(await Promise.all(files.map(async (f) => {
      const file = join(folder, f);
      try {
        const sc = await loadScenario(file);
        return { file, name: sc.name, task: sc.task.kind, description: sc.description.trim(), params: Object.keys(sc.policy.params) };
      } catch (err) {
        return { file, error: describeError(err) };
      }
    })));
  }));

  server.registerTool('describe_scenario', {
    description: 'A scenario in full: task, episode, robot, controller parameters (range, default, meaning), budget, and the code-policy contract with its helper API.',
    inputSchema: { scenario: z.string().describe('scenario YAML file') },
  }, ({ scenario }) => guarded(async () => {
    const sc = await loadScenario(scenario);
    return json({ ...scenarioBrief(sc), budget: sc.budget, researcher: sc.researcher, code_policy: codePolicyGuide(sc) });
  }));

  server.registerTool('run_episode', {
    description: "Runs one episode of a policy and returns its score, terms, metrics and a summary of what happened (phases, where the tool was when it grasped, gripper and contact events, the object's trajectory).",
    inputSchema: { scenario: z.string(), seed: z.number().int().min(0).max(SEED_MAX), policy: PolicyInput },
  }, ({ scenario, seed, policy }) => guarded(async () => {
    const sc = await loadScenario(scenario);
    const resolved = policyOf(policy, sc);
    const runner = await EpisodeRunner.create(sc);
    try {
      const run = await runner.run(resolved, seed).then((r) => ({ ok: true as const, ...r }), (err: Error) => ({ ok: false as const, seed, reason: err.message }));
      return json(resultEvidence(sc, run));
    } finally {
      await runner.close();
    }
  }));

  server.registerTool('evaluate', {
    description: 'Runs a policy on a range of seeds in parallel workers: success rate, mean score, spread, and every episode (as arbor eval --json).',
    inputSchema: { scenario: z.string(), seeds: z.string().describe('A..B inclusive, e.g. 0..15'), policy: PolicyInput, workers: z.number().int().min(1).max(64).optional() },
  }, ({ scenario, seeds, policy, workers }) => guarded(async () => {
    const sc = await loadScenario(scenario);
    const list = parseSeedRange(seeds);
    return json(await evaluatePolicy(sc, policyOf(policy, sc), list, workerCount({ workers, jobs: list.length }).count));
  }));
}

/** The tools on studies in the database `db`: start, resume, follow, read results and episodes, the best. `running`: the study processes this server started. */
function registerStudyTools(server: McpServer, db: string, running: Map<string, { child: ChildProcess; log: string }>): void {
  server.registerTool('start_study', {
    description: `Starts a study (arbor run) in the background and returns its id at once; follow it with study_status. Database: ${db}.`,
    inputSchema: {
      scenario: z.string(),
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
    const args = ['run', input.scenario, '--db', db, ...flags.flatMap(([flag, v]) => (v === undefined ? [] : [flag, String(v)]))];
    return json(await startArbor(args, undefined, running, db));
  }));

  server.registerTool('resume_study', {
    description: 'Resumes a stopped or killed study (arbor resume) in the background.',
    inputSchema: { study: z.string(), workers: z.number().int().min(1).optional() },
  }, ({ study, workers }) => guarded(async () => json(await startArbor(['resume', study, '--db', db, ...(workers ? ['--workers', String(workers)] : [])], study, running, db))));

  server.registerTool('study_status', {
    description: 'Where a study is: status, why it stopped, dollars spent, the best and its validation figures, and the last lines of its log when this server started it.',
    inputSchema: { study: z.string() },
  }, ({ study }) => guarded(() => withStore(db, (store) => {
    const record = requireStudy(store, study);
    const proc = running.get(study);
    return json({
      study, status: record.status, stop_reason: record.stopReason, cost_usd: record.costUsd, candidates: store.candidates(study).length,
      train_episodes: store.episodes({ studyId: study, split: 'train' }).length, summary: studySummaryOf(record),
      ...(proc ? { process: proc.child.exitCode === null ? 'running' : `exited ${proc.child.exitCode}`, log: tail(proc.log, 8) } : {}),
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

/**
 * Starts `arbor ARGS` in its own process, its output in a log file beside the database, and
 * resolves with the study id once the process has printed it (or rejects with its log).
 */
function startArbor(args: string[], known: string | undefined, running: Map<string, { child: ChildProcess; log: string }>, db: string): Promise<{ study: string; db: string; log: string }> {
  const logFile = join(dirname(db), `arbor-mcp-${process.pid}-${Date.now()}.log`);
  const out = createWriteStream(logFile);
  const child = spawn(process.execPath, [ARBOR_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const entry = { child, log: '' };
  const collect = (d: Buffer) => {
    text += d.toString();
    entry.log = text;
    out.write(d);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  child.on('exit', () => out.end());
  return new Promise((resolveStart, reject) => {
    const timer = setInterval(() => {
      const id = known ?? /study (\S+):/.exec(text)?.[1];
      if (!id || (!known && !text.includes(`study ${id}:`))) return;
      clearInterval(timer);
      running.set(id, entry);
      resolveStart({ study: id, db, log: logFile });
    }, 50);
    child.on('exit', (code) => {
      clearInterval(timer);
      const id = known ?? /study (\S+):/.exec(text)?.[1];
      if (id) {
        running.set(id, entry);
        resolveStart({ study: id, db, log: logFile });
      } else {
        reject(new Error(`arbor ${args[0]} exited with code ${code} before starting a study:\n${tail(text, 12)}`));
      }
    });
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function readVersion(): string {
  const pkg = z.object({ version: z.string() }).safeParse(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')));
  return pkg.success ? pkg.data.version : '0.0.0';
}

/** Serves arbor's tools on stdin/stdout until the client closes. */
export async function serveMcp(options: { db: string; scenarios: string }): Promise<void> {
  const { StdioServerTransport } = await import('@modelcontextprotocol/sdk/server/stdio.js');
  await createMcpServer(options).connect(new StdioServerTransport());
  process.stderr.write(`arbor mcp: serving on stdio (studies in ${resolve(options.db)})\n`);
}
