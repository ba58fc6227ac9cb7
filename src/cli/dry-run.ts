/**
 * `arbor run --dry-run`: the episodes a study would start with (the scenario's defaults on the
 * first generation's seeds), played in sim through the robot's safety envelope, command by
 * command. Nothing is sent to a robot and no study is created; the table says what the envelope
 * would do to each episode on hardware.
 */
import { defaultPolicy } from '../policy/file.ts';
import { EpisodeRunner } from '../evaluation/episode.ts';
import { envelopeBreach } from '../evaluation/link-evaluator.ts';
import { trainSeeds, type StudyConfig } from '../study/config.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import { TOPIC } from '../trace/topics.ts';
import { table } from './format.ts';

/** What the envelope did over one planned episode. */
export interface DryRunRow {
  /** Episode seed. */
  seed: number;
  /** Commands checked. */
  commands: number;
  /** Joint targets clamped at position, velocity and acceleration limits. */
  clamps: { position: number; velocity: number; acceleration: number };
  /** Commands rejected (the robot would hold). */
  rejected: number;
  /** Ticks with the tool point outside the workspace box. */
  outside: number;
  /** Fastest tool-point speed commanded (m/s). */
  peakToolSpeed: number;
  /** Why the episode may not go to hardware, or null. */
  breach: string | null;
}

/** Plays the planned episodes in sim and reports the envelope's verdict on each. */
export async function dryRun(scenario: LoadedScenario, config: StudyConfig): Promise<DryRunRow[]> {
  const runner = await EpisodeRunner.create(scenario);
  const policy = defaultPolicy(scenario);
  const rows: DryRunRow[] = [];
  try {
    for (const seed of trainSeeds(config, 0)) {
      const run = await runner.run(policy, seed);
      const safety = run.trace.topic(TOPIC.safety);
      const sum = (field: string) => run.trace.column(TOPIC.safety, field).reduce((a, b) => a + b, 0);
      rows.push({
        seed,
        commands: Math.max(0, safety.stamps.length - 1),
        clamps: { position: sum('position_clamps'), velocity: sum('velocity_clamps'), acceleration: sum('acceleration_clamps') },
        rejected: sum('rejected'),
        outside: sum('workspace_violation'),
        peakToolSpeed: peakToolSpeed(runner, run.trace.topic(TOPIC.jointStates)),
        breach: envelopeBreach(run) ?? null,
      });
    }
  } finally {
    await runner.close();
  }
  return rows;
}

/** The dry run as a table and a closing line. */
export function formatDryRun(rows: DryRunRow[], backend: string, reducedSpeed: number): string {
  const body = table(
    ['seed', 'commands', 'clamped (pos/vel/acc)', 'rejected', 'outside box', 'peak tool speed', 'verdict'],
    rows.map((r) => [
      r.seed, r.commands, `${r.clamps.position}/${r.clamps.velocity}/${r.clamps.acceleration}`, r.rejected, r.outside,
      `${(r.peakToolSpeed * 1000).toFixed(0)} mm/s${r.peakToolSpeed > reducedSpeed ? ` (capped to ${reducedSpeed * 1000} on first runs)` : ''}`,
      r.breach ?? 'inside the envelope',
    ]),
  );
  const ok = rows.filter((r) => r.breach === null).length;
  return `${body}\n\ndry run: nothing was sent to ${backend}; ${ok} of ${rows.length} planned episodes stay inside the envelope.`;
}

/** The fastest tool-point speed along a recorded joint trajectory (m/s). */
function peakToolSpeed(runner: EpisodeRunner, joints: { stamps: Float64Array; data: Float32Array; fields: string[] }): number {
  const n = runner.link.robot.joints.length;
  const width = joints.fields.length;
  let peak = 0;
  let previous: ArrayLike<number> | undefined;
  for (let r = 0; r < joints.stamps.length; r++) {
    const q = Float64Array.from(joints.data.subarray(r * width, r * width + n));
    const p = runner.link.kinematics.pose(q).pos.slice();
    if (previous && r > 0) {
      const dt = joints.stamps[r] - joints.stamps[r - 1];
      if (dt > 0) peak = Math.max(peak, Math.hypot(p[0] - previous[0], p[1] - previous[1], p[2] - previous[2]) / dt);
    }
    previous = p;
  }
  return peak;
}
