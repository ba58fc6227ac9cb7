/**
 * `arbor sim-serve --rosbridge` as a real process, driven by roslib (a rosbridge client arbor did
 * not write) and by a raw WebSocket for what roslib never sends: subscribe and publish (JSON and
 * CBOR), services, the trajectory action with feedback and result, the gripper action, camera
 * images, fragments both ways, status errors for bad ops, and hostile input that must not bring
 * the server down.
 */
import { Action, Ros, Service, Topic } from 'roslib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawClient, startSimServe, type Served } from './sim-serve-helpers.ts';

const JOINTS = ['shoulder_pan', 'shoulder_lift', 'elbow', 'wrist_1', 'wrist_2', 'wrist_3'];
const HOME = [-0.3584, -0.2794, 1.8284, 0.0219, -1.5708, -1.9292];
type JointState = { header: { stamp: { sec: number; nanosec: number } }; name: string[]; position: ArrayLike<number> };
const stampOf = (m: JointState) => m.header.stamp.sec + m.header.stamp.nanosec / 1e9;

let served: Served;
let ros: Ros;
beforeAll(async () => {
  served = await startSimServe('scenarios/pick-place.yaml', ['--rosbridge', '0', '--camera-rate', '5']);
  ros = new Ros({});
  const opened = new Promise((resolve) => ros.once('connection', resolve));
  await ros.connect(`ws://127.0.0.1:${served.port}`);
  await opened;
}, 90_000);
afterAll(async () => {
  ros?.close();
  await served?.stop();
});

function call<T>(name: string, type: string, request: object): Promise<T> {
  return new Promise((resolve, reject) => new Service({ ros, name, serviceType: type }).callService(request, (r) => resolve(r as T), (e) => reject(new Error(e))));
}

/** The next message on a topic (subscribing first), after `trigger` runs: a latched topic's last message, sent on subscribing, is not it. */
function next<T>(topic: Topic<T>, trigger: () => unknown, accept: (m: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    let triggered = false;
    const listener = (m: T) => {
      if (!triggered || !accept(m)) return;
      topic.unsubscribe(listener);
      resolve(m);
    };
    topic.subscribe(listener);
    setTimeout(() => {
      triggered = true;
      void trigger();
    }, 100);
  });
}

/** A raw rosbridge client of the served process. */
const raw = () => rawClient(served.port!);

const trajectory = (points: { positions: number[]; t: number }[], names = JOINTS) => ({
  joint_names: names,
  points: points.map((p) => ({ positions: p.positions, time_from_start: { sec: Math.floor(p.t), nanosec: Math.round((p.t % 1) * 1e9) } })),
});

describe('sim-serve over rosbridge, with roslib', () => {
  it('resets to a seed set through set_parameters, and refuses bad parameters and unknown services', async () => {
    const set = await call<{ results: { successful: boolean; reason: string }[] }>('/arbor_sim/set_parameters', 'rcl_interfaces/srv/SetParameters', {
      parameters: [{ name: 'seed', value: { type: 2, integer_value: 7 } }, { name: 'gain', value: { type: 2, integer_value: 1 } }],
    });
    expect(set.results[0]).toEqual({ successful: true, reason: '' });
    expect(set.results[1].successful).toBe(false);
    expect(set.results[1].reason).toMatch(/No parameter 'gain'/);
    const reset = await call<{ success: boolean; message: string }>('/arbor/reset', 'std_srvs/srv/Trigger', {});
    expect(reset.success).toBe(true);
    expect(JSON.parse(reset.message)).toMatchObject({ seed: 7, time: 0, lockstep: true, period: 0.02 });
    await expect(call('/arbor/teleport', 'std_srvs/srv/Trigger', {})).rejects.toThrow(/Service \/arbor\/teleport does not exist/);
  });

  it('publishes /joint_states as JSON and as CBOR with the same values, stepping once per step call', async () => {
    const json = new Topic<JointState>({ ros, name: '/joint_states', messageType: 'sensor_msgs/msg/JointState' });
    const cbor = new Topic<JointState>({ ros, name: '/joint_states', messageType: 'sensor_msgs/msg/JointState', compression: 'cbor' });
    const step = () => call('/arbor/step', 'std_srvs/srv/Trigger', {});
    const [a, b] = await Promise.all([next(json, step), next(cbor, () => undefined)]);
    expect(a.name).toEqual(JOINTS);
    expect(b.position).toBeInstanceOf(Float64Array); // CBOR's typed arrays arrive as typed arrays
    expect(Array.from(b.position)).toEqual(Array.from(a.position));
    expect(stampOf(a)).toBe(stampOf(b));
    const after = await next(json, step);
    expect(stampOf(after)).toBeCloseTo(stampOf(a) + 0.02, 9);
  });

  it('moves the arm along a trajectory published on the controller topic, one control period per period of the trajectory', async () => {
    await call('/arbor/reset', 'std_srvs/srv/Trigger', {});
    const target = HOME.map((q, i) => (i === 0 ? q + 0.2 : q));
    const states = new Topic<JointState>({ ros, name: '/joint_states', messageType: 'sensor_msgs/msg/JointState' });
    const command = new Topic({ ros, name: '/joint_trajectory_controller/joint_trajectory', messageType: 'trajectory_msgs/msg/JointTrajectory' });
    const last = await next(states, () => command.publish(trajectory([{ positions: target, t: 0.5 }])), (m) => stampOf(m) >= 0.5 - 1e-9);
    expect(stampOf(last)).toBeCloseTo(0.5, 9);
    expect(last.position[0]).toBeGreaterThan(HOME[0] + 0.1);
  });

  it('runs a FollowJointTrajectory goal with feedback every period and a result', async () => {
    await call('/arbor/reset', 'std_srvs/srv/Trigger', {});
    const action = new Action<object, { desired: { positions: number[] }; actual: { positions: number[] } }, { error_code: number }>({
      ros, name: '/joint_trajectory_controller/follow_joint_trajectory', actionType: 'control_msgs/action/FollowJointTrajectory',
    });
    const final = HOME.map((q, i) => (i === 1 ? q + 0.15 : q));
    const feedback: { desired: { positions: number[] } }[] = [];
    const result = await new Promise<{ error_code: number }>((resolve, reject) => {
      action.sendGoal(
        { trajectory: trajectory([{ positions: HOME.map((q, i) => (i === 1 ? q + 0.05 : q)), t: 0.2 }, { positions: final, t: 0.6 }]) },
        resolve,
        (f) => feedback.push(f),
        (e) => reject(new Error(e)),
      );
    });
    expect(result.error_code).toBe(0);
    expect(feedback).toHaveLength(30); // 0.6 s at 50 Hz
    expect(feedback.at(-1)!.desired.positions[1]).toBeCloseTo(final[1], 12);
    const state = await next(new Topic<JointState>({ ros, name: '/joint_states', messageType: 'sensor_msgs/msg/JointState' }), () => call('/arbor/step', 'std_srvs/srv/Trigger', {}));
    expect(state.position[1]).toBeGreaterThan(HOME[1] + 0.1);
  });

  it('aborts a goal that names joints the robot does not have, saying which', async () => {
    const action = new Action({ ros, name: '/joint_trajectory_controller/follow_joint_trajectory', actionType: 'control_msgs/action/FollowJointTrajectory' });
    const failure = await new Promise<string>((resolve) => {
      action.sendGoal({ trajectory: trajectory([{ positions: [0, 0], t: 1 }], ['shoulder_pan', 'tail']) }, () => resolve('succeeded'), undefined, resolve);
    });
    expect(failure).toMatch(/aborted/);
  });

  it('closes the gripper through the GripperCommand action as the world steps', async () => {
    await call('/arbor/reset', 'std_srvs/srv/Trigger', {});
    const gripper = new Action<object, unknown, { position: number; reached_goal: boolean; stalled: boolean }>({ ros, name: '/gripper_controller/gripper_cmd', actionType: 'control_msgs/action/GripperCommand' });
    const result = new Promise<{ position: number; reached_goal: boolean }>((resolve, reject) => gripper.sendGoal({ command: { position: 0.03, max_effort: 10 } }, resolve, undefined, (e) => reject(new Error(e))));
    // Lockstep: the world moves with the arm's commands; hold the arm for a second.
    new Topic({ ros, name: '/joint_trajectory_controller/joint_trajectory', messageType: 'trajectory_msgs/msg/JointTrajectory' }).publish(trajectory([{ positions: HOME, t: 1 }]));
    const done = await result;
    expect(done.reached_goal).toBe(true);
    expect(done.position).toBeCloseTo(0.03, 2);
  });

  it('publishes camera images (32FC1 depth) at the camera rate', async () => {
    await call('/arbor/reset', 'std_srvs/srv/Trigger', {});
    const camera = new Topic<{ width: number; height: number; encoding: string; data: string }>({ ros, name: '/camera/top/image_raw', messageType: 'sensor_msgs/msg/Image' });
    const command = new Topic({ ros, name: '/joint_trajectory_controller/joint_trajectory', messageType: 'trajectory_msgs/msg/JointTrajectory' });
    const image = await next(camera, () => command.publish(trajectory([{ positions: HOME, t: 0.3 }])));
    expect([image.width, image.height, image.encoding]).toEqual([64, 48, '32FC1']);
    const depth = new Float32Array(new Uint8Array(Buffer.from(image.data, 'base64')).buffer);
    expect(depth).toHaveLength(64 * 48);
    const centre = depth[24 * 64 + 32];
    expect(centre).toBeGreaterThan(1); // the table, seen from 1.5 m above
    expect(centre).toBeLessThan(1.6);
  });

  it('sends fragments to a subscriber that asks for them, and roslib puts them back together', async () => {
    // A camera image (16 KB of JSON) in fragments of 1 KiB, the smallest sim-serve takes.
    const image = '/camera/top/image_raw';
    const whole = new Promise<{ width: number }>((resolve) => ros.on(image, (m) => resolve((m as unknown as { msg: { width: number } }).msg)));
    ros.callOnConnection({ op: 'subscribe', id: 'fragmented', topic: image, type: 'sensor_msgs/msg/Image', fragment_size: 1024 });
    const client = await raw();
    client.send({ op: 'set_level', level: 'warning' });
    client.send({ op: 'subscribe', id: 'tiny', topic: image, fragment_size: 64 });
    const raised = await client.until((x) => x.op === 'status' && x.id === 'tiny');
    expect(raised.msg).toMatch(/fragment_size 64 is below the smallest taken, 1024 bytes/);
    await new Promise((r) => setTimeout(r, 200));
    const command = new Topic({ ros, name: '/joint_trajectory_controller/joint_trajectory', messageType: 'trajectory_msgs/msg/JointTrajectory' });
    command.publish(trajectory([{ positions: HOME, t: 0.3 }]));
    expect((await whole).width).toBe(64);
    const fragment = await client.until((x) => x.op === 'fragment');
    expect((fragment.data as string).length).toBe(1024);
    expect(fragment.total).toBeGreaterThan(3);
    client.ws.close();
    ros.callOnConnection({ op: 'unsubscribe', id: 'fragmented', topic: image });
  });

  it('takes a command sent in fragments', async () => {
    await call('/arbor/reset', 'std_srvs/srv/Trigger', {});
    const client = await raw();
    client.send({ op: 'subscribe', topic: '/joint_states' });
    await new Promise((r) => setTimeout(r, 100));
    const text = JSON.stringify({ op: 'publish', topic: '/joint_trajectory_controller/joint_trajectory', msg: trajectory([{ positions: HOME, t: 0.02 }]) });
    const size = 40;
    const total = Math.ceil(text.length / size);
    // Out of order, as the protocol allows.
    for (const num of Array.from({ length: total }, (_, i) => total - 1 - i)) client.send({ op: 'fragment', id: 'cmd-1', data: text.slice(num * size, (num + 1) * size), num, total });
    const state = await client.until((x) => x.op === 'publish' && ((x.msg as JointState).header.stamp.nanosec === 20_000_000));
    expect(state.topic).toBe('/joint_states');
    client.ws.close();
  });
});

describe('sim-serve refuses bad ops with status errors and survives hostile input', () => {
  it('answers every bad op with a status error that names the problem', async () => {
    const client = await raw();
    const cases: [unknown, RegExp][] = [
      ['not json at all', /not valid JSON/],
      [{ no: 'op' }, /must be a JSON object with a string `op`/],
      [{ op: 'teleport', id: 'x1' }, /Unknown op 'teleport'/],
      [{ op: 'subscribe', id: 'x2' }, /'subscribe' message is malformed: topic/],
      [{ op: 'subscribe', id: 'x3', topic: '/joint_states', type: 'std_msgs/msg/String' }, /carries sensor_msgs\/msg\/JointState, not std_msgs\/msg\/String/],
      [{ op: 'publish', id: 'x4', topic: '/nowhere', msg: {} }, /Nobody takes messages on \/nowhere/],
      [{ op: 'publish', id: 'x5', topic: '/joint_trajectory_controller/joint_trajectory', msg: { joint_names: ['elbow'], points: [] } }, /malformed: points/],
      [{ op: 'publish', id: 'x6', topic: '/joint_trajectory_controller/joint_trajectory', msg: trajectory([{ positions: [1, 2, 3, 4, 5, 6], t: 1 }], ['a', 'b', 'c', 'd', 'e', 'f']) }, /does not name joints shoulder_pan/],
      [{ op: 'advertise_service', id: 'x7', service: '/evil', type: 'std_srvs/srv/Trigger' }, /clients cannot provide them/],
      [{ op: 'unsubscribe', id: 'x8', topic: '/clock' }, /Not subscribed to \/clock/],
      [{ op: 'cancel_action_goal', id: 'nope', action: '/x' }, /No goal 'nope'/],
      [{ op: 'fragment', id: 'f', data: 'x', num: 5, total: 2 }, /not below its total/],
    ];
    for (const [message, expected] of cases) {
      const before = client.messages.length;
      client.send(message);
      const status = await client.until((m) => m.op === 'status' && client.messages.indexOf(m) >= before);
      expect(status.level).toBe('error');
      expect(status.msg).toMatch(expected);
    }
    client.ws.close();
  });

  it('survives garbage, huge and hostile messages and keeps serving', async () => {
    const client = await raw();
    client.send(Buffer.from([0xff, 0x00, 0x13, 0x37])); // a binary frame that is not CBOR
    client.send('['.repeat(100_000)); // nesting past any parser's depth
    client.send(JSON.stringify({ op: 'publish', topic: '/joint_trajectory_controller/joint_trajectory', msg: { joint_names: JOINTS, points: [{ positions: [NaN, 1e308, 0, 0, 0, 0], time_from_start: { sec: 1, nanosec: 0 } }] } }));
    client.send(`{"op":"publish","topic":"/joint_trajectory_controller/joint_trajectory","msg":{"__proto__":{"polluted":true},"joint_names":[],"points":[]}}`);
    client.send({ op: 'fragment', id: 'big', data: 'x'.repeat(1000), num: 0, total: 10_000 });
    client.send({ op: 'publish', topic: '/joint_trajectory_controller/joint_trajectory', msg: trajectory(Array.from({ length: 2000 }, (_, i) => ({ positions: HOME, t: 0.001 * (i + 1) }))) });
    client.send({ op: 'send_action_goal', id: 'g', action: '/joint_trajectory_controller/follow_joint_trajectory', args: { trajectory: 'no' } });
    client.send({ op: 'call_service', id: 's', service: '/arbor_sim/set_parameters', args: { parameters: [{ name: 'seed', value: { type: 2, integer_value: -5 } }] } });
    const refused = await client.until((m) => m.op === 'service_response' && m.id === 's');
    expect((refused.values as { results: { successful: boolean }[] }).results[0].successful).toBe(false);
    const goal = await client.until((m) => m.op === 'action_result' && m.id === 'g');
    expect(goal.result).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    client.ws.close();
    // Still serving, and still the robot it was.
    const reset = await call<{ success: boolean }>('/arbor/reset', 'std_srvs/srv/Trigger', {});
    expect(reset.success).toBe(true);
    expect(served.child.exitCode).toBeNull();
  });
});
