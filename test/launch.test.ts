/**
 * launch/: no `ros2 launch` runs on these machines, so the files are checked for what can go wrong
 * here: well-formed XML with the arguments the operators' guide names, controller parameters that
 * name robot.yaml's joints, and a sim stand-in that starts `arbor sim-serve --ros2`.
 */
import { readFileSync } from 'node:fs';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadRobot } from '../src/scenario/robot.ts';

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' });
const argsOf = (file: string) => {
  const text = readFileSync(file, 'utf8');
  expect(XMLValidator.validate(text)).toBe(true);
  const launch = parser.parse(text).launch as { arg: { name: string }[] };
  return launch.arg.map((a) => a.name);
};

describe('launch files', () => {
  it('robot_bridge.launch.xml takes the robot, port and namespace, and its controllers drive robot.yaml joints', () => {
    expect(argsOf('launch/robot_bridge.launch.xml')).toEqual(expect.arrayContaining(['robot', 'port', 'namespace']));
    const robot = loadRobot('robots/arm6/robot.yaml');
    const controllers = parse(readFileSync('launch/config/arm6_controllers.yaml', 'utf8')) as Record<string, { ros__parameters: Record<string, unknown> }>;
    expect(controllers.joint_trajectory_controller.ros__parameters.joints).toEqual(robot.joints.map((j) => j.name));
    expect(robot.ros.trajectory_controller).toBe('/joint_trajectory_controller');
    expect(robot.ros.gripper_command).toBe('/gripper_controller/gripper_cmd');
    expect(controllers.gripper_controller.ros__parameters.joint).toBe(robot.gripper!.joints[0]);
  });

  it('sim_robot.launch.xml starts arbor sim-serve as a ROS 2 node, lockstep or real time', () => {
    expect(argsOf('launch/sim_robot.launch.xml')).toEqual(expect.arrayContaining(['scenario', 'namespace', 'realtime', 'rosbridge', 'port']));
    const text = readFileSync('launch/sim_robot.launch.xml', 'utf8');
    const commands = [...text.matchAll(/cmd="([^"]+)"/g)].map((m) => m[1]);
    expect(commands).toHaveLength(2);
    for (const cmd of commands) expect(cmd).toMatch(/^node bin\/arbor\.js sim-serve \$\(var scenario\) --ros2 --namespace=\$\(var namespace\)/);
  });
});
