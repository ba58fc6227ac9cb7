/** `arbor robot check` and `arbor robot show`: a robot.yaml and its composed model, before any study. */
import type { Command } from 'commander';
import { inspectRobot, type RobotReport } from '../robot/inspect.ts';
import { loadRobot } from '../scenario/robot.ts';
import { formatProblem } from '../scenario/validate.ts';
import { fixed, table } from './format.ts';

export function registerRobotCommands(program: Command): void {
  const robot = program.command('robot').description('check and show a robot.yaml with its composed model (arm, gripper, added sensors)');
  robot
    .command('check')
    .description('print every problem of a robot.yaml and its model, with file, field and hint; exit 1 when there is one')
    .argument('<robot>', 'robot.yaml')
    .action(async (file: string) => {
      const report = await inspectRobot(loadRobot(file));
      for (const line of report.added) console.log(`${file}: added ${line}`);
      if (report.problems.length) {
        for (const p of report.problems) console.error(formatProblem(p));
        process.exitCode = 1;
        return;
      }
      console.log(`${file}: ok (${report.robot}: ${report.joints.length} joints, root body ${report.root})`);
    });
  robot
    .command('show')
    .description('print the composed robot: joints, limits and home, tool point at home, reach, sensors, gripper width, ROS names')
    .argument('<robot>', 'robot.yaml')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const report = await inspectRobot(loadRobot(file));
      console.log(opts.json ? JSON.stringify(report, null, 2) : describe(report));
      if (report.problems.length) process.exitCode = 1;
    });
}

/** The report as text a person reads. */
function describe(r: RobotReport): string {
  const v = (xs: readonly number[], digits = 3) => `(${xs.map((x) => fixed(x, digits)).join(', ')})`;
  const out = [`robot ${r.robot} (${r.file}), root body ${r.root || '-'}`, ''];
  out.push(table(['joint', 'actuator', 'limits (rad)', 'model range', 'vel (rad/s)', 'effort (N·m)', 'home'], r.joints.map((j) => [
    j.name, j.actuator, v(j.limits), j.model ? v(j.model) : '-', fixed(j.velocity, 2), fixed(j.effort, 1), fixed(j.home, 4),
  ])));
  out.push('');
  out.push(r.tcp ? `tool point at home: ${v(r.tcp.position)} m, approach axis ${v(r.tcp.approach)}` : 'tool point at home: -');
  out.push(r.reach ? `reach (${r.reach.samples} samples within the limits): x ${fixed(r.reach.min[0])}..${fixed(r.reach.max[0])}, y ${fixed(r.reach.min[1])}..${fixed(r.reach.max[1])}, z ${fixed(r.reach.min[2])}..${fixed(r.reach.max[2])} m, radius ${fixed(r.reach.radius)} m` : 'reach: -');
  if (r.gripper) out.push(`gripper width: ${v(r.gripper.width)} m (model's fingers: ${r.gripper.model ? v(r.gripper.model) : '-'})`);
  out.push('', table(['name', 'kind', 'status'], r.sensors.map((s) => [s.name, s.kind, s.status])));
  for (const line of r.added) out.push(`  added ${line}`);
  out.push('', table(['ros', 'name'], Object.entries(r.ros).map(([k, value]) => [k, Array.isArray(value) ? value.join(', ') : String(value)])));
  out.push('', r.problems.length ? `problems:\n${r.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}` : 'problems: none');
  return out.join('\n');
}
