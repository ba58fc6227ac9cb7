/**
 * The `arbor` command line. Results go to stdout (JSON alone with --json); progress and logs go
 * to stderr, so scripts and agents can pipe the output.
 */
import { Command } from 'commander';
import { registerGauntlet } from './gauntlet.ts';
import { registerMcp } from './mcp.ts';
import { describeError } from './options.ts';
import { registerRobotCommands } from './robot-commands.ts';
import { registerSimCommands } from './sim-commands.ts';
import { registerSimServe } from './sim-serve.ts';
import { registerStudyCommands } from './study-commands.ts';
import { registerTransferCommands } from './transfer-commands.ts';
import { registerView } from './view.ts';
import { registerWorkerCommands } from './worker-commands.ts';

const program = new Command();
program
  .name('arbor')
  .description('Autoresearch for robots: propose policies, run them in MuJoCo or on a ROS 2 robot, keep what improves.')
  .showHelpAfterError();

registerSimCommands(program);
registerRobotCommands(program);
registerStudyCommands(program);
registerSimServe(program);
registerGauntlet(program);
registerTransferCommands(program);
registerView(program);
registerWorkerCommands(program);
registerMcp(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`arbor: ${describeError(error)}\n`);
  process.exitCode = 1;
}
