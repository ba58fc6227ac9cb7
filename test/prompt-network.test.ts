/**
 * Prompt policies on a robot over the network: `arbor sim-serve` briefs the policy in its reset
 * report (the instruction and the scene's facts, as the in-process sim does in the first
 * observation), so a planner's episode over rosbridge, and over ROS 2 when it is sourced, is the
 * in-process episode: the same plan, outcome and score. Each run talks to a fresh Messages API
 * server on 127.0.0.1 (test/fixtures/planner-model.ts), so both see the same prompt-cache state
 * and pay the same.
 */
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolvePolicy, type PolicyFile } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { parseBackend } from '../src/robot/links.ts';
import { ros2Unavailable } from '../src/robot/ros2.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';
import { startMessagesServer } from './fixtures/messages-server.ts';
import { plannerModel } from './fixtures/planner-model.ts';
import { SORT_SCENARIO, sortScenario } from './fixtures/prompt-study.ts';
import { startSimServe } from './sim-serve-helpers.ts';
import { useTestRosDomain } from './ros-domain.ts';

// A ROS domain of this file's own (see ros-domain.ts), before anything starts ROS 2.
useTestRosDomain();

const sc = await loadScenario(SORT_SCENARIO);
const CAREFUL = sc.policy.prompt!.choices.system![2];
const SEEDS = [0, 1, 2, 3];
const execFileAsync = promisify(execFile);

/** What an episode comes to, with the plan the model was asked for. */
interface Outcome {
  seed: number;
  success: boolean;
  outcome: string;
  score: number;
  calls: number;
  instructions: string[];
}

/** Runs the seeds on `backend` (in-process when undefined) against a fresh planner server. */
async function runSeeds(backend?: string): Promise<Outcome[]> {
  const server = await startMessagesServer(plannerModel());
  const policy: PolicyFile = resolvePolicy({ kind: 'prompt', config: { base_url: server.url, system: CAREFUL, scene: { format: 'json', facts: ['colour', 'size', 'position', 'distance'] } } }, sc);
  let runner: EpisodeRunner | undefined;
  try {
    runner = await EpisodeRunner.create(sc, backend === undefined ? undefined : parseBackend(backend));
    const outcomes: Outcome[] = [];
    for (const seed of SEEDS) {
      const before = server.requests.length;
      const run = await runner.run(policy, seed);
      // The instruction is what the brief said: it is the first user turn of the planner's call.
      const instructions = server.requests.slice(before).map((r) => /Instruction: ([^\n]*)/.exec(JSON.stringify(r.body.messages))?.[1] ?? '');
      outcomes.push({ seed, success: run.success, outcome: run.outcome, score: run.score, calls: run.metrics.llm_calls as number, instructions });
    }
    return outcomes;
  } finally {
    await runner?.close();
    await server.close();
  }
}

let inProcess: Outcome[];
beforeAll(async () => {
  inProcess = await runSeeds();
}, 120_000);

describe('prompt policies over the network', () => {
  it('plans from the brief sim-serve gives at reset, over rosbridge: the in-process outcomes, scores to the last bit', async () => {
    // The in-process runs planned, and not all alike: the comparison below has something to compare.
    expect(inProcess.every((o) => o.calls >= 1 && o.instructions[0].length > 0)).toBe(true);
    expect(new Set(inProcess.map((o) => o.instructions[0])).size).toBeGreaterThan(1);
    expect(inProcess.some((o) => o.success)).toBe(true);
    const served = await startSimServe(SORT_SCENARIO, ['--rosbridge', '0']);
    try {
      expect(await runSeeds(`rosbridge://127.0.0.1:${served.port}`)).toEqual(inProcess);
    } finally {
      await served.stop();
    }
  }, 300_000);

  it('runs a whole prompt study over rosbridge with the study\'s reply cache: the episodes of the same study in-process', async () => {
    const choices = { system: [CAREFUL], scene_facts: [['colour'], ['colour', 'size', 'position', 'distance']], replan: [false, true] };
    const budget = { seeds: 4, validation: 2, candidates: 3, patience: 1, batch: 2, choices };
    /** Runs the study with `args` against a fresh planner server; its episodes by candidate, split and seed. */
    const study = async (args: string[]) => {
      const { dir, file } = sortScenario(budget);
      const server = await startMessagesServer(plannerModel());
      try {
        const db = join(dir, 'arbor.db');
        const env = { ...process.env, ANTHROPIC_API_KEY: 'test-key', ANTHROPIC_BASE_URL: server.url };
        const { stdout } = await execFileAsync(process.execPath, ['bin/arbor.js', 'run', file, '--db', db, '--json', ...args], { env, maxBuffer: 1 << 24 });
        const summary = JSON.parse(stdout) as { study: string; status: string };
        expect(summary.status).toBe('done');
        const store = Store.open(db, { readonly: true });
        try {
          const episodes = store.episodes({ studyId: summary.study }).map((e) => ({
            key: `${e.candidateId}/${e.split}/${e.seed}`, success: e.success, score: e.score, cached: e.metrics.cached_calls, paid: e.metrics.llm_calls,
          }));
          return { episodes: episodes.sort((a, b) => a.key.localeCompare(b.key)), replies: readdirSync(join(dir, 'artifacts', summary.study, 'replies'), { recursive: true }).filter((f) => String(f).endsWith('.json')).length };
        } finally {
          store.close();
        }
      } finally {
        await server.close();
      }
    };
    const local = await study(['--workers', '1']);
    // Re-planning that never re-plans sends the prompts of its parent: the cache answered them.
    expect(local.episodes.some((e) => (e.cached as number) > 0)).toBe(true);
    const served = await startSimServe(SORT_SCENARIO, ['--rosbridge', '0']);
    try {
      const remote = await study(['--backend', `rosbridge://127.0.0.1:${served.port}`]);
      expect(remote).toEqual(local);
    } finally {
      await served.stop();
    }
  }, 300_000);

  const noRos2 = ros2Unavailable();
  it.skipIf(noRos2 !== undefined)(`plans from the brief over ROS 2 (rclnodejs and DDS): the in-process outcomes${noRos2 ? ` — skipped: ${noRos2}` : ''}`, async () => {
    const served = await startSimServe(SORT_SCENARIO, ['--ros2', '--namespace', '/prompt']);
    try {
      expect(await runSeeds('ros2:/prompt')).toEqual(inProcess);
    } finally {
      await served.stop();
    }
  }, 300_000);
});
