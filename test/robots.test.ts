/**
 * Robots composed at load. A lab's Menagerie-style arm (no sensors, no tcp site, root body
 * `link0`, a separate gripper file with its own actuators) and a world holding only a mount go
 * through `arbor check`, `arbor robot check | show`, episodes, a short study, and `arbor
 * sim-serve`, with nothing but files: no code knows this robot. `arbor robot check` names every
 * problem of a broken robot.yaml with file, line, field and hint.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { LinkEvaluator } from '../src/evaluation/link-evaluator.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { makeBundle } from '../src/evaluation/queue/bundle.ts';
import type { EpisodeResult } from '../src/evaluation/evaluator.ts';
import { defaultPolicy } from '../src/policy/file.ts';
import { inspectRobot } from '../src/robot/inspect.ts';
import { parseBackend } from '../src/robot/links.ts';
import { loadRobot } from '../src/scenario/robot.ts';
import { formatProblem } from '../src/scenario/validate.ts';
import type { SimLink } from '../src/robot/sim-link.ts';
import { loadScenarioWorld } from '../src/sim/compose.ts';
import { ContactSummary } from '../src/sim/contact-summary.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { defaultStudyConfig } from '../src/study/config.ts';
import { createStudy, runStudy } from '../src/study/study.ts';
import { Store } from '../src/store/store.ts';
import { writeLabArm } from './fixtures/lab-arm.ts';
import { scenario as pickPlaceScenario, tunedPolicy } from './helpers.ts';
import { startSimServe } from './sim-serve-helpers.ts';

const run = promisify(execFile);
const arbor = (args: string[]) => run(process.execPath, ['bin/arbor.js', ...args], { maxBuffer: 1 << 24 });
/** Runs arbor and returns its output and exit code, failing or not. */
async function arborStatus(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    return { ...(await arbor(args)), code: 0 };
  } catch (error) {
    const e = error as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'arbor-lab-'));
const labScenario = writeLabArm(dir);
let lab: LoadedScenario;
beforeAll(async () => {
  lab = await loadScenario(labScenario);
});

describe('a lab arm composed at load', () => {
  it('passes arbor check, which says where the robot went and what arbor added', async () => {
    const { stdout } = await arbor(['check', labScenario]);
    expect(stdout).toContain("robot lab-arm attached at 'mount' (root body link0)");
    expect(stdout).toContain('added site tcp on body hand at (0 0 0.13) (robot.yaml tcp)');
    expect(stdout).toContain('with force sensor ft_force and torque sensor ft_torque (robot.yaml wrench.site)');
    expect(stdout).toContain('with touch sensor left_touch (robot.yaml gripper.pads[0])');
  }, 60_000);

  it('is clean by arbor robot check, and arbor robot show --json reports the composed arm', async () => {
    const check = await arborStatus(['robot', 'check', join(dir, 'robot.yaml')]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    const { stdout } = await arbor(['robot', 'show', join(dir, 'robot.yaml'), '--json']);
    const report = JSON.parse(stdout);
    expect(report.root).toBe('link0');
    expect(report.joints.map((j: { name: string }) => j.name)).toEqual(['joint1', 'joint2', 'joint3', 'joint4', 'joint5', 'joint6']);
    // Home puts the tool 0.35 m above (0.4, 0) pointing straight down, as arm6's does.
    report.tcp.position.forEach((x: number, i: number) => expect(x).toBeCloseTo([0.4, 0, 0.35][i], 3));
    expect(report.tcp.approach[2]).toBeCloseTo(-1, 3);
    expect(report.reach.radius).toBeGreaterThan(0.9);
    expect(report.reach.radius).toBeLessThan(1.2);
    expect(report.gripper).toEqual({ width: [0, 0.09], model: [0, 0.09] });
    expect(Object.fromEntries(report.sensors.map((s: { name: string; status: string }) => [s.name, s.status]))).toMatchObject({
      tcp: 'added', ft_force: 'added', ft_torque: 'added', left_touch: 'added', right_touch: 'added', finger_left: 'found', hand_left: 'found',
    });
    expect(report.ros.trajectory_controller).toBe('/joint_trajectory_controller');
  }, 60_000);

  it('runs the episodes arm6 runs, to the last bit, with its contact classes read from sensors on the robot root', async () => {
    const runner = await EpisodeRunner.create(lab);
    const reference = await EpisodeRunner.create(await pickPlaceScenario());
    try {
      const { world } = runner.link.inner as SimLink;
      const tcpBody = (world.model.site_bodyid as Int32Array)[world.id('site', 'tcp')];
      const robotRoot = (world.model.body_rootid as Int32Array)[tcpBody];
      expect(new ContactSummary(world, { robotRoot, objects: [world.id('body', 'box')] }).source).toBe('sensors');
      for (const seed of [1000, 1001]) {
        const a = await runner.run(tunedPolicy(), seed);
        const b = await reference.run(tunedPolicy(), seed);
        expect(a.success).toBe(true);
        expect({ seed, score: a.score, metrics: a.metrics }).toEqual({ seed, score: b.score, metrics: b.metrics });
      }
    } finally {
      await runner.close();
      await reference.close();
    }
  }, 120_000);

  it('runs a short study, and sim-serve serving it gives the in-process episodes bit for bit', async () => {
    const config = defaultStudyConfig(lab, {
      researcher: 'random', seed: 3, batch: 2, seedsPerCandidate: 2,
      budget: { candidates: 3, episodes: 8, wallTime: 3600 }, validation: { from: 1000, count: 2 },
    });
    const jobs = [{ policy: tunedPolicy(), seed: 1000 }, { policy: defaultPolicy(lab), seed: 3 }];
    const outcome = (results: EpisodeResult[]) => results.map((r) => (r.ok ? { seed: r.seed, success: r.success, score: r.score, metrics: r.metrics } : { seed: r.seed, reason: r.reason }));
    const pool = await EvaluatorPool.create(labScenario, { workers: 1 });
    let local: ReturnType<typeof outcome>;
    try {
      const store = Store.open(join(dir, 'study.db'));
      const record = createStudy(store, lab, config);
      const summary = await runStudy(store, record.id, lab, pool);
      expect(summary.status).toBe('done');
      expect(store.episodes({ studyId: record.id }).length).toBeGreaterThanOrEqual(8);
      store.close();
      local = outcome(await pool.evaluate(jobs));
    } finally {
      await pool.close();
    }
    const served = await startSimServe(labScenario, ['--rosbridge', '0']);
    try {
      const evaluator = await LinkEvaluator.create(lab, parseBackend(`rosbridge://127.0.0.1:${served.port}`));
      const network = outcome(await evaluator.evaluate(jobs).finally(() => evaluator.close()));
      expect(network).toEqual(local);
    } finally {
      await served.stop();
    }
  }, 300_000);
});

describe('mounts', () => {
  it('attaches the robot at a site where the site stands, and says which mount a world lacks', async () => {
    const site = brokenLab([['scene.xml', '<body name="mount"/>', '<site name="stand" pos="0.1 0.2 0" euler="0 0 90"/>']]);
    const scenarioPath = join(site.file, '..', 'lab-pick-place.yaml');
    writeFileSync(scenarioPath, readFileSync(scenarioPath, 'utf8').replace('world: scene.xml', 'world: scene.xml\nmount: stand'));
    const world = await loadScenarioWorld(await loadScenario(scenarioPath));
    try {
      world.forward();
      const root = world.id('body', 'link0');
      const xpos = Array.from((world.data.xpos as Float64Array).slice(3 * root, 3 * root + 3));
      xpos.forEach((x, i) => expect(x).toBeCloseTo([0.1, 0.2, 0][i], 9));
      // Turned a quarter about z: the root's x axis is the world's y.
      expect((world.data.xmat as Float64Array)[9 * root + 3]).toBeCloseTo(1, 6);
      expect(world.composition).toMatchObject({ root: 'link0', mount: 'stand' });
    } finally {
      world.dispose();
    }
    writeFileSync(scenarioPath, readFileSync(scenarioPath, 'utf8').replace('mount: stand', 'mount: pedestal'));
    await expect(loadScenarioWorld(await loadScenario(scenarioPath))).rejects.toThrow(/scene\.xml: has no body or site named 'pedestal' \(the scenario's mount\)/);
  }, 60_000);

  it('refuses a separate gripper on a world that includes its robot, saying what to do', async () => {
    const sc = await pickPlaceScenario();
    const robotConfig = { ...sc.robotConfig, gripperPath: join(dir, 'hand.xml') };
    await expect(loadScenarioWorld({ ...sc, robotConfig })).rejects.toThrow(/holds no mount, but .* names a separate gripper \(gripper\.mjcf\).*<body name="mount"\/>/);
  });
});

describe('the presets', () => {
  it('travel to remote workers with their gripper model (a queue bundle carries it)', async () => {
    const bundle = makeBundle(await loadScenario('scenarios/pick-place-ur5e.yaml'));
    const paths = bundle.manifest.files.map((f) => f.path);
    for (const file of ['robots/ur5e/robot.yaml', 'robots/ur5e/model.xml', 'robots/ur5e/gripper.xml', 'sim/pick_place_mount.xml']) expect(paths).toContain(file);
  });

  it.each(['ur5e', 'fr3'])('robots/%s: robot check is clean, its home points the tool down above the table', async (name) => {
    const report = await inspectRobot(loadRobot(`robots/${name}/robot.yaml`));
    expect(report.problems).toEqual([]);
    expect(report.sensors.every((s) => s.status !== 'missing')).toBe(true);
    expect(report.tcp!.approach[2]).toBeCloseTo(-1, 3);
    expect(report.tcp!.position[0]).toBeCloseTo(0.4, 2);
    expect(report.tcp!.position[2]).toBeGreaterThan(0.3);
  }, 60_000);
});

/** A copy of the lab's files with `edits` ([file, from, to]) applied; returns robot.yaml's path and text. */
function brokenLab(edits: [string, string, string][]): { file: string; text: string } {
  const broken = mkdtempSync(join(tmpdir(), 'arbor-broken-'));
  writeLabArm(broken);
  for (const [name, from, to] of edits) {
    const text = readFileSync(join(broken, name), 'utf8');
    expect(text, `${name} holds ${from}`).toContain(from);
    writeFileSync(join(broken, name), text.replace(from, to));
  }
  const file = join(broken, 'robot.yaml');
  return { file, text: readFileSync(file, 'utf8') };
}

describe('arbor robot check on a broken robot', () => {
  it('names a joint the model lacks, with its line and the joints there are', async () => {
    const { file, text } = brokenLab([['robot.yaml', '{ name: joint6,', '{ name: wrist_3,']]);
    const { stderr, code } = await arborStatus(['robot', 'check', file]);
    expect(code).toBe(1);
    const line = text.split('\n').findIndex((l) => l.includes('name: wrist_3')) + 1;
    expect(stderr).toContain(`${file}:${line}: joints.5.name: 'wrist_3' is not a joint of the composed model (its hinge joints: joint1, joint2, joint3, joint4, joint5, joint6, finger_left, finger_right)`);
  }, 60_000);

  it('names a motor, limits beyond the model, a home out of range or in self-collision, a tcp off the approach', async () => {
    const { file, text } = brokenLab([
      ['arm.xml', '<general name="actuator2" class="lab_large" joint="joint2" ctrlrange="-3.1416 3.1416"/>', '<motor name="actuator2" joint="joint2" ctrlrange="-150 150"/>'],
      ['hand.xml', '<geom class="hand_finger" size="0.006 0.012 0.045" pos="0.006 0 0.045"/>', '<geom name="wide_finger" class="hand_finger" size="0.1 0.012 0.045" pos="0.006 0 0.045" contype="1" conaffinity="1"/>'],
      ['robot.yaml', '{ name: joint3, actuator: actuator3, position: [-2.8, 2.8]', '{ name: joint3, actuator: actuator3, position: [-3.0, 3.0]'],
      ['robot.yaml', 'tcp: { body: hand, pos: [0, 0, 0.13] }', 'tcp: { body: hand, pos: [0, 0, 0.13], quat: [0.7071, 0.7071, 0, 0] }'],
      ['robot.yaml', 'home: [-0.3584, -0.2794, 1.8284,', 'home: [-0.3584, -0.2794, 2.9,'],
    ]);
    // In-process (the CLI prints these same lines; the test above runs it): one process start fewer.
    const stderr = (await inspectRobot(loadRobot(file))).problems.map(formatProblem).join('\n');
    const at = (needle: string) => `${file}:${text.split('\n').findIndex((l) => l.includes(needle)) + 1}:`;
    expect(stderr).toMatch(new RegExp(`${at('actuator: actuator2')} joints\\.1\\.actuator: 'actuator2' is not a position servo .*\\(arbor sends position targets: use <position`));
    expect(stderr).toContain(`${at('position: [-3.0, 3.0]')} joints.2.position: [-3, 3] reaches beyond the model's range [-2.8, 2.8] of joint3 (keep the limits inside the joint range of the MJCF)`);
    expect(stderr).toContain(`home.2: 2.9 is outside joint3's range [-2.8, 2.8] in the model (choose a home inside the joint ranges)`);
    expect(stderr).toMatch(/tcp\.quat: 'tcp' points its z axis 90° away from the approach \(from the last joint, joint6, to the tool point\) \(turn the tcp site/);
    expect(stderr).toMatch(/home: puts (wide_finger and a geom of body right_finger|a geom of body right_finger and wide_finger) [\d.]+ mm into each other/);
  }, 60_000);
});
