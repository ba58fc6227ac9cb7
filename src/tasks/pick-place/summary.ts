/**
 * The evidence of one pick-and-place episode in a few lines, for an LLM researcher reading why
 * episodes fail: which controller phase failed (from the phase marks the episode runner keeps in
 * the trace meta), where the tool was against the cube when it closed, gripper and contact events,
 * and the cube's trajectory. Read from the topics and the meta only, like the scorer.
 */
import { phaseMarksOf } from '../task.ts';
import type { Trace } from '../../trace/trace.ts';
import { TOPIC, objectPoseTopic } from '../../trace/topics.ts';
import type { PickPlaceSpec } from './schema.ts';

/** Gripper opening (m) under which closed fingers hold nothing (as the scorer's). */
const EMPTY_WIDTH = 0.005;

export function summarizePickPlace(trace: Trace, spec: PickPlaceSpec, duration: number): string[] {
  const lines: string[] = [];
  const poseTopic = objectPoseTopic(spec.object);
  const stamps = trace.topic(poseTopic).stamps;
  const x = trace.column(poseTopic, 'position.x');
  const y = trace.column(poseTopic, 'position.y');
  const z = trace.column(poseTopic, 'position.z');
  const gripperStamps = trace.topic(TOPIC.gripper).stamps;
  const width = trace.column(TOPIC.gripper, 'position');
  const command = trace.column(TOPIC.gripper, 'command');
  const n = stamps.length;
  if (n < 2) return [`The trace has only ${n} object poses; nothing to summarize.`];
  const at = (times: Float64Array, t: number) => Math.max(0, Math.min(times.length - 1, lowerBound(times, t)));
  // Rounded away from '-0.0': a closed gripper reads a hair below zero.
  const cm = (m: number) => `${(Math.abs(m) < 5e-4 ? 0 : m * 100).toFixed(1)} cm`;
  const s = (t: number) => `${t.toFixed(2)} s`;

  // Phases, and where the tool was against the cube when the grasp began.
  const list = phaseMarksOf(trace);
  if (list.length) {
    const spans = list.map((m, i) => {
      const end = i + 1 < list.length ? list[i + 1].t : Math.min(duration, stamps[n - 1]);
      return `${m.phase} ${s(m.t)}–${s(end)}`;
    });
    lines.push(`phases: ${spans.join(', ')}; ended in '${list.at(-1)!.phase}'.`);
    const grasp = list.find((m) => m.phase === 'grasp');
    if (grasp) {
      const i = at(stamps, grasp.t);
      const dx = grasp.tool[0] - x[i];
      const dy = grasp.tool[1] - y[i];
      // The cube starts resting on the table (z = 0), so its start height is its half height.
      const cubeTop = z[i] + z[0];
      lines.push(
        `grasp began at ${s(grasp.t)} with the tool point ${cm(Math.hypot(dx, dy))} from the cube centre ` +
          `(tool − cube: x ${signed(dx)}, y ${signed(dy)}; tool height ${cm(grasp.tool[2])}, cube top ${cm(cubeTop)}).`,
      );
    }
  }

  // Gripper: when it closed, on what, and when it opened again.
  const open = Math.max(...command);
  const closedAt = command.findIndex((c) => c < open - 1e-6);
  if (closedAt < 0) {
    lines.push('gripper: never closed.');
  } else {
    let settled = closedAt;
    while (settled + 1 < command.length && command[settled + 1] < open - 1e-6 && gripperStamps[settled + 1] - gripperStamps[closedAt] < 1.0) settled++;
    const held = width[settled];
    let reopened = -1;
    for (let i = closedAt + 1; i < command.length; i++) if (command[i] >= open - 1e-6) { reopened = i; break; }
    lines.push(
      `gripper: started closing at ${s(gripperStamps[closedAt])}; ${held < EMPTY_WIDTH ? `closed on nothing (opening ${cm(held)})` : `holding something ${cm(held)} wide`}` +
        `${reopened >= 0 ? `; opened again at ${s(gripperStamps[reopened])}` : '; never opened again'}.`,
    );
  }

  // The cube: start, highest lift, fall, end against the zone.
  let top = 0;
  for (let i = 1; i < n; i++) if (z[i] > z[top]) top = i;
  const lift = z[top] - z[0];
  let fell = -1;
  if (lift > 0.02) for (let i = top; i < n; i++) if (z[i] - z[0] < 0.008) { fell = i; break; }
  const [cx, cy] = spec.zone.center;
  const last = n - 1;
  const fromZone = Math.hypot(x[last] - cx, y[last] - cy);
  const inZone = Math.abs(x[last] - cx) <= spec.zone.half_size[0] && Math.abs(y[last] - cy) <= spec.zone.half_size[1];
  lines.push(
    `cube: from (${x[0].toFixed(3)}, ${y[0].toFixed(3)}) ${lift > 0.005 ? `lifted ${cm(lift)} by ${s(stamps[top])}` : 'never lifted'}` +
      `${fell >= 0 ? `, back on the table at ${s(stamps[fell])} (${phaseAt(list, stamps[fell])})` : ''}` +
      `; ended at (${x[last].toFixed(3)}, ${y[last].toFixed(3)}), ${cm(fromZone)} from the zone centre, ${inZone ? 'inside' : 'outside'} the zone.`,
  );

  // Contacts: the hardest hit on the table, and whether the fingers ever touched the cube.
  const tableForce = trace.column(TOPIC.contacts, 'robot_static_force');
  const objectForce = trace.column(TOPIC.contacts, 'robot_object_force');
  const contactStamps = trace.topic(TOPIC.contacts).stamps;
  let peak = 0;
  for (let i = 1; i < tableForce.length; i++) if (tableForce[i] > tableForce[peak]) peak = i;
  const touched = objectForce.findIndex((f) => f > 0.5);
  lines.push(
    `contacts: robot–cube ${touched >= 0 ? `first at ${s(contactStamps[touched])}, peak ${Math.max(...objectForce).toFixed(1)} N` : 'never'}; ` +
      `robot–table ${tableForce[peak] > 0 ? `peak ${tableForce[peak].toFixed(1)} N at ${s(contactStamps[peak])}` : 'never'}.`,
  );
  return lines;
}

/** The phase running at time `t`, from the marks. */
function phaseAt(marks: readonly { t: number; phase: string }[], t: number): string {
  let phase = 'unknown phase';
  for (const m of marks) if (m.t <= t) phase = `during '${m.phase}'`;
  return phase;
}

function signed(m: number): string {
  return `${m >= 0 ? '+' : '−'}${Math.abs(m * 100).toFixed(1)} cm`;
}

/** First index whose value is >= t (values ascending). */
function lowerBound(values: Float64Array, t: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
