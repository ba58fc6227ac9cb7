/**
 * A shared `/joint_states`: on a lab arm a gripper driver publishes its own JointState there beside
 * the arm's broadcaster. The link takes the arm's joints from any message that carries them, merged
 * by name and stamp, ignores the rest, and fails only when nothing carried them for the watchdog's
 * time. The merge on its own, then against `sim-serve --ros2` in another process with a foreign
 * publisher on the same topic (needs a sourced ROS 2; skipped with the reason without it), in a
 * ROS domain of this file's own (test/ros-domain.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { ArmJoints } from '../src/robot/arm-joints.ts';
import { LinkDroppedError, type GraphClient } from '../src/robot/graph.ts';
import { parseBackend } from '../src/robot/links.ts';
import type { JointStateMsg } from '../src/robot/ros-messages.ts';
import { connectRos2, ros2Unavailable } from '../src/robot/ros2.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';
import { TOPIC } from '../src/trace/topics.ts';
import { startSimServe, type Served } from './sim-serve-helpers.ts';
import { SCENARIO_PATH } from './helpers.ts';
import { useTestRosDomain } from './ros-domain.ts';

// A ROS domain of this file's own (see ros-domain.ts), before anything starts ROS 2.
useTestRosDomain();

function message(names: string[], position: number[], velocity: number[] = []): JointStateMsg {
  return { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: '' }, name: names, position, velocity, effort: [] } as JointStateMsg;
}

describe('the arm joints merged from a shared topic', () => {
  it('takes each joint from whichever message carries it, keeps the newest, and ignores the rest', () => {
    const arm = new ArmJoints(['a', 'b', 'c']);
    expect(arm.carries(message(['finger_l', 'finger_r'], [0.01, 0.01]))).toBe(false);
    expect(arm.carries(message(['c', 'a'], [3, 1]))).toBe(true);
    arm.take(1.0, message(['c', 'a'], [3, 1], [0.3, 0.1]));
    expect(arm.state()).toBeUndefined(); // b never came
    expect(arm.missing('/joint_states', 'arm3')).toBe("/joint_states carried no value of joint b of arm3 (it carried finger_l, finger_r); check robot.yaml's joint names");
    arm.take(1.2, message(['b'], [2]));
    expect(arm.state()).toEqual({ stamp: 1.0, position: Float64Array.of(1, 2, 3), velocity: Float64Array.of(0.1, 0, 0.3), effort: new Float64Array(3) });
    arm.take(0.5, message(['a', 'b', 'c'], [9, 9, 9])); // late and older: rolls nothing back
    expect(arm.state()!.position).toEqual(Float64Array.of(1, 2, 3));
    arm.take(1.3, message(['a', 'c'], [4, 6]));
    expect(arm.state()).toMatchObject({ stamp: 1.2, position: Float64Array.of(4, 2, 6) });
    expect(arm.missing('/joint_states', 'arm3')).toBe('');
    arm.clear(); // a reset restarts the clock: nothing before it counts
    expect(arm.state()).toBeUndefined();
    arm.take(0, message(['a', 'b', 'c'], [0, 0, 0]));
    expect(arm.state()!.stamp).toBe(0);
  });
});

describe('the ROS domain of a test file', () => {
  it('is one per worker of ARBOR_TEST_ROS_DOMAINS, else the set ROS_DOMAIN_ID, else one of 215-232, never 0', () => {
    const domain = (env: NodeJS.ProcessEnv) => [useTestRosDomain(env), env.ROS_DOMAIN_ID];
    expect(domain({ ARBOR_TEST_ROS_DOMAINS: '60-61', VITEST_POOL_ID: '1', ROS_DOMAIN_ID: '44' })).toEqual([60, '60']);
    expect(domain({ ARBOR_TEST_ROS_DOMAINS: '60-61', VITEST_POOL_ID: '2' })).toEqual([61, '61']);
    expect(domain({ ARBOR_TEST_ROS_DOMAINS: '60-61', VITEST_POOL_ID: '3' })).toEqual([60, '60']);
    expect(domain({ ROS_DOMAIN_ID: '44', VITEST_POOL_ID: '2' })).toEqual([44, '44']);
    expect(domain({ VITEST_POOL_ID: '2' })).toEqual([216, '216']);
    expect(() => useTestRosDomain({ ARBOR_TEST_ROS_DOMAINS: '61-60' })).toThrow(/ARBOR_TEST_ROS_DOMAINS=61-60 must be FIRST-LAST/);
    expect(process.env.ROS_DOMAIN_ID).toMatch(/^\d+$/); // this file's, set above
  });
});

const noRos2 = ros2Unavailable();
describe.skipIf(noRos2 !== undefined)(`a gripper driver beside sim-serve --ros2 on /joint_states${noRos2 ? ` — skipped: ${noRos2}` : ''}`, () => {
  const namespace = '/shared_states';
  let scenario: LoadedScenario;
  let served: Served;
  let foreign: GraphClient;
  let publishing: NodeJS.Timeout;
  beforeAll(async () => {
    scenario = await loadScenario(SCENARIO_PATH);
    served = await startSimServe(SCENARIO_PATH, ['--ros2', '--namespace', namespace]);
    foreign = await connectRos2(namespace);
    const publish = foreign.advertise(`${namespace}/joint_states`, 'sensor_msgs/msg/JointState');
    // The driver's own joints at 100 Hz, stamped by the wall clock as a hardware driver does.
    publishing = setInterval(() => {
      const now = Date.now() / 1000;
      publish({ header: { stamp: { sec: Math.floor(now), nanosec: Math.round((now % 1) * 1e9) }, frame_id: '' }, name: ['driver_finger_left', 'driver_finger_right'], position: [0.02, 0.02], velocity: [], effort: [] });
    }, 10);
  }, 90_000);
  afterAll(async () => {
    clearInterval(publishing);
    await foreign?.close();
    await served?.stop();
  });

  // First: nothing has commanded the lockstep world yet, so it published only its start state, before anyone listened.
  it('gives a subscriber that joins late the arm at rest, without any command (as a latched topic does)', async () => {
    const home = scenario.robotConfig.home;
    const arm = scenario.robotConfig.joints.map((j) => j.name);
    const viewer = await connectRos2(namespace);
    try {
      const atRest = await new Promise<JointStateMsg>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no joint state of the arm came to a late subscriber of ${namespace}/joint_states within 5 s`)), 5000);
        viewer.subscribe(`${namespace}/joint_states`, 'sensor_msgs/msg/JointState', (m) => {
          const message = m as JointStateMsg;
          if (!message.name.includes(arm[0])) return; // the driver's
          clearTimeout(timer);
          resolve(message);
        });
      });
      expect(atRest.name).toEqual(arm);
      expect(Array.from(atRest.position)).toEqual(home);
      expect(atRest.header.stamp).toEqual({ sec: 0, nanosec: 0 });
    } finally {
      await viewer.close();
    }
  }, 10_000);

  it("runs on the arm's joints and records them, the driver's messages ignored", async () => {
    const runner = await EpisodeRunner.create(scenario, parseBackend(`ros2:${namespace}`), { reconnectSeconds: 1 });
    try {
      const home = scenario.robotConfig.home;
      await runner.link.reset(0);
      let obs;
      for (let i = 0; i < 40; i++) obs = await runner.link.act({ position: home, gripperWidth: 0.08 });
      Array.from(obs!.position).forEach((q, i) => expect(q).toBeCloseTo(home[i], 2));
      const trace = runner.link.trace();
      expect(trace.topic(TOPIC.jointStates).stamps.length).toBe(41);
      expect((trace.meta.link as { problems?: string[] }).problems).toBeUndefined();
    } finally {
      await runner.close();
    }
  }, 60_000);

  it("fails only after the watchdog's time when the arm falls silent, however many other messages come", async () => {
    const runner = await EpisodeRunner.create(scenario, parseBackend(`ros2:${namespace}`), { reconnectSeconds: 1 });
    try {
      const home = scenario.robotConfig.home;
      await runner.link.reset(1);
      for (let i = 0; i < 5; i++) await runner.link.act({ position: home, gripperWidth: 0.08 });
      served.child.kill('SIGSTOP'); // the arm stops; the driver goes on publishing
      const started = performance.now();
      const error = await runner.link.act({ position: home, gripperWidth: 0.08 }).catch((e: unknown) => e);
      const waited = (performance.now() - started) / 1000;
      served.child.kill('SIGCONT');
      expect(error).toBeInstanceOf(LinkDroppedError);
      expect((error as LinkDroppedError).reason).toMatch(/no joint state came after the command for \d+\.\d+ s/);
      expect(waited).toBeGreaterThanOrEqual(2 * scenario.robotConfig.safety.watchdog * 0.95);
      const safety = runner.link.trace().meta.safety as { watchdog: number };
      expect(safety.watchdog).toBeGreaterThanOrEqual(1);
    } finally {
      served.child.kill('SIGCONT');
      await runner.close();
    }
  }, 60_000);
});
