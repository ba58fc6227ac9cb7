/**
 * The ROS bridge: `arbor sim-serve` in another process, measured from a client.
 *  - joint_states throughput: a lockstep trajectory of N periods makes sim-serve step and publish
 *    as fast as it can; a subscriber counts messages/s and losses, over rosbridge JSON, rosbridge
 *    CBOR and (with ROS 2 sourced) rclnodejs over DDS. Each rosbridge figure twice: through roslib
 *    (what a client lives with: it decodes every message) and counted raw on a `ws` socket without
 *    decoding (what the server delivers, so a slow client cannot cap it). Beside them, two
 *    ceilings: the in-process sim's periods/s (physics and recording alone: no lockstep stream
 *    can beat it) and the rosbridge server's fan-out alone (no physics: the bridge's own limit);
 *  - ROS 2 topic throughput on its own, beside the lockstep figure: no sim, no lockstep; a
 *    publisher node in a child process publishes TOPIC_MESSAGES joint states at full rate (through
 *    arbor's ROS 2 graph, CDR written by arbor) and a subscriber node in this process counts them.
 *    Two nodes, two processes (DDS between processes, as sim-serve --ros2 and a link run). Twice:
 *    a new message object per publish (as sim-serve builds one per tick) and one preallocated
 *    object refilled in place. Reported: messages/s counted by the subscriber, those lost (topics
 *    keep the last 1000, so a subscriber that falls behind loses the oldest), and the rate the
 *    publisher itself reached;
 *  - command → state round trip of the network link (p50/p99), over one lockstep episode;
 *  - jitter of a 100 Hz control loop against sim-serve --realtime (p50, p99 and max of
 *    |interval − 10 ms| between the link's commands), in the first episode of the process (cold)
 *    and in the second (warm, as in a study).
 *  - with ROS 2 and rosbridge_server sourced, the same /joint_states stream (JSON and CBOR, through
 *    roslib), round trip and 100 Hz jitter through the real rosbridge_server (Python, what labs
 *    put in front of their arms) in front of `sim-serve --ros2`, started by `ros2 launch
 *    launch/sim_robot.launch.xml rosbridge:=true`, beside arbor's own server (`real_rosbridge_*`).
 * Run: `npx tsx bench/ros.ts` runs the whole set RUNS times (`ARBOR_BENCH_RUNS`, default 3), each in
 * a fresh process (the cold 100 Hz figure is a process's first episode), and prints each figure as
 * the median with its range and its target from issue 20; `--once` runs the set once. Ends with a
 * grep-able `key: value` block. Figures, never pass/fail: the machine's load moves them.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { createInterface } from 'node:readline';
import { Ros, Topic } from 'roslib';
import WebSocket from 'ws';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { parseBackend } from '../src/robot/links.ts';
import { RosbridgeServer } from '../src/robot/rosbridge-server.ts';
import { SimLink } from '../src/robot/sim-link.ts';
import { connectRos2, ros2Unavailable } from '../src/robot/ros2.ts';
import type { GraphClient } from '../src/robot/graph.ts';
import { loadScenario, type LoadedScenario } from '../src/scenario/load.ts';

const STEPS = 2000;
/** Messages the ROS 2 topic throughput publishes per stream: seconds of it at the 10,000/s target. */
const TOPIC_MESSAGES = 20_000;
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

/**
 * Messages/s and losses of /joint_states while sim-serve steps through `STEPS` periods as fast as it
 * can. Counting starts with the command: the latched state a subscriber gets on subscribing came
 * half a second earlier and, counted, stretched the stream by that half second.
 */
async function throughput(subscribe: (onMessage: () => void) => void, publish: (message: object) => void, period: number, joints: string[], home: number[], expected = STEPS) {
  let armed = false;
  let count = 0;
  let first = 0;
  let last = 0;
  subscribe(() => {
    if (!armed) return;
    const now = performance.now();
    if (count === 0) first = now;
    last = now;
    count++;
  });
  await new Promise((r) => setTimeout(r, 500));
  armed = true;
  publish(hold(STEPS, period, joints, home));
  // Wait until the stream has been quiet for a second.
  let seen = -1;
  while (seen !== count) {
    seen = count;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return { rate: count > 1 ? (count - 1) / ((last - first) / 1000) : 0, lost: expected - count };
}

/** A raw `ws` rosbridge client that counts the frames of its subscriptions without decoding them. */
async function rawCounter(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const send = (m: object) => ws.send(JSON.stringify(m));
  return {
    subscribe: (topic: string, compression: string, onFrame: () => void) => {
      ws.on('message', onFrame);
      send({ op: 'subscribe', topic, compression });
    },
    publish: (topic: string, msg: object) => send({ op: 'publish', topic, msg }),
    close: () => ws.close(),
  };
}

/** Periods/s of the in-process sim link, warm: physics and recording, nothing sent anywhere. */
async function simCeiling(scenario: Awaited<ReturnType<typeof loadScenario>>): Promise<number> {
  const link = await SimLink.create(scenario);
  try {
    await link.reset(0);
    const action = { position: Float64Array.from(scenario.robotConfig.home), gripperWidth: scenario.robotConfig.gripper?.width[1] ?? 0 };
    // The first thousands of periods run cold (3x slower as the JIT compiles): as sim-serve is warmed below, so is this.
    for (let k = 0; k < STEPS; k++) await link.act(action);
    const start = performance.now();
    for (let k = 0; k < STEPS; k++) await link.act(action);
    return STEPS / ((performance.now() - start) / 1000);
  } finally {
    await link.close();
  }
}

/**
 * `--fanout-server`: a rosbridge server alone, in its own process, that publishes `STEPS` joint
 * states as fast as it can (yielding every few milliseconds, as a lockstep trajectory does) when a
 * client publishes on /bench/go.
 */
async function fanoutServer(): Promise<void> {
  const server = await RosbridgeServer.listen({ port: 0 });
  const publish = server.publisher('/joint_states', 'sensor_msgs/msg/JointState');
  const name = ['shoulder_pan', 'shoulder_lift', 'elbow', 'wrist_1', 'wrist_2', 'wrist_3'];
  server.subscribe('/bench/go', 'std_msgs/msg/Empty', () => {
    void (async () => {
      let yielded = performance.now();
      for (let k = 0; k < STEPS; k++) {
        const t = k * 0.02;
        const position = Float64Array.from(name, (_, i) => Math.sin(t + i));
        publish({ header: { stamp: { sec: Math.floor(t), nanosec: Math.round((t % 1) * 1e9) }, frame_id: '' }, name, position, velocity: position.map(Math.cos), effort: new Float64Array(6) });
        if (performance.now() - yielded > 5) {
          await new Promise((r) => setImmediate(r));
          yielded = performance.now();
        }
      }
    })();
  });
  console.log(JSON.stringify({ rosbridge: `ws://127.0.0.1:${server.port}` }));
}

/** The fan-out ceiling: messages/s the rosbridge server alone delivers to one raw subscriber. */
async function fanoutCeiling(compression: string): Promise<{ rate: number; lost: number }> {
  const child = spawn(process.execPath, ['bin/run-ts.js', 'bench/ros.ts', '--fanout-server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  try {
    const line = await new Promise<string>((done) => createInterface({ input: child.stdout! }).once('line', done));
    const raw = await rawCounter(Number((JSON.parse(line) as { rosbridge: string }).rosbridge.split(':').pop()));
    const r = await throughput((cb) => raw.subscribe('/joint_states', compression, cb), () => raw.publish('/bench/go', {}), 0, [], []);
    raw.close();
    return r;
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * `--ros2-topic-publisher`: a ROS 2 node alone, in its own process, that publishes
 * `TOPIC_MESSAGES` joint states on /bench_topic/joint_states as fast as it can (yielding every few
 * milliseconds, as the fan-out server does) when a String on /bench_topic/go names how: `fresh`
 * builds a message object per publish, `preallocated` refills one object in place. After each
 * stream it prints its own rate (messages/s published) as a JSON line.
 */
async function ros2TopicPublisher(): Promise<void> {
  const { serveRos2 } = await import('../src/robot/ros2.ts');
  const graph = await serveRos2('');
  const publish = graph.publisher('/bench_topic/joint_states', 'sensor_msgs/msg/JointState');
  const name = ['shoulder_pan', 'shoulder_lift', 'elbow', 'wrist_1', 'wrist_2', 'wrist_3'];
  const stamp = (t: number) => ({ sec: Math.floor(t), nanosec: Math.round((t % 1) * 1e9) });
  const fresh = (t: number) => {
    const position = Float64Array.from(name, (_, i) => Math.sin(t + i));
    return { header: { stamp: stamp(t), frame_id: '' }, name, position, velocity: position.map(Math.cos), effort: new Float64Array(6) };
  };
  const message = fresh(0);
  const preallocated = (t: number) => {
    message.header.stamp.sec = Math.floor(t);
    message.header.stamp.nanosec = Math.round((t % 1) * 1e9);
    for (let i = 0; i < name.length; i++) {
      message.position[i] = Math.sin(t + i);
      message.velocity[i] = Math.cos(message.position[i]);
    }
    return message;
  };
  let running = false;
  graph.subscribe('/bench_topic/go', 'std_msgs/msg/String', (go) => {
    if (running) return;
    running = true;
    const next = (go as { data: string }).data === 'preallocated' ? preallocated : fresh;
    void (async () => {
      const start = performance.now();
      let yielded = start;
      for (let k = 0; k < TOPIC_MESSAGES; k++) {
        publish(next(k * 0.01));
        if (performance.now() - yielded > 5) {
          await new Promise((r) => setImmediate(r));
          yielded = performance.now();
        }
      }
      console.log(JSON.stringify({ published_per_s: TOPIC_MESSAGES / ((performance.now() - start) / 1000) }));
      running = false;
    })();
  });
  console.log(JSON.stringify({ ros2: '/bench_topic' }));
}

/** ROS 2 topic throughput on its own: messages/s a subscriber here counts from `ros2TopicPublisher` in a child process. */
async function ros2TopicThroughput(): Promise<Record<string, { rate: number; lost: number; published: number }>> {
  const child = spawn(process.execPath, ['bin/run-ts.js', 'bench/ros.ts', '--ros2-topic-publisher'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const lines = createInterface({ input: child.stdout! });
  const line = () => new Promise<string>((done) => lines.once('line', done));
  let graph: GraphClient | undefined;
  try {
    await line();
    graph = await connectRos2('');
    const go = graph.advertise('/bench_topic/go', 'std_msgs/msg/String');
    let onMessage = () => {};
    graph.subscribe('/bench_topic/joint_states', 'sensor_msgs/msg/JointState', () => onMessage());
    // One untimed stream first, as for rosbridge (the first runs cold). Its go is repeated until
    // the stream starts: a go published before the nodes have discovered each other is lost.
    let seen = 0;
    onMessage = () => seen++;
    const warmed = line();
    while (seen === 0) {
      go({ data: 'fresh' });
      await new Promise((r) => setTimeout(r, 500));
    }
    for (let before = -1; before !== seen; ) {
      before = seen;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await warmed;
    const results: Record<string, { rate: number; lost: number; published: number }> = {};
    for (const mode of ['fresh', 'preallocated'] as const) {
      const published = line();
      const r = await throughput((cb) => (onMessage = cb), () => go({ data: mode }), 0, [], [], TOPIC_MESSAGES);
      results[mode] = { ...r, published: (JSON.parse(await published) as { published_per_s: number }).published_per_s };
    }
    return results;
  } finally {
    await graph?.close();
    child.kill('SIGTERM');
    await exited;
  }
}

/** The /joint_states stream through a roslib client of the rosbridge server at `port`, as `<prefix>_json|cbor_joint_states_per_s` and `_lost`. */
async function roslibStream(port: number, compression: 'none' | 'cbor', prefix: string, scenario: LoadedScenario): Promise<void> {
  const ros = new Ros({});
  const opened = new Promise((r) => ros.once('connection', r));
  await ros.connect(`ws://127.0.0.1:${port}`);
  await opened;
  const command = new Topic({ ros, name: '/joint_trajectory_controller/joint_trajectory', messageType: 'trajectory_msgs/msg/JointTrajectory' });
  const states = new Topic({ ros, name: '/joint_states', messageType: 'sensor_msgs/msg/JointState', compression });
  const joints = scenario.robotConfig.joints.map((j) => j.name);
  const r = await throughput((cb) => states.subscribe(cb), (m) => command.publish(m), 1 / scenario.episode.control_rate, joints, scenario.robotConfig.home);
  figures[`${prefix}_${compression === 'none' ? 'json' : 'cbor'}_joint_states_per_s`] = Math.round(r.rate);
  figures[`${prefix}_${compression === 'none' ? 'json' : 'cbor'}_lost`] = r.lost;
  ros.close();
}

/** The command → state round trip of one lockstep episode of the tuned policy over `backend`, as `<prefix>_round_trip_p50_ms` and `_p99_ms`. */
async function roundTrip(scenario: LoadedScenario, backend: string, prefix: string): Promise<void> {
  const runner = await EpisodeRunner.create(scenario, parseBackend(backend));
  const run = await runner.run(JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8')), 0);
  const timing = (run.trace.meta.link as { timing: Record<string, number> }).timing;
  figures[`${prefix}_round_trip_p50_ms`] = timing.round_trip_p50_ms;
  figures[`${prefix}_round_trip_p99_ms`] = timing.round_trip_p99_ms;
  await runner.close();
}

/** Why the real rosbridge_server cannot be measured here, or undefined when it can. */
function realRosbridgeUnavailable(): string | undefined {
  const ros = ros2Unavailable();
  if (ros) return ros;
  const shares = (process.env.AMENT_PREFIX_PATH ?? '').split(':').map((p) => join(p, 'share', 'rosbridge_server'));
  return shares.some((dir) => existsSync(dir)) ? undefined : 'the sourced ROS 2 has no rosbridge_server package';
}

/**
 * `ros2 launch launch/sim_robot.launch.xml rosbridge:=true`: sim-serve as a ROS 2 node with the real
 * rosbridge_server in front of it. Resolves once a roslib client gets /joint_states through it
 * (the Python server takes seconds to start, and DDS discovery more), with the port and a stop.
 */
async function launchRealRosbridge(scenario: string, realtime: boolean): Promise<{ port: number; stop: () => Promise<void> }> {
  const port = 27_100 + (process.pid % 200) + (realtime ? 1 : 0);
  const args = ['launch', 'launch/sim_robot.launch.xml', `scenario:=${scenario}`, 'rosbridge:=true', `port:=${port}`, `realtime:=${realtime}`];
  const launch = spawn('ros2', args, { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
  const exited = new Promise<void>((done) => launch.once('exit', () => done()));
  const stop = async () => {
    if (launch.exitCode === null) process.kill(-launch.pid!, 'SIGINT');
    const timer = setTimeout(() => launch.exitCode === null && process.kill(-launch.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const end = Date.now() + 60_000;
  for (;;) {
    const heard = await new Promise<boolean>((done) => {
      const ros = new Ros({ url: `ws://127.0.0.1:${port}` });
      const timer = setTimeout(() => (ros.close(), done(false)), 3000);
      ros.on('error', () => (clearTimeout(timer), done(false)));
      ros.on('connection', () => new Topic({ ros, name: '/joint_states', messageType: 'sensor_msgs/msg/JointState' }).subscribe(() => (clearTimeout(timer), ros.close(), done(true))));
    });
    if (heard) return { port, stop };
    if (Date.now() > end || launch.exitCode !== null) {
      await stop();
      throw new Error(`ros2 ${args.join(' ')}: no /joint_states through rosbridge_server within 60 s`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The rosbridge figures through the real rosbridge_server: roslib streams, the round trip, 100 Hz jitter. */
async function realRosbridgeFigures(file50: string, file100: string, scenario: LoadedScenario, scenario100: LoadedScenario): Promise<void> {
  const lockstep = await launchRealRosbridge(file50, false);
  try {
    for (const compression of ['none', 'cbor'] as const) await roslibStream(lockstep.port, compression, 'real_rosbridge', scenario);
    await roundTrip(scenario, `rosbridge://127.0.0.1:${lockstep.port}`, 'real_rosbridge');
  } finally {
    await lockstep.stop();
  }
  const realtime = await launchRealRosbridge(file100, true);
  try {
    const runner = await EpisodeRunner.create(scenario100, parseBackend(`rosbridge://127.0.0.1:${realtime.port}`));
    const policy = JSON.parse(readFileSync('scenarios/pick-place.tuned.json', 'utf8'));
    for (const [episode, label] of [[0, ''], [1, '_warm']] as const) {
      const timing = ((await runner.run(policy, episode)).trace.meta.link as { timing: Record<string, number> }).timing;
      figures[`real_rosbridge_100hz${label}_jitter_p50_ms`] = timing.jitter_p50_ms;
      figures[`real_rosbridge_100hz${label}_jitter_p99_ms`] = timing.jitter_p99_ms;
      figures[`real_rosbridge_100hz${label}_jitter_max_ms`] = timing.jitter_max_ms;
    }
    await runner.close();
  } finally {
    await realtime.stop();
  }
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
    // One untimed stream first: a cold server runs its first thousands of periods 3x slower, which
    // would land on whichever figure came first.
    const warm = await rawCounter(bridge.port!);
    await throughput((cb) => warm.subscribe('/joint_states', 'cbor', cb), (m) => warm.publish(topicName, m), period, joints, home);
    warm.close();
    for (const compression of ['none', 'cbor'] as const) {
      await roslibStream(bridge.port!, compression, 'rosbridge', scenario);
      const raw = await rawCounter(bridge.port!);
      const rr = await throughput((cb) => raw.subscribe('/joint_states', compression, cb), (m) => raw.publish(topicName, m), period, joints, home);
      figures[`rosbridge_${compression === 'none' ? 'json' : 'cbor'}_raw_joint_states_per_s`] = Math.round(rr.rate);
      figures[`rosbridge_${compression === 'none' ? 'json' : 'cbor'}_raw_lost`] = rr.lost;
      raw.close();
    }
    await roundTrip(scenario, `rosbridge://127.0.0.1:${bridge.port}`, 'rosbridge');
  } finally {
    await bridge.stop();
  }
  figures.sim_ceiling_periods_per_s = Math.round(await simCeiling(scenario));
  for (const compression of ['none', 'cbor']) {
    const r = await fanoutCeiling(compression);
    figures[`rosbridge_${compression === 'none' ? 'json' : 'cbor'}_fanout_per_s`] = Math.round(r.rate);
    figures[`rosbridge_${compression === 'none' ? 'json' : 'cbor'}_fanout_lost`] = r.lost;
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
      await roundTrip(scenario, 'ros2:/bench', 'ros2');
    } finally {
      await graph?.close();
      await node.stop();
    }
    for (const [mode, r] of Object.entries(await ros2TopicThroughput())) {
      figures[`ros2_topic_${mode}_joint_states_per_s`] = Math.round(r.rate);
      figures[`ros2_topic_${mode}_lost`] = r.lost;
      figures[`ros2_topic_${mode}_published_per_s`] = Math.round(r.published);
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
        figures[`${kind}_100hz${label}_jitter_p50_ms`] = timing.jitter_p50_ms;
        figures[`${kind}_100hz${label}_jitter_p99_ms`] = timing.jitter_p99_ms;
        figures[`${kind}_100hz${label}_jitter_max_ms`] = timing.jitter_max_ms;
        figures[`${kind}_100hz${label}_ticks`] = timing.ticks;
      }
      await runner.close();
    } finally {
      await server.stop();
    }
  }

  const noRealServer = realRosbridgeUnavailable();
  if (noRealServer) figures.real_rosbridge = `skipped: ${noRealServer}`;
  else await realRosbridgeFigures(file50, file100, scenario, scenario100);

  console.log('\n---');
  for (const [key, value] of Object.entries(figures)) console.log(`${key}: ${value}`);
  process.exit(0);
}

/** Issue 20's targets: a figure at least (`>=`) or at most (`<=`) this. */
const TARGETS: Record<string, ['>=' | '<=', number]> = {
  rosbridge_json_joint_states_per_s: ['>=', 5000],
  rosbridge_cbor_joint_states_per_s: ['>=', 5000],
  rosbridge_json_raw_joint_states_per_s: ['>=', 5000],
  rosbridge_cbor_raw_joint_states_per_s: ['>=', 5000],
  rosbridge_json_fanout_per_s: ['>=', 5000],
  rosbridge_cbor_fanout_per_s: ['>=', 5000],
  rosbridge_round_trip_p99_ms: ['<=', 8],
  rosbridge_100hz_jitter_p99_ms: ['<=', 5],
  rosbridge_100hz_warm_jitter_p99_ms: ['<=', 5],
  ros2_round_trip_p99_ms: ['<=', 2],
  ros2_topic_fresh_joint_states_per_s: ['>=', 10000],
  ros2_topic_preallocated_joint_states_per_s: ['>=', 10000],
  ros2_100hz_jitter_p99_ms: ['<=', 3],
  ros2_100hz_warm_jitter_p99_ms: ['<=', 3],
};

/** Runs the set `runs` times, each in its own process, and prints each figure's median, range and target. */
function repeat(runs: number): void {
  const values = new Map<string, (number | string)[]>();
  for (let run = 1; run <= runs; run++) {
    console.log(`run ${run} of ${runs}`);
    const result = spawnSync(process.execPath, ['bin/run-ts.js', 'bench/ros.ts', '--once'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (result.status !== 0) throw new Error(`bench/ros.ts --once failed (exit ${result.status}): ${result.stdout}`);
    const block = result.stdout.split('\n---\n').pop() ?? '';
    for (const line of block.split('\n')) {
      const match = /^([\w.]+): (.*)$/.exec(line);
      if (!match) continue;
      const value = Number(match[2]);
      values.set(match[1], [...(values.get(match[1]) ?? []), Number.isFinite(value) && match[2] !== '' ? value : match[2]]);
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const medians = new Map<string, number>();
  console.log(`\n--- (median of ${runs} runs [min, max]; target; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores)`);
  for (const [key, xs] of values) {
    if (xs.some((x) => typeof x === 'string')) {
      console.log(`${key}: ${xs[xs.length - 1]}`);
      continue;
    }
    const nums = xs as number[];
    const m = median(nums);
    medians.set(key, m);
    const target = TARGETS[key];
    const verdict = target ? `; target ${target[0]} ${target[1]}: ${(target[0] === '>=' ? m >= target[1] : m <= target[1]) ? 'met' : 'not met'}` : '';
    console.log(`${key}: ${+m.toFixed(3)} [${+Math.min(...nums).toFixed(3)}, ${+Math.max(...nums).toFixed(3)}]${verdict}`);
  }
  for (const kind of ['', 'raw_', 'fanout_'] as const) {
    const suffix = kind === 'fanout_' ? 'fanout_per_s' : `${kind}joint_states_per_s`;
    const json = medians.get(`rosbridge_json_${suffix}`);
    const cbor = medians.get(`rosbridge_cbor_${suffix}`);
    if (json && cbor) console.log(`rosbridge_cbor_over_json_${suffix}: ${+(cbor / json).toFixed(2)}; target >= 1: ${cbor >= json ? 'met' : 'not met'}`);
  }
  const lockstep = medians.get('ros2_joint_states_per_s');
  const fresh = medians.get('ros2_topic_fresh_joint_states_per_s');
  const preallocated = medians.get('ros2_topic_preallocated_joint_states_per_s');
  if (lockstep && fresh) console.log(`ros2_topic_over_lockstep: ${+(fresh / lockstep).toFixed(2)}`);
  if (fresh && preallocated) console.log(`ros2_topic_preallocated_over_fresh: ${+(preallocated / fresh).toFixed(2)}`);
}

if (process.argv.includes('--fanout-server')) await fanoutServer();
else if (process.argv.includes('--ros2-topic-publisher')) await ros2TopicPublisher();
else if (process.argv.includes('--once')) await main();
else repeat(Number(process.env.ARBOR_BENCH_RUNS ?? 3));
