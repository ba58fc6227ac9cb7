/**
 * Issue 16's cases against `arbor sim-serve --rosbridge`, each of which the main it was filed
 * against failed: a trajectory that froze the server (item 1), fragments and clients without a
 * memory cap (item 3, on the rosbridge server over a real loopback WebSocket), commands outside
 * the robot and a network without a token (item 10), and a lockstep robot a new subscriber could
 * not see (item 11). The served process is real; "answered within 1 s" is wall time.
 */
import { readFileSync } from 'node:fs';
import { encode as encodeCbor } from 'cbor2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JointTrajectoryMsg } from '../src/robot/ros-messages.ts';
import { RosbridgeServer } from '../src/robot/rosbridge-server.ts';
import { connectRosbridge } from '../src/robot/rosbridge.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { TRAJECTORY_LIMITS, TrajectoryFollower, trajectoryCommand } from '../src/robot/trajectory.ts';
import { rawClient, startSimServe, type RawClient, type Served } from './sim-serve-helpers.ts';

const JOINTS = ['shoulder_pan', 'shoulder_lift', 'elbow', 'wrist_1', 'wrist_2', 'wrist_3'];
const HOME = [-0.3584, -0.2794, 1.8284, 0.0219, -1.5708, -1.9292];
const TOPIC = '/joint_trajectory_controller/joint_trajectory';
const ACTION = '/joint_trajectory_controller/follow_joint_trajectory';
/** Wall time within which the server must answer, whatever a client did before. */
const RESPONSIVE_MS = 1000;

const at = (seconds: number) => ({ sec: Math.floor(seconds), nanosec: Math.round((seconds % 1) * 1e9) });
const trajectory = (points: { positions: number[]; t: number; effort?: number[] }[], names = JOINTS) => ({
  joint_names: names,
  points: points.map((p) => ({ positions: p.positions, ...(p.effort ? { effort: p.effort } : {}), time_from_start: at(p.t) })),
});
/** A trajectory to home lasting `seconds`. */
const lasting = (seconds: number) => trajectory([{ positions: HOME, t: seconds }]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let served: Served;
let client: RawClient;
beforeAll(async () => {
  served = await startSimServe('scenarios/pick-place.yaml', ['--rosbridge', '0', '--camera-rate', '0']);
  client = await rawClient(served.port!);
  client.send({ op: 'set_level', level: 'warning' });
}, 90_000);
afterAll(async () => {
  client?.ws.close();
  await served?.stop();
});

let ids = 0;
/** Calls a Trigger service; its answer and the wall milliseconds it took. */
async function trigger(service: 'reset' | 'step'): Promise<{ success: boolean; time: number; ms: number }> {
  const id = `call-${ids++}`;
  const t0 = performance.now();
  client.send({ op: 'call_service', id, service: `/arbor/${service}`, args: {} });
  const r = await client.until((m) => m.op === 'service_response' && m.id === id);
  const values = r.values as { success: boolean; message: string };
  return { success: values.success, time: JSON.parse(values.message).time as number, ms: performance.now() - t0 };
}
/** Sends `message` with a fresh id; the status that answers it. */
function statusFor(message: Record<string, unknown>): Promise<Record<string, unknown>> {
  const id = `op-${ids++}`;
  client.send({ ...message, id });
  return client.until((m) => m.op === 'status' && m.id === id);
}
/** Sends an action goal with a fresh id; its id and its result. */
function goal(action: string, args: object): { id: string; result: Promise<Record<string, unknown>> } {
  const id = `goal-${ids++}`;
  client.send({ op: 'send_action_goal', id, action, args });
  return { id, result: client.until((m) => m.op === 'action_result' && m.id === id) };
}
async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('item 1: one trajectory no longer freezes sim-serve', () => {
  it(`refuses a trajectory longer than ${TRAJECTORY_LIMITS.seconds} s or with more than ${TRAJECTORY_LIMITS.points} points, with a status, and follows none of it`, async () => {
    await trigger('reset');
    const forever = await statusFor({ op: 'publish', topic: TOPIC, msg: lasting(2147483647) });
    expect(forever.level).toBe('error');
    expect(forever.msg).toMatch(/lasts 2147483647 s; at most 600 s are taken/);
    const many = await statusFor({ op: 'publish', topic: TOPIC, msg: trajectory(Array.from({ length: 20_000 }, (_, i) => ({ positions: HOME, t: 0.001 * (i + 1) }))) });
    expect(many.msg).toMatch(/has 20000 points; at most 10000 are taken/);
    const refused = await goal(ACTION, { trajectory: lasting(1e6) }).result;
    expect(refused.result).toBe(false);
    expect((refused.values as { error_string: string }).error_string).toMatch(/lasts 1000000 s/);
    const step = await trigger('step');
    expect(step.ms).toBeLessThan(RESPONSIVE_MS);
    expect(step.time).toBeCloseTo(0.02, 9);
  });

  it('answers step calls and new clients while it steps the longest trajectory, and a reset ends it', async () => {
    await trigger('reset');
    client.send({ op: 'publish', topic: TOPIC, msg: lasting(TRAJECTORY_LIMITS.seconds) });
    await sleep(100);
    const step = await trigger('step');
    expect(step.ms).toBeLessThan(RESPONSIVE_MS);
    expect(step.time).toBeGreaterThan(0);
    expect(step.time).toBeLessThan(TRAJECTORY_LIMITS.seconds);
    const t0 = performance.now();
    const other = await rawClient(served.port!);
    other.send({ op: 'subscribe', topic: '/clock' });
    await within(RESPONSIVE_MS, other.until((m) => m.op === 'publish'));
    expect(performance.now() - t0).toBeLessThan(RESPONSIVE_MS);
    other.ws.close();
    const reset = await trigger('reset');
    expect(reset.ms).toBeLessThan(RESPONSIVE_MS);
    expect(reset.time).toBe(0);
    await sleep(100);
    // The trajectory ended with the reset: the world moves only when stepped.
    expect((await trigger('step')).time).toBeCloseTo(0.02, 9);
  });

  it('cancels a FollowJointTrajectory goal mid-trajectory, and a newer trajectory preempts one', async () => {
    await trigger('reset');
    const first = goal(ACTION, { trajectory: lasting(TRAJECTORY_LIMITS.seconds) });
    await sleep(100);
    client.send({ op: 'cancel_action_goal', id: first.id, action: ACTION });
    const cancelled = await within(RESPONSIVE_MS, first.result);
    expect(cancelled.status).toBe(5);
    const second = goal(ACTION, { trajectory: lasting(TRAJECTORY_LIMITS.seconds) });
    await sleep(100);
    client.send({ op: 'publish', topic: TOPIC, msg: lasting(0.02) });
    const preempted = await within(RESPONSIVE_MS, second.result);
    expect(preempted.status).toBe(6);
    expect((preempted.values as { error_string: string }).error_string).toMatch(/preempted by a newer trajectory/);
  });

  it('finds the segment of a 10,000-point trajectory by bisection, not a scan per step', async () => {
    const { robotConfig } = await loadScenario('scenarios/pick-place.yaml');
    const n = TRAJECTORY_LIMITS.points;
    const follower = (points: number) => {
      const message = trajectory(Array.from({ length: points }, (_, i) => ({ positions: HOME.map((q) => q + (i % 2) * 0.01), t: (0.02 * 3 * n / points) * (i + 1) })));
      return new TrajectoryFollower(trajectoryCommand(JointTrajectoryMsg.parse(message), robotConfig), Float64Array.from(HOME), 0.09);
    };
    /** Wall ms to follow a trajectory of 600 s, period by period (the best of three, against load). */
    const cost = (f: TrajectoryFollower) => Math.min(...[0, 1, 2].map(() => {
      const t0 = performance.now();
      for (let k = 1; k <= n * 3; k++) f.at(0.02 * k);
      return performance.now() - t0;
    }));
    const long = follower(n);
    // A findIndex per step scans 5,000 points on average, a hundred times the two-point cost; bisection, 14 halvings.
    expect(cost(long)).toBeLessThan(8 * cost(follower(2)) + 5);
    const command = long.command;
    const follower0 = long;
    // Exact at points, linear between them, the last held.
    expect(follower0.at(0.06).position[0]).toBe(HOME[0]);
    expect(follower0.at(0.09).position[0]).toBeCloseTo(HOME[0] + 0.005, 12);
    expect(follower0.at(1e9).position[0]).toBe(command.positions[n - 1][0]);
  });
});

describe('item 10: commands outside the robot', () => {
  it('clamps arm and gripper targets beyond the limits, saying so with a warning status and in the log', async () => {
    await trigger('reset');
    const far = await statusFor({ op: 'publish', topic: TOPIC, msg: trajectory([{ positions: [100, ...HOME.slice(1)], t: 0.02 }]) });
    expect(far.level).toBe('warning');
    expect(far.msg).toMatch(/clamped into arm6's limits: shoulder_pan \(rad\) 100 to 3.1416/);
    const wide = await statusFor({ op: 'publish', topic: TOPIC, msg: trajectory([{ positions: [...HOME, 5], effort: [0, 0, 0, 0, 0, 0, 1e300], t: 0.02 }], [...JOINTS, 'gripper']) });
    expect(wide.msg).toMatch(/the gripper opening \(m\) 5 to 0.09; the gripper force \(N\) 1e\+300 to 25/);
    expect(served.stderr()).toMatch(/shoulder_pan \(rad\) 100 to 3.1416/);
  });

  it('refuses non-finite numbers sent as CBOR and clamps a GripperCommand max_effort of 1e300', async () => {
    const id = `op-${ids++}`;
    const nan = trajectory([{ positions: [...HOME, 0.05], effort: [0, 0, 0, 0, 0, 0, Number.NaN], t: 0.02 }], [...JOINTS, 'gripper']);
    client.send(Buffer.from(encodeCbor({ op: 'publish', id, topic: TOPIC, msg: nan })));
    const refused = await client.until((m) => m.op === 'status' && m.id === id);
    expect(refused.msg).toMatch(/effort must hold finite numbers only/);
    const grip = goal('/gripper_controller/gripper_cmd', { command: { position: 0.05, max_effort: 1e300 } });
    await trigger('step');
    await trigger('step');
    await trigger('step');
    await grip.result;
    expect(served.stderr()).toMatch(/max_effort 1e\+300 N\) was clamped into the gripper's opening \[0, 0.09\] m and force limit 25 N/);
  });

  it('lets no client advertise or publish on the topics sim-serve publishes', async () => {
    const watcher = await rawClient(served.port!);
    watcher.send({ op: 'subscribe', topic: '/joint_states' });
    await watcher.until((m) => m.op === 'publish');
    const forged = { header: { stamp: { sec: 99, nanosec: 0 }, frame_id: '' }, name: JOINTS, position: [0, 0, 0, 0, 0, 0] };
    expect((await statusFor({ op: 'advertise', topic: '/joint_states', type: 'sensor_msgs/msg/JointState' })).msg).toMatch(/\/joint_states is published by sim-serve itself/);
    expect((await statusFor({ op: 'publish', topic: '/joint_states', msg: forged })).msg).toMatch(/clients cannot publish on it/);
    expect((await statusFor({ op: 'publish', topic: '/clock', msg: { clock: { sec: 99, nanosec: 0 } } })).msg).toMatch(/\/clock is published by sim-serve itself/);
    await sleep(100);
    expect(watcher.messages.some((m) => (m as { msg?: { header?: { stamp?: { sec?: number } } } }).msg?.header?.stamp?.sec === 99)).toBe(false);
    watcher.ws.close();
  });

  it('binds rosbridge of the launch file to loopback unless told otherwise', () => {
    const launch = readFileSync('launch/sim_robot.launch.xml', 'utf8');
    expect(launch).toMatch(/<arg name="address" default="127.0.0.1"/);
    expect(launch).toMatch(/<include file="\$\(find-pkg-share rosbridge_server\)[^"]*">\s*<arg name="port" value="\$\(var port\)"\/>\s*<arg name="address" value="\$\(var address\)"\/>/);
  });
});

describe('item 11: a lockstep robot at rest is seen', () => {
  it('gives a new /joint_states subscriber the current state at once, as a latched topic does', async () => {
    await trigger('reset');
    const stepped = await trigger('step');
    const viewer = await rawClient(served.port!);
    viewer.send({ op: 'subscribe', topic: '/joint_states' });
    viewer.send({ op: 'subscribe', topic: '/joint_states', throttle_rate: 10 });
    const state = await within(RESPONSIVE_MS, viewer.until((m) => m.op === 'publish'));
    const { header, name } = state.msg as { header: { stamp: { sec: number; nanosec: number } }; name: string[] };
    expect(name).toEqual(JOINTS);
    expect(header.stamp.sec + header.stamp.nanosec / 1e9).toBeCloseTo(stepped.time, 9);
    await sleep(100);
    expect(viewer.messages).toHaveLength(1); // once per client and topic, not once per subscription
    viewer.ws.close();
  });
});

describe('item 3: rosbridge fragments and clients are bounded', () => {
  let server: RosbridgeServer;
  const lines: string[] = [];
  beforeAll(async () => {
    server = await RosbridgeServer.listen({ port: 0, maxClients: 6, log: (l) => lines.push(l) });
  });
  afterAll(() => server?.close());

  let probes = 0;
  /** Opens fragment 0 of 2 of a message `id` holding `mb` megabytes; the status it got, if any (a probe op after it marks the end). */
  async function hold(c: RawClient, id: string, mb: number): Promise<unknown> {
    const before = c.messages.length;
    const probe = `probe-${probes++}`;
    c.send({ op: 'fragment', id, data: 'x'.repeat(mb << 20), num: 0, total: 2 });
    c.send({ op: 'unsubscribe', id: probe, topic: '/none' });
    await c.until((m) => m.id === probe);
    return c.messages.slice(before).find((m) => (m as { op: string; id?: string }).op === 'status' && (m as { id?: string }).id !== probe);
  }

  it('caps what one client and all clients together may hold unfinished', async () => {
    const clients = await Promise.all([0, 1, 2, 3, 4].map(() => rawClient(server.port)));
    const [a, b, c, d, e] = clients;
    expect(await hold(a, 'a1', 9)).toBeUndefined();
    expect(((await hold(a, 'a2', 9)) as { msg: string }).msg).toMatch(/this client's unfinished messages past 16777216 bytes/);
    expect(await hold(b, 'b', 15)).toBeUndefined();
    expect(await hold(c, 'c', 15)).toBeUndefined();
    expect(await hold(d, 'd', 15)).toBeUndefined();
    expect(((await hold(e, 'e', 15)) as { msg: string }).msg).toMatch(/the server's unfinished messages past 67108864 bytes; try again later/);
    // A client that leaves gives its share back.
    b.ws.close();
    await sleep(100);
    expect(await hold(e, 'e', 15)).toBeUndefined();
    for (const x of clients) x.ws.close();
  }, 30_000);

  it('drops a fragmented message that is not completed in time, saying so', async () => {
    const impatient = await RosbridgeServer.listen({ port: 0, fragmentTimeoutMs: 300 });
    const slow = await rawClient(impatient.port);
    slow.send({ op: 'fragment', id: 'slow', data: '{"op":', num: 0, total: 2 });
    const dropped = await slow.until((m) => m.op === 'status');
    expect(dropped.msg).toMatch(/'slow' was not completed within 0.3 s; it is dropped/);
    // Its piece no longer counts: the rest of it opens a new message, which waits again.
    slow.send({ op: 'fragment', id: 'slow', data: '"set_level","level":"info"}', num: 1, total: 2 });
    await sleep(100);
    expect(slow.messages).toHaveLength(1);
    slow.ws.close();
    await impatient.close();
  });

  it('refuses a client beyond the limit with 1013, and takes one again when another leaves', async () => {
    await sleep(200);
    const six = await Promise.all(Array.from({ length: 6 }, () => rawClient(server.port)));
    const seventh = new WebSocket(`ws://127.0.0.1:${server.port}`);
    const [code, reason] = await new Promise<[number, string]>((resolve) => seventh.once('close', (c, r) => resolve([c, r.toString()])));
    expect(code).toBe(1013);
    expect(reason).toMatch(/at most 6 clients; try again later/);
    expect(lines.join('\n')).toMatch(/a client was refused: 6 are connected already/);
    six[0].ws.close();
    await sleep(100);
    const again = await rawClient(server.port);
    expect(again.ws.readyState).toBe(WebSocket.OPEN);
    for (const x of [...six, again]) x.ws.close();
  });
});

describe('item 10: a token beyond loopback; item 1: Ctrl-C mid-trajectory', () => {
  let open: Served;
  beforeAll(async () => {
    open = await startSimServe('scenarios/pick-place.yaml', ['--rosbridge', '0', '--camera-rate', '0', '--host', '0.0.0.0']);
  }, 90_000);
  afterAll(() => open?.kill());

  it('asks every client for the token it printed', async () => {
    expect(open.token).toMatch(/^[0-9a-f]{32}$/);
    for (let i = 0; i < 50 && !open.stderr().includes('ARBOR_ROSBRIDGE_TOKEN'); i++) await sleep(100);
    expect(open.stderr()).toContain(`ARBOR_ROSBRIDGE_TOKEN=${open.token}`);
    await expect(rawClient(open.port!)).rejects.toThrow(/401/);
    await expect(rawClient(open.port!, '/?token=wrong-token-here')).rejects.toThrow(/401/);
    const bearer = new WebSocket(`ws://127.0.0.1:${open.port}`, { headers: { Authorization: `Bearer ${open.token}` } });
    await new Promise((resolve, reject) => bearer.once('open', resolve).once('error', reject));
    bearer.close();
    await expect(connectRosbridge(`ws://127.0.0.1:${open.port}`, { timeoutMs: 3000 })).rejects.toThrow(/ARBOR_ROSBRIDGE_TOKEN/);
    const graph = await connectRosbridge(`ws://127.0.0.1:${open.port}`, { token: open.token });
    await graph.close();
  });

  it('stops on SIGINT in the middle of the longest trajectory', async () => {
    const c = await rawClient(open.port!, `/?token=${open.token}`);
    c.send({ op: 'publish', topic: TOPIC, msg: lasting(TRAJECTORY_LIMITS.seconds) });
    await sleep(300);
    const t0 = performance.now();
    const exited = new Promise<number | null>((resolve) => open.child.once('exit', (code) => resolve(code)));
    open.child.kill('SIGINT');
    expect(await within(5000, exited)).toBe(0);
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
