/**
 * The CDR codecs the ROS 2 link publishes and reads with (src/robot/ros2-cdr.ts): built from the
 * sourced distro's `.msg` files, their bytes must be what rclnodejs itself reads and writes.
 * Real rclnodejs over DDS, in this process.
 */
import { MessageWriter } from '@foxglove/rosmsg2-serialization';
import { describe, expect, it } from 'vitest';
import { ROS_TYPE, resolveNames } from '../src/robot/ros-messages.ts';
import { cdrCodec } from '../src/robot/ros2-cdr.ts';
import { loadRclnodejs, ros2Unavailable } from '../src/robot/ros2.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { useTestRosDomain } from './ros-domain.ts';
import { startSimServe } from './sim-serve-helpers.ts';

useTestRosDomain();

type Message = object;
/** The parts of rclnodejs these tests drive directly. */
interface Rcl {
  require(type: string): new (init?: object) => Message;
  serializeMessage(message: Message, type: new () => Message): Buffer;
  createNode(name: string): {
    createPublisher(type: string, topic: string): { publish(message: object | Buffer): void };
    createSubscription(type: string, topic: string, options: object, callback: (message: unknown) => void): void;
    spin(): void;
    destroy(): void;
  };
}

/** The bytes MessageWriter writes into a buffer of their own, sized for the message: the path a reused buffer must match. */
function freshBytes(type: string, message: unknown): Buffer {
  return Buffer.from(new MessageWriter(cdrCodec(type)!.definition).writeMessage(message));
}

const noRos2 = ros2Unavailable();
describe.skipIf(noRos2 !== undefined)(`ROS 2 CDR codecs${noRos2 ? ` — skipped: ${noRos2}` : ''}`, () => {
  const names = ['shoulder_pan', 'elbow'];
  const point = (positions: number[]) => ({ positions, velocities: [], accelerations: [], effort: [], time_from_start: { sec: 0, nanosec: 20_000_000 } });
  const state = {
    header: { stamp: { sec: 3, nanosec: 500 }, frame_id: 'base' },
    joint_names: names,
    reference: point([0.5, -1.25]),
    feedback: point([0.25, -1]),
    error: point([0.25, -0.25]),
  };

  it('builds a codec from the .msg files, nested types and all, and reads back what it wrote', () => {
    const codec = cdrCodec('control_msgs/msg/JointTrajectoryControllerState');
    expect(codec).toBeDefined();
    const back = codec!.decode(codec!.encoder()(state)) as typeof state;
    expect(back.header).toEqual(state.header);
    expect(back.joint_names).toEqual(names);
    expect(Array.from(back.reference.positions)).toEqual([0.5, -1.25]);
    expect(back.error.time_from_start).toEqual({ sec: 0, nanosec: 20_000_000 });
  });

  it('has no codec for a type the distro does not hold, so rclnodejs converts it', () => {
    expect(cdrCodec('no_such_msgs/msg/Nothing')).toBeUndefined();
  });

  it('writes the bytes rclnodejs writes, and a plain rclnodejs subscriber reads ours over DDS', async () => {
    const rcl = (await loadRclnodejs()) as unknown as Rcl;
    const type = 'sensor_msgs/msg/JointState';
    const message = { header: { stamp: { sec: 7, nanosec: 9 }, frame_id: 'base' }, name: names, position: [0.125, -2], velocity: [0, 1.5], effort: [] };
    const Native = rcl.require(type);
    const ours = cdrCodec(type)!.encoder()(message);
    expect(Buffer.compare(ours, rcl.serializeMessage(new Native(message), Native))).toBe(0);

    const node = rcl.createNode(`arbor_cdr_test_${process.pid}`);
    try {
      const topic = `/arbor_cdr_test_${process.pid}/joint_states`;
      const received = new Promise<typeof message>((resolve) => node.createSubscription(type, topic, {}, (m) => resolve(m as typeof message)));
      const publisher = node.createPublisher(type, topic);
      node.spin();
      // Discovery takes a moment: publish until the subscriber has one.
      const timer = setInterval(() => publisher.publish(ours), 50);
      const read = await received.finally(() => clearInterval(timer));
      expect(read.header).toEqual(message.header);
      expect(read.name).toEqual(names);
      expect(Array.from(read.position)).toEqual([0.125, -2]);
      expect(Array.from(read.velocity)).toEqual([0, 1.5]);
    } finally {
      node.destroy();
    }
  }, 30_000);

  it('one encoder reuses its buffer and writes, message after message, the bytes a fresh buffer gets', () => {
    const type = ROS_TYPE.jointState;
    const encode = cdrCodec(type)!.encoder();
    const joint = (n: number, label: string) => ({
      header: { stamp: { sec: n, nanosec: 7 * n }, frame_id: label },
      name: Array.from({ length: n }, (_, i) => `${label}_${i}`),
      position: Float64Array.from({ length: n }, (_, i) => i / 3),
      velocity: Array.from({ length: n }, (_, i) => -i),
      effort: [],
    });
    // Shrinking after a longer message (stale bytes behind), growing past the first buffer (1 KiB) and back.
    const messages = [joint(7, 'shoulder'), joint(1, 'a'), joint(0, ''), joint(60, 'a_long_joint_name'), joint(2, 'b'), joint(7, 'shoulder')];
    const buffers = new Set<ArrayBufferLike>();
    for (const message of messages) {
      const bytes = encode(message);
      buffers.add(bytes.buffer);
      expect(Buffer.compare(bytes, freshBytes(type, message))).toBe(0);
    }
    // One buffer, then the one it grew into for the 60-joint message: no buffer per message.
    expect(buffers.size).toBe(2);
  });

  it("puts on the wire, for every topic sim-serve publishes, the bytes a fresh buffer gets", async () => {
    const scenario = await loadScenario('scenarios/pick-place.yaml');
    const namespace = `/cdr_wire_${process.pid}`;
    const n = resolveNames(scenario.robotConfig.ros, namespace);
    const objects = scenario.taskDef.objects(scenario.task);
    const topics: [string, string][] = [
      [n.jointStates, ROS_TYPE.jointState], [n.clock, ROS_TYPE.clock], [n.controllerState, ROS_TYPE.controllerState],
      ...(n.gripperState ? [[n.gripperState, ROS_TYPE.jointState] as [string, string]] : []),
      ...(n.wrench ? [[n.wrench, ROS_TYPE.wrench] as [string, string]] : []),
      ...(n.contacts ? [[n.contacts, ROS_TYPE.jointState] as [string, string]] : []),
      ...objects.flatMap((o): [string, string][] => [[n.objectPose(o), ROS_TYPE.pose], [n.observedPose(o), ROS_TYPE.pose]]),
      ...n.cameras.map((c): [string, string] => [c, ROS_TYPE.image]),
    ];
    const served = await startSimServe('scenarios/pick-place.yaml', ['--ros2', '--namespace', namespace, '--camera-rate', '10']);
    const rcl = (await loadRclnodejs()) as unknown as Rcl;
    const node = rcl.createNode(`arbor_cdr_wire_${process.pid}`);
    try {
      // In arrival order, every topic's raw bytes: the reused buffers as they left sim-serve.
      const wire: { topic: string; type: string; bytes: Buffer }[] = [];
      for (const [topic, type] of topics) node.createSubscription(type, topic, { isRaw: true }, (bytes) => wire.push({ topic, type, bytes: Buffer.from(bytes as Buffer) }));
      const command = node.createPublisher(ROS_TYPE.trajectory, n.trajectoryTopic);
      node.spin();
      const home = scenario.robotConfig.home;
      const joints = scenario.robotConfig.joints.map((j) => j.name);
      // Ten periods towards a pose off home (the state changes tick by tick), sent until every topic has spoken (discovery takes a moment).
      const away = home.map((q, i) => q + 0.05 * (i + 1));
      const hold = { joint_names: joints, points: [{ positions: away, velocities: [], accelerations: [], effort: [], time_from_start: { sec: 0, nanosec: 200_000_000 } }] };
      const deadline = Date.now() + 20_000;
      while (new Set(wire.map((w) => w.topic)).size < topics.length && Date.now() < deadline) {
        command.publish(hold);
        await new Promise((r) => setTimeout(r, 300));
      }
      expect(new Set(wire.map((w) => w.topic))).toEqual(new Set(topics.map(([topic]) => topic)));
      // Each message as sim-serve sent it is the fresh-buffer bytes of what it says...
      for (const { type, bytes } of wire) expect(Buffer.compare(bytes, freshBytes(type, cdrCodec(type)!.decode(bytes)))).toBe(0);
      // ...and so is each message run again through one encoder per type, in arrival order (joint
      // states, gripper and contacts share theirs: messages of three sizes, interleaved).
      const encoders = new Map<string, (message: object) => Buffer>();
      for (const { type, bytes } of wire) {
        if (!encoders.has(type)) encoders.set(type, cdrCodec(type)!.encoder());
        expect(Buffer.compare(encoders.get(type)!(cdrCodec(type)!.decode(bytes) as object), bytes)).toBe(0);
      }
    } finally {
      node.destroy();
      await served.stop();
    }
  }, 60_000);
});
