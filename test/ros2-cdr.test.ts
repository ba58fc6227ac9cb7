/**
 * The CDR codecs the ROS 2 link publishes and reads with (src/robot/ros2-cdr.ts): built from the
 * sourced distro's `.msg` files, their bytes must be what rclnodejs itself reads and writes.
 * Real rclnodejs over DDS, in this process.
 */
import { describe, expect, it } from 'vitest';
import { cdrCodec } from '../src/robot/ros2-cdr.ts';
import { loadRclnodejs, ros2Unavailable } from '../src/robot/ros2.ts';

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
    const back = codec!.decode(codec!.encode(state)) as typeof state;
    expect(back.header).toEqual(state.header);
    expect(back.joint_names).toEqual(names);
    expect(Array.from(back.reference.positions)).toEqual([0.5, -1.25]);
    expect(back.error.time_from_start).toEqual({ sec: 0, nanosec: 20_000_000 });
  });

  it('has no codec for a type the distro does not hold, so rclnodejs converts it', () => {
    expect(cdrCodec('no_such_msgs/msg/Nothing')).toBeUndefined();
  });

  it('writes the bytes rclnodejs writes, and a plain rclnodejs subscriber reads ours over DDS', async () => {
    type Message = object;
    const rcl = (await loadRclnodejs()) as unknown as {
      require(type: string): new (init?: object) => Message;
      serializeMessage(message: Message, type: new () => Message): Buffer;
      createNode(name: string): {
        createPublisher(type: string, topic: string): { publish(bytes: Buffer): void };
        createSubscription(type: string, topic: string, options: object, callback: (message: unknown) => void): void;
        spin(): void;
        destroy(): void;
      };
    };
    const type = 'sensor_msgs/msg/JointState';
    const message = { header: { stamp: { sec: 7, nanosec: 9 }, frame_id: 'base' }, name: names, position: [0.125, -2], velocity: [0, 1.5], effort: [] };
    const Native = rcl.require(type);
    const ours = cdrCodec(type)!.encode(message);
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
});
