/**
 * Operator mode against `arbor sim-serve` in another process: the sim gate keeps a candidate that
 * breaches the envelope off the robot, new candidates run at reduced speed first, the operator's
 * run / skip / stop and the e-stop key are obeyed and logged; `arbor run --operator
 * --scripted-answers` reads its answers from stdin and logs them, and that they were scripted, in
 * the study; `--dry-run` checks the planned episodes and sends nothing.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolvePolicy, type PolicyFile } from '../src/policy/file.ts';
import { LinkEvaluator, type EpisodePlan, type Operator } from '../src/evaluation/link-evaluator.ts';
import { parseBackend } from '../src/robot/links.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { Store } from '../src/store/store.ts';
import { TOPIC } from '../src/trace/topics.ts';
import { tunedPolicy } from './helpers.ts';
import { ARBOR, startSimServe, type Served } from './sim-serve-helpers.ts';
import { smallScenario } from './study-helpers.ts';

const run = promisify(execFile);
const { file } = smallScenario({ candidates: 1, seeds: 2, validation: 2 });
let scenario: LoadedScenario;
let served: Served;
beforeAll(async () => {
  scenario = await loadScenario(file);
  served = await startSimServe(file, ['--rosbridge', '0']);
}, 90_000);
afterAll(() => served?.stop());

/** An operator who answers from a script and presses the stop key when told to. */
class ScriptedOperator implements Operator {
  readonly plans: EpisodePlan[] = [];
  estopAfterMs: number | undefined;
  constructor(private readonly answers: ('run' | 'skip' | 'stop')[]) {}
  async confirm(plan: EpisodePlan) {
    this.plans.push(plan);
    return this.answers.shift() ?? 'stop';
  }
  async sceneReset(): Promise<void> {
    throw new Error('sim-serve resets itself; the operator should not be asked');
  }
  armEstop(trigger: (reason: string) => void): () => void {
    if (this.estopAfterMs === undefined) return () => undefined;
    const timer = setTimeout(() => trigger('the operator pressed the stop key'), this.estopAfterMs);
    return () => clearTimeout(timer);
  }
}

/** Peak tool-point speed (m/s) along a trace's measured joint positions. */
function peakToolSpeed(evaluator: LinkEvaluator, trace: import('../src/trace/trace.ts').Trace): number {
  const joints = trace.topic(TOPIC.jointStates);
  const n = scenario.robotConfig.joints.length;
  const width = joints.fields.length;
  let peak = 0;
  let previous: number[] | undefined;
  for (let r = 0; r < joints.stamps.length; r++) {
    const p = Array.from(evaluator.runner.link.kinematics.pose(Float64Array.from(joints.data.subarray(r * width, r * width + n))).pos);
    if (previous) peak = Math.max(peak, Math.hypot(p[0] - previous[0], p[1] - previous[1], p[2] - previous[2]) / (joints.stamps[r] - joints.stamps[r - 1]));
    previous = p;
  }
  return peak;
}

describe('operator mode', () => {
  it('gates new candidates in sim, runs their first episodes at reduced speed, and obeys run, skip and stop', async () => {
    const operator = new ScriptedOperator(['run', 'run', 'skip', 'run', 'stop']);
    const events: { kind: string; message: string }[] = [];
    const evaluator = await LinkEvaluator.create(scenario, parseBackend(`rosbridge://127.0.0.1:${served.port}`), { operator, onEvent: (e) => events.push(e) });
    try {
      const tuned = resolvePolicy(tunedPolicy(), scenario, 'test');
      // Deep enough to put the tool point under the table top: the envelope rejects those commands.
      const reckless: PolicyFile = resolvePolicy({ kind: 'params', params: { ...tunedPolicy().params, grasp_depth: 0.08, approach_height: 0.01 } }, scenario, 'test');
      const jobs = [
        { policy: tuned, seed: 0, candidate: 1 },
        { policy: tuned, seed: 1, candidate: 1 },
        { policy: tuned, seed: 2, candidate: 1 },
        { policy: reckless, seed: 0, candidate: 2 },
        { policy: tuned, seed: 3, candidate: 1 },
        { policy: tuned, seed: 5, candidate: 1 },
        { policy: tuned, seed: 6, candidate: 1 },
      ];
      const results = await evaluator.evaluate(jobs);
      expect(results.map((r) => (r.ok ? 'ok' : r.reason.slice(0, 30)))).toEqual([
        'ok', 'ok', 'The operator skipped this epis', 'The sim gate kept this candida', 'ok', 'cancelled', 'cancelled',
      ]);
      // The reckless candidate never reached the operator, let alone the robot.
      expect(operator.plans.map((p) => p.job.seed)).toEqual([0, 1, 2, 3, 5]);
      expect(operator.plans.map((p) => p.reducedSpeed)).toEqual([0.25, 0.25, undefined, undefined, undefined]);
      expect(events.filter((e) => e.kind === 'sim-gate').map((e) => e.message)).toEqual([
        expect.stringMatching(/candidate 1 on seed 0: passed, inside the envelope/),
        expect.stringMatching(/candidate 2 on seed 0: .*rejected by the envelope/),
      ]);
      expect(events.filter((e) => e.kind === 'reduced-speed')).toHaveLength(2);
      expect(events.filter((e) => e.kind === 'operator').map((e) => e.message)).toContainEqual(expect.stringMatching(/Operator answered stop for candidate 1, seed 5/));
      // The cap holds the commanded tool point to 250 mm/s (test/safety.test.ts); the measured one
      // lags it and catches up briefly when a contact lets go, so it peaks higher, yet far below a full-speed run.
      const reduced = results[0].ok ? peakToolSpeed(evaluator, results[0].trace) : NaN;
      const full = results[4].ok ? peakToolSpeed(evaluator, results[4].trace) : NaN;
      expect(reduced).toBeLessThan(0.5);
      expect(full).toBeGreaterThan(2 * reduced);
    } finally {
      await evaluator.close();
    }
  }, 240_000);

  it('an e-stop key halts the robot and ends the episode, logged', async () => {
    const operator = new ScriptedOperator(['run']);
    operator.estopAfterMs = 300;
    const events: { kind: string; message: string }[] = [];
    const evaluator = await LinkEvaluator.create(scenario, parseBackend(`rosbridge://127.0.0.1:${served.port}`), { operator, onEvent: (e) => events.push(e) });
    try {
      const [result] = await evaluator.evaluate([{ policy: resolvePolicy(tunedPolicy(), scenario, 'test'), seed: 0, candidate: 1 }]);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.reason).toMatch(/Emergency stop: the operator pressed the stop key/);
      expect(events.find((e) => e.kind === 'estop')!.message).toMatch(/E-stop during candidate 1, seed 0/);
      expect((evaluator.runner.link.trace().meta.safety as { estop: string }).estop).toBe('the operator pressed the stop key');
    } finally {
      await evaluator.close();
    }
  }, 120_000);
});

describe('arbor run --operator and --dry-run', () => {
  it('runs a supervised study from scripted answers on stdin and logs every decision in the study, and that they were scripted', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'arbor-op-')), 'op.db');
    const child = spawn(process.execPath, [...ARBOR, 'run', file, '--backend', `rosbridge://127.0.0.1:${served.port}`, '--operator', '--scripted-answers', '--researcher', 'random', '--db', db, '--json'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    // Baseline on two seeds, then the validation's two seeds: four episodes, four answers.
    child.stdin.write('r\nr\nr\nr\n');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/next episode 1\/2 on rosbridge: candidate 1, seed 0, reduced speed \(tool point ≤ 250 mm\/s\); sim gate passed/);
    expect(stderr).toMatch(/\[r\]un, \[s\]kip or \[q\] stop the study\?/);
    const result = JSON.parse(stdout) as { study: string; status: string };
    expect(result.status).toBe('done');
    const store = Store.open(db, { readonly: true });
    const kinds = store.events(result.study).map((e) => e.kind);
    expect(kinds.filter((k) => k === 'operator')).toHaveLength(4);
    expect(store.events(result.study).find((e) => e.kind === 'scripted-answers')?.message).toMatch(/answers are scripted \(--scripted-answers\)/);
    expect(stderr).toMatch(/arbor: The operator's answers are scripted/);
    expect(kinds).toContain('sim-gate');
    expect(kinds.filter((k) => k === 'reduced-speed')).toHaveLength(2);
    store.close();
  }, 240_000);

  it('--dry-run checks the planned episodes against the envelope in sim and sends nothing', async () => {
    const { stdout } = await run(process.execPath, [...ARBOR, 'run', file, '--backend', 'ros2:/never_started', '--dry-run'], { timeout: 120_000 });
    expect(stdout).toMatch(/seed +commands +clamped \(pos\/vel\/acc\)/);
    expect(stdout).toMatch(/dry run: nothing was sent to ros2:\/never_started; \d of 2 planned episodes stay inside the envelope/);
  }, 120_000);
});
