/**
 * The ROS bridge: `arbor sim-serve` in another process, measured from a client.
 *  - joint_states throughput: a lockstep trajectory of N periods makes sim-serve step and publish
 *    as fast as it can; a subscriber counts messages/s and losses, over rosbridge JSON, rosbridge
 *    CBOR and (with ROS 2 sourced) rclnodejs over DDS;
 *  - command → state round trip of the network link (p50/p99), over one lockstep episode;
 *  - jitter of a 100 Hz control loop against sim-serve --realtime (p99 of |interval − 10 ms|), in
 *    the first episode of the process (cold) and in the second (warm, as in a study).
 * Run: `npx tsx bench/ros.ts`. Ends with a grep-able `key: value` block. Figures, never pass/fail.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Ros, Topic } from 'roslib';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { parseBackend } from '../src/robot/links.ts';
import { connectRos2, ros2Unavailable } from '../src/robot/ros2.ts';
import type { GraphClient } from '../src/robot/graph.ts';
import { loadScenario } from '../src/scenario/load.ts';

const STEPS = 2000;
const figures: Record<string, string | number> = {};

/** The pick-place scenario with another control rate, in a temporary file. */
function scenarioAt(rate: number): string {
  const root = resolve('.');
  const text = readFileSync('scenarios/pick-place.yaml', 'utf8')
    .replace('robot: ../robots/', `robot: ${root}/robots/`)
    .replace('world: ../sim/', `world: ${root}/sim/`)
    .replace(/control_rate: \d+/, `control_rate: ${rate}`);
  const file = join(mkdtempSync(join(tmpdir(), 'arbor-bench-ros-')), `pick-place-${rate}hz.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Starts sim-serve; resolves with its ready line and a stop function. */
async function serve(scenario: string, args: string[]): Promise<{ port?: number; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['bin/arbor.js', 'sim-serve', scenario, '--camera-rate', '0', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((done) => createInterface({ input: child.stdout! }).once('line', done));
  const ready = JSON.parse(line) as { rosbridge?: string };
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return { port: ready.rosbridge ? Number(ready.rosbridge.split(':').pop()) : undefined, stop: async () => (child.kill('SIGTERM'), await exited) };
}

/** A trajectory holding home for `steps` control periods. */
function hold(steps: number, period: number, joints: string[], home: number[]) {
  const t = steps * period;
  return { joint_names: joints, points: [{ positions: home, velocities: [], accelerations: [], effort: [], time_from_start: { sec: Math.floor(t), nanosec: Math.round((t % 1) * 1e9) } }] };
}

/** Messages/s and losses of /joint_states while sim-serve steps through `STEPS` periods as fast as it can. */
async function throughput(subscribe: (onMessage: () => void) => void, publish: (message: object) => void, period: number, joints: string[], home: number[]) {
  let count = 0;
  let first = 0;
  let last = 0;
  subscribe(() => {
    const now = performance.now();
    if (count === 0) first = now;
    last = now;
    count++;
  });
  await new Promise((r) => setTimeout(r, 500));
  publish(hold(STEPS, period, joints, home));
  // Wait until the stream has been quiet for a second.
  let seen = -1;
  while (seen !== count) {
    seen = count;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { rate: count > 1 ? (count - 1) / ((last - first) / 1000) : 0, lost: STEPS - count };
}

async function main(): Promise<void> {
  const file50 = scenarioAt(50);
  const scenario = await loadScenario(file50);
  const joints = scenario.robotConfig.joints.map((j) => j.name);
  const home = scenario.robotConfig.home;
  const period = 1 / scenario.episode.control_rate;
  const topicName = '/joint_trajectory_controller/joint_trajectory';

  const bridge = await serve(file50, ['--rosbridge', '0']);
  try {
    for (const compression of ['none', 'cbor'] as const) {
      const ros = new Ros({});
      const opened = new Promise((r) => ros.once('connection', r));
      await ros.connect(`ws://127.0.0.1:${bridge.port}`);
      await opened;
      const command = new Topic({ ros, name: topicName, messageType: 'trajectory_msgs/msg/JointTrajectory' });
      const states = new Topic({ ros, name: '/joint_states', messageType: 'sensor_msgs/msg/JointState', compression });
      const r = await throughput((cb) => states.subscribe(cb), (m) => command.publish(m), period, joints, home);
      figures[`rosbridge_${compression === 'none' ? 'json' : 'cbor'}_joint_states_per_s`] = Math.round(r.rate);
      figures[`rosbridge_${compression === 'none' ? 'json' : 'cbor'}_lost`] = r.lost;
      ros.close();
    }
    const runner = await EpisodeRunner.create(scenario, parseBackend(`rosbridge://127.0.0.1:${bridge.port}`));
    const run = await runner.run(JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8')), 0);
    const timing = (run.trace.meta.link as { timing: Record<string, number> }).timing;
    figures.rosbridge_round_trip_p50_ms = timing.round_trip_p50_ms;
    figures.rosbridge_round_trip_p99_ms = timing.round_trip_p99_ms;
    await runner.close();
  } finally {
    await bridge.stop();
  }

  const missing = ros2Unavailable();
  if (missing) figures.ros2 = `skipped: ${missing}`;
  else {
    const node = await serve(file50, ['--ros2', '--namespace', '/bench']);
    let graph: GraphClient | undefined;
    try {
      graph = await connectRos2('');
      const publish = graph.advertise(`/bench${topicName}`, 'trajectory_msgs/msg/JointTrajectory');
      const g = graph;
      const r = await throughput((cb) => g.subscribe('/bench/joint_states', 'sensor_msgs/msg/JointState', cb), publish, period, joints, home);
      figures.ros2_joint_states_per_s = Math.round(r.rate);
      figures.ros2_lost = r.lost;
      const runner = await EpisodeRunner.create(scenario, parseBackend('ros2:/bench'));
      const run = await runner.run(JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8')), 0);
      const timing = (run.trace.meta.link as { timing: Record<string, number> }).timing;
      figures.ros2_round_trip_p50_ms = timing.round_trip_p50_ms;
      figures.ros2_round_trip_p99_ms = timing.round_trip_p99_ms;
      await runner.close();
    } finally {
      await graph?.close();
      await node.stop();
    }
  }

  // A 100 Hz loop against a robot on the wall clock: the link paces itself by the robot's states.
  const file100 = scenarioAt(100);
  const scenario100 = await loadScenario(file100);
  for (const kind of missing ? ['rosbridge'] : ['rosbridge', 'ros2']) {
    const server = await serve(file100, kind === 'rosbridge' ? ['--rosbridge', '0', '--realtime'] : ['--ros2', '--namespace', '/rt', '--realtime']);
    try {
      const runner = await EpisodeRunner.create(scenario100, parseBackend(kind === 'rosbridge' ? `rosbridge://127.0.0.1:${server.port}` : 'ros2:/rt'));
      // The first episode of a process runs its code cold (the JIT compiles the loop as it goes);
      // a study runs many in one process, so the second episode's figure is what it lives with.
      const policy = JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8'));
      for (const [episode, label] of [[0, ''], [1, '_warm']] as const) {
        const run = await runner.run(policy, episode);
        const timing = (run.trace.meta.link as { timing: Record<string, number> }).timing;
        figures[`${kind}_100hz${label}_interval_p50_ms`] = timing.interval_p50_ms;
        figures[`${kind}_100hz${label}_jitter_p99_ms`] = timing.jitter_p99_ms;
        figures[`${kind}_100hz${label}_ticks`] = timing.ticks;
      }
      await runner.close();
    } finally {
      await server.stop();
    }
  }

  console.log('\n---');
  for (const [key, value] of Object.entries(figures)) console.log(`${key}: ${value}`);
  process.exit(0);
}

await main();
