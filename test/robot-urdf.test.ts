/**
 * robots/arm6/robot.urdf mirrors robots/arm6/model.xml (the MJCF is the source of truth). These
 * tests keep the twin honest: joint limits match robot.yaml, and the URDF's forward kinematics
 * reproduces MuJoCo's body and site poses at zero and non-zero joint angles.
 */
import { readFileSync } from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { World } from '../src/sim/world.ts';

const URDF_PATH = 'robots/arm6/robot.urdf';
const YAML_PATH = 'robots/arm6/robot.yaml';
const WORLD_PATH = 'sim/pick_place.xml';
const TOL = 1e-4;

// ---------------------------------------------------------------- URDF parsing

type Vec3 = [number, number, number];

interface UrdfJoint {
  name: string;
  type: string;
  parent: string;
  child: string;
  xyz: Vec3;
  rpy: Vec3;
  axis: Vec3;
  limit?: { lower: number; upper: number; velocity: number; effort: number };
}

interface Urdf {
  name: string;
  links: string[];
  joints: UrdfJoint[];
}

function vec3(text: string | undefined, fallback: Vec3): Vec3 {
  if (text === undefined) return fallback;
  const v = text.trim().split(/\s+/).map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) throw new Error(`bad vector '${text}'`);
  return [v[0], v[1], v[2]];
}

function loadUrdf(path: string): Urdf {
  const xml = readFileSync(path, 'utf8');
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseAttributeValue: false,
    isArray: (name) => ['link', 'joint', 'visual', 'collision', 'material'].includes(name),
  });
  const doc = parser.parse(xml);
  const robot = doc.robot;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const links: string[] = (robot.link ?? []).map((l: any) => String(l.name));
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const joints: UrdfJoint[] = (robot.joint ?? []).map((j: any) => {
    const joint: UrdfJoint = {
      name: String(j.name),
      type: String(j.type),
      parent: String(j.parent.link),
      child: String(j.child.link),
      xyz: vec3(j.origin?.xyz, [0, 0, 0]),
      rpy: vec3(j.origin?.rpy, [0, 0, 0]),
      axis: vec3(j.axis?.xyz, [1, 0, 0]),
    };
    if (j.limit) {
      joint.limit = {
        lower: Number(j.limit.lower ?? 0),
        upper: Number(j.limit.upper ?? 0),
        velocity: Number(j.limit.velocity),
        effort: Number(j.limit.effort),
      };
    }
    return joint;
  });
  return { name: String(robot.name), links, joints };
}

// ---------------------------------------------------------------- 4x4 transforms (row-major)

type Mat4 = number[];

function identity(): Mat4 {
  return [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
}

function mul(a: Mat4, b: Mat4): Mat4 {
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[4 * r + k] * b[4 * k + c];
      out[4 * r + c] = s;
    }
  return out;
}

function translation([x, y, z]: Vec3): Mat4 {
  return [1, 0, 0, x, 0, 1, 0, y, 0, 0, 1, z, 0, 0, 0, 1];
}

/** Rotation by `angle` about the unit-normalized `axis` (Rodrigues). */
function axisAngle(axis: Vec3, angle: number): Mat4 {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((v) => v / n);
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  const t = 1 - c;
  return [
    t * x * x + c, t * x * y - s * z, t * x * z + s * y, 0,
    t * x * y + s * z, t * y * y + c, t * y * z - s * x, 0,
    t * x * z - s * y, t * y * z + s * x, t * z * z + c, 0,
    0, 0, 0, 1,
  ];
}

/** URDF rpy: fixed-axis roll (x), pitch (y), yaw (z), i.e. R = Rz(yaw) Ry(pitch) Rx(roll). */
function rpyMatrix([r, p, y]: Vec3): Mat4 {
  return mul(axisAngle([0, 0, 1], y), mul(axisAngle([0, 1, 0], p), axisAngle([1, 0, 0], r)));
}

/** World pose of every URDF link with the given joint positions (missing joints at 0). */
function forwardKinematics(urdf: Urdf, q: Record<string, number>): Map<string, Mat4> {
  const children = new Set(urdf.joints.map((j) => j.child));
  const roots = urdf.links.filter((l) => !children.has(l));
  expect(roots).toHaveLength(1);
  const poses = new Map<string, Mat4>([[roots[0], identity()]]);
  const pending = [roots[0]];
  while (pending.length > 0) {
    const parent = pending.pop()!;
    for (const j of urdf.joints.filter((jj) => jj.parent === parent)) {
      const value = q[j.name] ?? 0;
      let motion = identity();
      if (j.type === 'revolute' || j.type === 'continuous') motion = axisAngle(j.axis, value);
      else if (j.type === 'prismatic') {
        const n = Math.hypot(...j.axis);
        motion = translation([(j.axis[0] / n) * value, (j.axis[1] / n) * value, (j.axis[2] / n) * value]);
      } else if (j.type !== 'fixed') throw new Error(`unsupported joint type ${j.type}`);
      const pose = mul(poses.get(parent)!, mul(translation(j.xyz), mul(rpyMatrix(j.rpy), motion)));
      poses.set(j.child, pose);
      pending.push(j.child);
    }
  }
  return poses;
}

const position = (m: Mat4): Vec3 => [m[3], m[7], m[11]];
const rotation = (m: Mat4): number[] => [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]];

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst, `${what}: ${Array.from(actual)} vs ${Array.from(expected)}`).toBeLessThanOrEqual(tol);
}

// ---------------------------------------------------------------- tests

const urdf = loadUrdf(URDF_PATH);
const robotYaml = parse(readFileSync(YAML_PATH, 'utf8')) as {
  joints: { name: string; position: [number, number]; velocity: number; effort: number }[];
  home: number[];
  tcp_site: string;
  gripper: { joints: string[]; effort: number };
};
const jointByName = new Map(urdf.joints.map((j) => [j.name, j]));

/** MJCF bodies; each has a URDF link of the same name. */
const BODIES = [
  'base', 'shoulder', 'upper_arm', 'forearm', 'wrist1', 'wrist2', 'wrist3', 'gripper', 'left_finger', 'right_finger',
];

describe('robots/arm6/robot.urdf', () => {
  it('is a single tree with the MJCF link names and tcp / ft_sensor frames', () => {
    expect(urdf.name).toBe('arm6');
    for (const link of [...BODIES, 'tcp', 'ft_sensor']) expect(urdf.links, link).toContain(link);
    expect(new Set(urdf.links).size).toBe(urdf.links.length);
    for (const j of urdf.joints) {
      expect(urdf.links, `${j.name} parent`).toContain(j.parent);
      expect(urdf.links, `${j.name} child`).toContain(j.child);
    }
    expect(urdf.joints.length).toBe(urdf.links.length - 1);
  });

  it('has every robot.yaml joint with the same limits', () => {
    expect(robotYaml.joints).toHaveLength(6);
    for (const yj of robotYaml.joints) {
      const j = jointByName.get(yj.name);
      expect(j, `URDF joint ${yj.name}`).toBeDefined();
      expect(j!.type).toBe('revolute');
      expect(j!.limit, `${yj.name} <limit>`).toBeDefined();
      expect(Math.abs(j!.limit!.lower - yj.position[0])).toBeLessThanOrEqual(1e-3);
      expect(Math.abs(j!.limit!.upper - yj.position[1])).toBeLessThanOrEqual(1e-3);
      expect(j!.limit!.velocity).toBeCloseTo(yj.velocity, 9);
      expect(j!.limit!.effort).toBeCloseTo(yj.effort, 9);
    }
  });

  it('has prismatic finger joints with the gripper limits', () => {
    for (const name of robotYaml.gripper.joints) {
      const j = jointByName.get(name);
      expect(j, `URDF joint ${name}`).toBeDefined();
      expect(j!.type).toBe('prismatic');
      expect(j!.limit!.lower).toBeCloseTo(0, 9);
      expect(j!.limit!.upper).toBeCloseTo(0.045, 9);
      expect(j!.limit!.velocity).toBeCloseTo(0.2, 9);
      expect(j!.limit!.effort).toBeCloseTo(robotYaml.gripper.effort, 9);
    }
  });

  it('reproduces MuJoCo forward kinematics at zero and non-zero poses', async () => {
    const w = await World.load(WORLD_PATH);
    try {
      const armJoints = robotYaml.joints.map((j) => j.name);
      const qposadr = w.model.jnt_qposadr as Int32Array;
      // The arm's six hinges are the first six qpos entries.
      armJoints.forEach((name, i) => expect(qposadr[w.id('joint', name)], name).toBe(i));

      const poses: Record<string, number>[] = [
        {},
        Object.fromEntries(armJoints.map((name, i) => [name, robotYaml.home[i]])),
        {
          shoulder_pan: 0.7, shoulder_lift: -1.1, elbow: 1.9, wrist_1: -0.6, wrist_2: 1.3, wrist_3: -2.2,
          left_finger: 0.02, right_finger: 0.035,
        },
      ];

      for (const q of poses) {
        const qpos = w.data.qpos as Float64Array;
        for (const name of [...armJoints, ...robotYaml.gripper.joints]) qpos[qposadr[w.id('joint', name)]] = q[name] ?? 0;
        w.forward();
        const fk = forwardKinematics(urdf, q);
        const label = JSON.stringify(q);

        // Tool-centre point: URDF tcp link vs MuJoCo tcp site.
        const tcpId = w.id('site', robotYaml.tcp_site);
        const siteXpos = w.data.site_xpos as Float64Array;
        const siteXmat = w.data.site_xmat as Float64Array;
        const tcp = siteXpos.slice(3 * tcpId, 3 * tcpId + 3);
        expectClose(position(fk.get('tcp')!), tcp, TOL, `tcp position at ${label}`);
        expectClose(rotation(fk.get('tcp')!), siteXmat.slice(9 * tcpId, 9 * tcpId + 9), TOL, `tcp orientation at ${label}`);

        const ftId = w.id('site', 'ft_sensor');
        expectClose(position(fk.get('ft_sensor')!), siteXpos.slice(3 * ftId, 3 * ftId + 3), TOL, `ft_sensor at ${label}`);

        // Every body frame.
        const xpos = w.data.xpos as Float64Array;
        const xmat = w.data.xmat as Float64Array;
        for (const body of BODIES) {
          const b = w.id('body', body);
          expectClose(position(fk.get(body)!), xpos.slice(3 * b, 3 * b + 3), TOL, `${body} position at ${label}`);
          expectClose(rotation(fk.get(body)!), xmat.slice(9 * b, 9 * b + 9), TOL, `${body} orientation at ${label}`);
        }
      }
    } finally {
      w.dispose();
    }
  });
});
