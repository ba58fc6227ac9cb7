/**
 * arbor against the ROS tools a lab runs (issue 20, item 7), from ../shared/ros2-jazzy/:
 * `ros2 launch launch/sim_robot.launch.xml rosbridge:=true` starts `arbor sim-serve --ros2` with
 * the real rosbridge_server (Python, 2.1.0) in front of it; arbor's rosbridge link runs episodes
 * through that server and gets the in-process outcomes; `ros2 topic echo` reads what sim-serve
 * serves. Everything here runs in a ROS domain of its own, so it neither hears nor disturbs
 * another ROS process on the machine. Skipped, with the reason, when no ROS 2 is sourced.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Ros } from 'roslib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { parseBackend } from '../src/robot/links.ts';
import { ros2Unavailable } from '../src/robot/ros2.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { tunedPolicy } from './helpers.ts';

/** A domain no other test file uses. */
const DOMAIN = '71';
const env = { ...process.env, ROS_DOMAIN_ID: DOMAIN };
const SEEDS = [1000, 1001];

function missingTools(): string | undefined {
  const ros = ros2Unavailable();
  if (ros) return ros;
  const share = (process.env.AMENT_PREFIX_PATH ?? '').split(':').map((p) => join(p, 'share', 'rosbridge_server'));
  if (!share.some((dir) => existsSync(dir))) return 'the sourced ROS 2 has no rosbridge_server package';
  return undefined;
}

/** Runs a command to its end within `ms`; its stdout, or an error with its stderr. */
function run(command: string, args: string[], ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGINT'), ms);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${err || out}`));
    });
  });
}

/** Waits until a WebSocket client can connect to rosbridge at `url` (the Python server takes a few seconds to start). */
async function untilRosbridge(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const ros = new Ros({ url });
      ros.on('connection', () => {
        ros.close();
        resolve(true);
      });
      ros.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`rosbridge_server at ${url} did not come up within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const missing = missingTools();
describe.skipIf(missing !== undefined)(`the real ROS tools in front of arbor sim-serve${missing ? ` — skipped: ${missing}` : ''}`, () => {
  const port = 26_700 + (process.pid % 200);
  let launch: ChildProcess;
  let launchLog = '';
  let scenario: LoadedScenario;

  beforeAll(async () => {
    scenario = await loadScenario('scenarios/pick-place.yaml');
    // setsid: ros2 launch's children get the signal with it when the test ends.
    launch = spawn('ros2', ['launch', 'launch/sim_robot.launch.xml', 'rosbridge:=true', `port:=${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    launch.stdout!.on('data', (d: Buffer) => (launchLog += d.toString()));
    launch.stderr!.on('data', (d: Buffer) => (launchLog += d.toString()));
    await untilRosbridge(`ws://127.0.0.1:${port}`, 45_000).catch((err: Error) => {
      throw new Error(`${err.message}; ros2 launch said: ${launchLog}`);
    });
  }, 60_000);

  afterAll(async () => {
    if (!launch || launch.exitCode !== null) return;
    const exited = new Promise((resolve) => launch.once('exit', resolve));
    process.kill(-launch.pid!, 'SIGINT');
    const timer = setTimeout(() => process.kill(-launch.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }, 20_000);

  it('ros2 launch starts sim-serve as a ROS 2 node beside rosbridge_server, and ros2 topic list shows what it serves', async () => {
    // rosbridge_server may be up before sim-serve has loaded its world, and DDS discovery brings
    // a node's topics in over a moment: ask until every one is there.
    const served = ['/joint_states', '/joint_trajectory_controller/joint_trajectory', '/wrench', '/gripper'];
    let topics: string[] = [];
    for (const end = Date.now() + 45_000; !served.every((t) => topics.includes(t)) && Date.now() < end; ) {
      topics = (await run('ros2', ['topic', 'list'], 20_000)).split('\n');
    }
    expect(topics).toEqual(expect.arrayContaining(served));
    expect(launchLog).toContain('Rosbridge WebSocket server started');
  }, 90_000);

  it("arbor's rosbridge link through the real rosbridge_server gets the in-process episodes, and ros2 topic echo hears the arm move", async () => {
    const policy = tunedPolicy();
    const inProcess = await EpisodeRunner.create(scenario);
    const expected = [];
    for (const seed of SEEDS) expected.push(await inProcess.run(policy, seed));
    await inProcess.close();

    // Echo starts before the episodes: in lockstep, sim-serve publishes as it is stepped.
    const echo = run('ros2', ['topic', 'echo', '--once', '--field', 'name', '/joint_states'], 60_000);
    const runner = await EpisodeRunner.create(scenario, parseBackend(`rosbridge://127.0.0.1:${port}`));
    try {
      for (const [i, seed] of SEEDS.entries()) {
        const outcome = await runner.run(policy, seed);
        expect({ seed, success: outcome.success }).toEqual({ seed, success: expected[i].success });
        expect(outcome.score).toBeCloseTo(expected[i].score, 9);
      }
    } finally {
      await runner.close();
    }
    const names = await echo;
    for (const joint of scenario.robotConfig.joints) expect(names).toContain(joint.name);
  }, 180_000);
});
