// The tuned pick-and-place policy as a code policy: the built-in skill's phases in order, with the
// values of pick-place.tuned.json. It acts exactly as that params policy does, so it is the place
// to start a controller of your own. Run it: arbor eval scenarios/pick-place.yaml --seeds 0..15 --policy scenarios/pick-place.tuned.ts
const TUNED = {
  approach_height: 0.1, approach_speed: 0.3, grasp_depth: 0.02, grasp_offset_x: -0.025, grasp_offset_y: 0.018,
  close_speed: 0.05, grasp_wait: 0.05, lift_height: 0.2, transport_speed: 0.8, place_height: 0.06,
  release_wait: 0.1, ik_gain: 0.6, ik_damping: 0.1,
};

interface Step {
  action: { position: number[]; gripperWidth: number };
  done: boolean;
}
declare const arbor: { skill: { phases: string[]; configure(params: Record<string, number>): void; step(phase: string): Step } };

let phase = 0;

export function reset(): void {
  phase = 0;
  arbor.skill.configure(TUNED);
}

export function act() {
  const phases = arbor.skill.phases;
  const { action, done } = arbor.skill.step(phases[phase]);
  if (done && phase < phases.length - 1) phase++;
  return { ...action, done: phases[phase] === 'done' };
}
