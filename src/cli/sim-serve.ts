/** `arbor sim-serve`: the scenario's MuJoCo world served as a ROS 2 robot (rosbridge v2 and/or a ROS 2 node). */
import type { Command } from 'commander';
import { accessToken } from '../net/access-token.ts';
import { perturbSource } from '../scenario/perturbation-draw.ts';
import { scenarioWithFlags } from './sim-commands.ts';
import { integer, number } from './options.ts';

interface ServeFlags {
  rosbridge?: number | true;
  ros2?: boolean;
  namespace?: string;
  realtime?: boolean;
  cameraRate: number;
  host: string;
  perturb?: string;
  calibration?: string;
  token?: string;
}

export function registerSimServe(program: Command): void {
  program
    .command('sim-serve')
    .description('serve the scenario\'s sim as a ROS 2 robot: /joint_states, /clock, a trajectory controller, the gripper, wrench, object poses, cameras, reset/pause/step')
    .argument('<scenario>', 'scenario YAML file')
    .option('--rosbridge [port]', 'serve the rosbridge v2 protocol on a WebSocket (default port 9090; 0 picks a free one)', integer(0, 65535))
    .option('--ros2', 'serve as a native ROS 2 node through rclnodejs (needs a sourced ROS 2)')
    .option('--namespace <ns>', 'ROS namespace of every interface, e.g. /robot1', '')
    .option('--realtime', 'step on the wall clock at the control rate (default: one control period per arm command, lockstep)')
    .option('--camera-rate <hz>', 'camera images per second of sim time (0: none)', number(0, 100), 2)
    .option('--host <address>', 'interface the rosbridge server binds; anything but loopback needs a token', '127.0.0.1')
    .option('--token <token>', 'access token of rosbridge clients (generated and printed when --host is not loopback); arbor clients read it from ARBOR_ROSBRIDGE_TOKEN')
    .option('--perturb <file|axis=value,...>', 'serve a perturbed world (a stand-in robot): a perturbation file, each reset\'s seed drawing from it, or axes of the scenario\'s block fixed to values')
    .option('--calibration <file>', 'load the world with this calibration instead of the scenario\'s')
    .action(async (file: string, flags: ServeFlags) => {
      if (flags.namespace && !/^(\/[A-Za-z_][A-Za-z0-9_]*)+$/.test(flags.namespace)) {
        throw new Error(`--namespace '${flags.namespace}' is not a ROS namespace; write it like /robot1.`);
      }
      const [{ SimServer }, { RosbridgeServer }, { serveRos2 }] = await Promise.all([
        import('../robot/sim-serve.ts'), import('../robot/rosbridge-server.ts'), import('../robot/ros2.ts'),
      ]);
      const token = accessToken(flags.host, flags.token);
      const scenario = await scenarioWithFlags(file, flags);
      const perturbation = flags.perturb ? perturbSource(flags.perturb, scenario) : undefined;
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const server = await SimServer.create(scenario, { realtime: flags.realtime, cameraRate: flags.cameraRate, namespace: flags.namespace, log, perturbation });
      const ready: Record<string, unknown> = { scenario: scenario.name, mode: flags.realtime ? 'realtime' : 'lockstep', period: server.period };
      try {
        if (flags.rosbridge !== undefined || !flags.ros2) {
          const port = flags.rosbridge === undefined || flags.rosbridge === true ? 9090 : flags.rosbridge;
          const bridge = await RosbridgeServer.listen({ port, host: flags.host, log, token });
          server.attach(bridge);
          ready.rosbridge = `ws://${flags.host}:${bridge.port}`;
          if (token !== undefined) ready.token = token;
        }
        if (flags.ros2) {
          server.attach(await serveRos2(flags.namespace ?? ''));
          ready.ros2 = flags.namespace || '/';
        }
        await server.start();
      } catch (err) {
        await server.close();
        throw err;
      }
      // One JSON line on stdout for scripts (the port when 0 was asked), the same in words on stderr.
      if (ready.token !== undefined) log(`sim-serve: rosbridge clients need the token: connect to ${ready.rosbridge}/?token=${token} (arbor: ARBOR_ROSBRIDGE_TOKEN=${token}).`);
      process.stdout.write(`${JSON.stringify(ready)}\n`);
      log(`sim-serve: ${scenario.name} (${ready.mode}, ${server.period * 1000} ms period)${ready.rosbridge ? ` on ${ready.rosbridge}` : ''}${ready.ros2 ? ` and as a ROS 2 node in ${ready.ros2}` : ''}. Ctrl-C stops.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await server.close();
      // rclnodejs keeps native handles; end the process once everything is closed.
      process.exit(0);
    });
}
