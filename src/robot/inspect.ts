/**
 * `arbor robot check | show`: a robot.yaml against its composed model, before any study. What
 * the arm is (joints, limits, home, the tool point at home, the reach sampled from the limits,
 * sensors found or added, the gripper's width, the ROS names) and what is wrong with it, each
 * problem with its file, field and a hint.
 */
import type { RobotConfig, RosInterfaces } from '../scenario/robot.ts';
import { Rng } from '../scenario/rng.ts';
import { fieldLine, type Problem } from '../scenario/validate.ts';
import { loadRobotWorld } from '../sim/compose.ts';
import { Kinematics } from '../sim/kinematics.ts';
import { MjcfError } from '../sim/model-files.ts';
import type { ObjectKind, World } from '../sim/world.ts';

type Vec3 = [number, number, number];

/** One arm joint as robot.yaml and the model have it. */
export interface JointReport {
  /** Joint name. */
  name: string;
  /** Its actuator. */
  actuator: string;
  /** Position limits from robot.yaml (rad). */
  limits: [number, number];
  /** The model's range (rad), null when the model leaves it unlimited or lacks the joint. */
  model: [number, number] | null;
  /** Velocity limit (rad/s). */
  velocity: number;
  /** Effort limit (N·m). */
  effort: number;
  /** Home position (rad). */
  home: number;
}

/** A named site or sensor robot.yaml relies on. */
export interface SensorReport {
  /** Its name in the model. */
  name: string;
  /** What it is: `tcp site`, `force`, `torque`, `touch`. */
  kind: string;
  /** In the model as given, added by arbor from a placement, or missing. */
  status: 'found' | 'added' | 'missing';
}

/** Everything `arbor robot show` prints. */
export interface RobotReport {
  /** Robot name. */
  robot: string;
  /** robot.yaml path. */
  file: string;
  /** The composed robot's root body. */
  root: string;
  /** Arm joints, base to tip. */
  joints: JointReport[];
  /** The tool point at home (robot base frame, m) and its approach axis (its z axis), when the model has it. */
  tcp: { position: Vec3; approach: Vec3 } | null;
  /** The tool point over joint positions sampled uniformly within the limits: its bounding box and horizontal radius (m). */
  reach: { samples: number; min: Vec3; max: Vec3; radius: number } | null;
  /** Sites and sensors. */
  sensors: SensorReport[];
  /** Gripper opening from robot.yaml and from the model's finger ranges (m), when there is a gripper. */
  gripper: { width: [number, number]; model: [number, number] | null } | null;
  /** The ROS 2 names a network link uses. */
  ros: RosInterfaces;
  /** Sentences naming the sites and sensors arbor added. */
  added: string[];
  /** What is wrong, with file, line, field and hint. */
  problems: Problem[];
}

/** Samples of the reach: enough for a bounding box to a few millimetres on six joints. */
const REACH_SAMPLES = 4096;
/** The tool axis may be off the approach direction by this much before it is a problem (rad). */
const AXIS_TOLERANCE = (10 * Math.PI) / 180;
/** Interpenetration at home beyond this (m) is a collision, not contact. */
const COLLISION_DEPTH = 0.001;

/** Loads the robot on its own stage and reports on it. */
export async function inspectRobot(robot: RobotConfig): Promise<RobotReport> {
  const base = { robot: robot.name, file: robot.file, ros: robot.ros };
  let world: World;
  try {
    world = await loadRobotWorld(robot);
  } catch (error) {
    if (!(error instanceof MjcfError)) throw error;
    const problem = { file: error.file, line: error.line, path: '', message: error.reason, hint: 'fix the model, or the robot.yaml field it names' };
    return { ...base, root: '', joints: [], tcp: null, reach: null, sensors: [], gripper: null, added: [], problems: [problem] };
  }
  try {
    const problems = new Problems(robot.file);
    const joints = checkJoints(world, robot, problems);
    const sensors = checkSensors(world, robot, problems);
    // Poses need every arm joint, finger joint and the tool point in the model.
    const posable = sensors.every((s) => s.status !== 'missing' || !['tcp site', 'finger joint'].includes(s.kind)) && robot.joints.every((j) => world.names('joint').includes(j.name));
    let tcp: RobotReport['tcp'] = null;
    let reach: RobotReport['reach'] = null;
    if (posable) {
      poseAtHome(world, robot);
      tcp = toolAtHome(world, robot, problems);
      checkHomeCollisions(world, robot, problems);
      reach = sampleReach(world, robot);
    }
    const composition = world.composition;
    return { ...base, root: composition?.root ?? '', joints, tcp, reach, sensors, gripper: gripperWidth(world, robot, problems), added: composition?.added ?? [], problems: problems.list };
  } finally {
    world.dispose();
  }
}

/** Problems of one robot.yaml, each with the line of its field. */
class Problems {
  readonly list: Problem[] = [];
  constructor(private readonly file: string) {}

  add(path: (string | number)[], message: string, hint: string): void {
    this.list.push({ file: this.file, line: fieldLine(this.file, path), path: path.join('.'), message, hint });
  }
}

function checkJoints(world: World, robot: RobotConfig, problems: Problems): JointReport[] {
  const jointNames = world.names('joint');
  const actuatorNames = world.names('actuator');
  return robot.joints.map((joint, i) => {
    const report: JointReport = { name: joint.name, actuator: joint.actuator, limits: joint.position, model: null, velocity: joint.velocity, effort: joint.effort, home: robot.home[i] };
    if (!jointNames.includes(joint.name)) {
      problems.add(['joints', i, 'name'], `'${joint.name}' is not a joint of the composed model`, `its hinge joints: ${hinges(world).join(', ') || 'none'}`);
      return report;
    }
    const id = world.id('joint', joint.name);
    report.model = jointRange(world, id);
    const [lo, hi] = report.model ?? [-Infinity, Infinity];
    if (joint.position[0] < lo - 1e-9 || joint.position[1] > hi + 1e-9) {
      problems.add(['joints', i, 'position'], `[${joint.position.join(', ')}] reaches beyond the model's range [${lo}, ${hi}] of ${joint.name}`, 'keep the limits inside the joint range of the MJCF');
    }
    if (robot.home[i] < lo || robot.home[i] > hi) problems.add(['home', i], `${robot.home[i]} is outside ${joint.name}'s range [${lo}, ${hi}] in the model`, 'choose a home inside the joint ranges');
    if (!actuatorNames.includes(joint.actuator)) {
      problems.add(['joints', i, 'actuator'], `'${joint.actuator}' is not an actuator of the composed model`, `its actuators: ${actuatorNames.filter(Boolean).join(', ') || 'none'}`);
    } else {
      const servo = positionServo(world, world.id('actuator', joint.actuator), id);
      if (servo) problems.add(['joints', i, 'actuator'], `'${joint.actuator}' ${servo}`, 'arbor sends position targets: use <position kp="..."/> on the joint, or <general gaintype="fixed" biastype="affine" gainprm="kp" biasprm="0 -kp -kv"/>');
    }
    return report;
  });
}

/** Why an actuator is not a position servo on `joint`, or '' when it is one. */
function positionServo(world: World, actuator: number, joint: number): string {
  const { model, mj } = world;
  const nu = model.nu;
  const trntype = (model.actuator_trntype as Int32Array)[actuator];
  const trnid = (model.actuator_trnid as Int32Array)[2 * actuator];
  if (trntype !== mj.mjtTrn.mjTRN_JOINT.value || (joint >= 0 && trnid !== joint)) return `does not drive the joint it is listed with (it acts on ${world.names('joint')[trnid] || 'something else'})`;
  const gain = model.actuator_gainprm as Float64Array;
  const bias = model.actuator_biasprm as Float64Array;
  const g = gain.length / nu;
  const b = bias.length / nu;
  const kp = gain[g * actuator];
  const fixed = (model.actuator_gaintype as Int32Array)[actuator] === mj.mjtGain.mjGAIN_FIXED.value;
  const affine = (model.actuator_biastype as Int32Array)[actuator] === mj.mjtBias.mjBIAS_AFFINE.value;
  if (!fixed || !affine || !(kp > 0) || bias[b * actuator] !== 0 || Math.abs(bias[b * actuator + 1] + kp) > 1e-9 * kp) {
    return `is not a position servo (gain ${kp}, bias ${bias[b * actuator]} ${bias[b * actuator + 1]}: a motor or a velocity servo would take position targets as torques or speeds)`;
  }
  return '';
}

function checkSensors(world: World, robot: RobotConfig, problems: Problems): SensorReport[] {
  const added = world.composition?.addedNames ?? [];
  const out: SensorReport[] = [];
  const look = (kind: ObjectKind, name: string, label: string, field: (string | number)[], hint: string) => {
    const found = world.names(kind).includes(name);
    out.push({ name, kind: label, status: !found ? 'missing' : added.includes(name) ? 'added' : 'found' });
    if (!found) problems.add(field, `'${name}' is not a ${kind} of the composed model`, hint);
  };
  look('site', robot.tcp_site, 'tcp site', ['tcp_site'], 'add the site to the model, or place it: tcp: { body: HAND_BODY, pos: [0, 0, LENGTH] }');
  if (robot.wrench) {
    const hint = 'add the sensors to the model, or place them: wrench.site: { body: FLANGE_BODY }';
    look('sensor', robot.wrench.force_sensor, 'force', ['wrench', 'force_sensor'], hint);
    look('sensor', robot.wrench.torque_sensor, 'torque', ['wrench', 'torque_sensor'], hint);
  }
  robot.gripper?.touch_sensors.forEach((name, i) => look('sensor', name, 'touch', ['gripper', 'touch_sensors', i], 'add the sensor to the model, or place its pad: gripper.pads: [{ body: FINGER_BODY, pos: [...] }, ...]'));
  robot.gripper?.joints.forEach((name, i) => look('joint', name, 'finger joint', ['gripper', 'joints', i], 'name the gripper model\'s finger joints'));
  robot.gripper?.actuators.forEach((name, i) => {
    look('actuator', name, 'finger actuator', ['gripper', 'actuators', i], 'name the gripper model\'s finger actuators');
    const joint = robot.gripper!.joints[i];
    if (world.names('actuator').includes(name) && world.names('joint').includes(joint)) {
      const servo = positionServo(world, world.id('actuator', name), world.id('joint', joint));
      if (servo) problems.add(['gripper', 'actuators', i], `'${name}' ${servo}`, 'arbor sends finger position targets: use <position kp="..."/> on the finger joint');
    }
  });
  if (robot.tool) look('geom', robot.tool.geom, 'tool geom', ['tool', 'geom'], 'name the geom at the tool\'s end');
  if (robot.tool?.touch_sensor) look('sensor', robot.tool.touch_sensor, 'touch', ['tool', 'touch_sensor'], 'add a touch sensor around the tool\'s end');
  return out;
}

/** Puts the arm at home and the fingers wide open (a closed hand touches itself), then runs forward kinematics and collision. */
function poseAtHome(world: World, robot: RobotConfig): void {
  const { model, data } = world;
  world.resetData();
  const adr = model.jnt_qposadr as Int32Array;
  const qpos = data.qpos as Float64Array;
  robot.joints.forEach((j, i) => (qpos[adr[world.id('joint', j.name)]] = robot.home[i]));
  for (const name of robot.gripper?.joints ?? []) {
    const id = world.id('joint', name);
    qpos[adr[id]] = jointRange(world, id)?.[1] ?? 0;
  }
  world.forward();
}

/** The tool point and its z axis at home; checks the axis lies along the approach and points down. */
function toolAtHome(world: World, robot: RobotConfig, problems: Problems): RobotReport['tcp'] {
  const site = world.id('site', robot.tcp_site);
  const last = robot.joints.at(-1)!;
  const xpos = world.data.site_xpos as Float64Array;
  const xmat = world.data.site_xmat as Float64Array;
  const anchor = world.data.xanchor as Float64Array;
  const position: Vec3 = [xpos[3 * site], xpos[3 * site + 1], xpos[3 * site + 2]];
  const approach: Vec3 = [xmat[9 * site + 2], xmat[9 * site + 5], xmat[9 * site + 8]];
  // The approach runs from the last arm joint to the tool point: the tool's z axis must lie along it.
  const j = world.id('joint', last.name);
  const out = position.map((p, k) => p - anchor[3 * j + k]);
  const along = angle(out, approach);
  if (Math.hypot(...out) > 0.01 && along > AXIS_TOLERANCE) {
    problems.add(robot.tcp ? ['tcp', 'quat'] : ['tcp_site'], `'${robot.tcp_site}' points its z axis ${deg(along)}° away from the approach (from the last joint, ${last.name}, to the tool point)`, 'turn the tcp site so its z axis points out of the tool, between the fingers');
  }
  const down = angle(approach, [0, 0, -1]);
  if (down > AXIS_TOLERANCE) problems.add(['home'], `puts the tool axis ${deg(down)}° from straight down`, 'the built-in controllers approach from above: choose a home with the tool pointing down');
  return { position, approach };
}

/** Robot geoms that interpenetrate at home, as the model's own collision bits let them touch. */
function checkHomeCollisions(world: World, robot: RobotConfig, problems: Problems): void {
  const bodyOf = world.model.geom_bodyid as Int32Array;
  const geoms = world.names('geom');
  const bodies = world.names('body');
  const name = (g: number) => geoms[g] || `a geom of body ${bodies[bodyOf[g]] || bodyOf[g]}`;
  for (const c of world.contacts()) {
    // The stage's floor never collides, so every contact is the robot with itself.
    if (c.dist < -COLLISION_DEPTH) {
      problems.add(['home'], `puts ${name(c.geom1)} and ${name(c.geom2)} ${(1000 * -c.dist).toFixed(1)} mm into each other`, `choose a home where ${robot.name}'s links are apart, or exclude the pair in the MJCF (<contact><exclude .../>)`);
      return;
    }
  }
}

/** The tool point over joint positions drawn uniformly within the limits (seeded: the same every run). */
function sampleReach(world: World, robot: RobotConfig): NonNullable<RobotReport['reach']> {
  const kin = new Kinematics(world, robot.joints.map((j) => j.name), world.id('site', robot.tcp_site));
  try {
    const rng = new Rng(0);
    const min: Vec3 = [Infinity, Infinity, Infinity];
    const max: Vec3 = [-Infinity, -Infinity, -Infinity];
    let radius = 0;
    const q = new Float64Array(robot.joints.length);
    for (let n = 0; n < REACH_SAMPLES; n++) {
      robot.joints.forEach((j, i) => (q[i] = rng.uniform(j.position[0], j.position[1])));
      const { pos } = kin.pose(q);
      for (let k = 0; k < 3; k++) {
        min[k] = Math.min(min[k], pos[k]);
        max[k] = Math.max(max[k], pos[k]);
      }
      radius = Math.max(radius, Math.hypot(pos[0], pos[1]));
    }
    return { samples: REACH_SAMPLES, min, max, radius };
  } finally {
    kin.dispose();
  }
}

/** Total opening: robot.yaml's, and the model's from its finger joints' ranges (each finger opens by half). */
function gripperWidth(world: World, robot: RobotConfig, problems: Problems): RobotReport['gripper'] {
  const gripper = robot.gripper;
  if (!gripper) return null;
  const ranges = gripper.joints.filter((n) => world.names('joint').includes(n)).map((n) => jointRange(world, world.id('joint', n)));
  const model: [number, number] | null = ranges.length === gripper.joints.length && ranges.every(Boolean)
    ? [Math.max(...ranges.map((r) => r![0])) * 2, Math.min(...ranges.map((r) => r![1])) * 2]
    : null;
  if (model && (gripper.width[0] < model[0] - 1e-9 || gripper.width[1] > model[1] + 1e-9)) {
    problems.add(['gripper', 'width'], `[${gripper.width.join(', ')}] is beyond what the finger joints allow, [${model.map((w) => +w.toFixed(4)).join(', ')}]`, 'give the opening the fingers can reach (twice each finger joint\'s range)');
  }
  return { width: gripper.width, model };
}

/** A joint's range, or null when it is unlimited. */
function jointRange(world: World, id: number): [number, number] | null {
  const limited = (world.model.jnt_limited as Uint8Array)[id];
  const range = world.model.jnt_range as Float64Array;
  return limited ? [range[2 * id], range[2 * id + 1]] : null;
}

/** Names of the model's hinge and slide joints. */
function hinges(world: World): string[] {
  const type = world.model.jnt_type as Int32Array;
  const { mjJNT_HINGE, mjJNT_SLIDE } = world.mj.mjtJoint;
  return world.names('joint').filter((n, i) => n && (type[i] === mjJNT_HINGE.value || type[i] === mjJNT_SLIDE.value));
}

function angle(a: readonly number[], b: readonly number[]): number {
  const dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  return Math.acos(Math.max(-1, Math.min(1, dot / (Math.hypot(a[0], a[1], a[2]) * Math.hypot(b[0], b[1], b[2])))));
}

function deg(rad: number): string {
  return ((rad * 180) / Math.PI).toFixed(0);
}
