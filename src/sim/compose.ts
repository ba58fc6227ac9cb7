/**
 * Composition at load: a world that holds only a mount (a body or site, `mount` by default) gets
 * the scenario's robot attached there; the robot's separate gripper model is attached at its
 * flange; the tcp site, the wrist force/torque sensors and the finger-pad touch sensors that
 * robot.yaml places on a body are added when the model lacks them. A world that `<include>`s its
 * robot has no mount and loads exactly as written.
 *
 * mujoco-js 0.0.7 can edit an MjSpec but not compile one (it binds no mj_compile; a model comes
 * only from MjModel.loadFromXML), so the composition is written with MuJoCo's own `<model>` asset
 * and `<attach>` element (MuJoCo >= 3.2) into the parsed XML trees, and MuJoCo attaches the
 * models itself. The host files are never written: the composed ones live only in MuJoCo's
 * virtual file system, next to the files they come from so relative paths still resolve.
 */
import { basename, dirname, join } from 'node:path';
import type { Placement, RobotConfig } from '../scenario/robot.ts';
import { attrsOf, buildMjcf, childrenOf, element, findAll, mujocoRoot, parseMjcf, section, tagOf, vec, type Found, type XmlNode } from './mjcf-tree.ts';
import { collectModelFiles, MjcfError, type ModelFile } from './model-files.ts';
import { World, type Composition } from './world.ts';

/** What a scenario's world is loaded from. */
export interface WorldSource {
  /** Absolute path of the MJCF world. */
  worldPath: string;
  /** The robot attached at the mount. */
  robotConfig: RobotConfig;
  /** The mount's name, when the scenario names one. */
  mount?: string;
}

/** The default mount name: a world with a body or site of this name gets the robot attached. */
export const DEFAULT_MOUNT = 'mount';

/** Orientation attributes a site may carry, copied to the frame the robot is attached in. */
const FRAME_ATTRS = ['pos', 'quat', 'axisangle', 'euler', 'xyaxes', 'zaxis'];

/** A site arbor adds to a body, with the sensors that read it. */
interface Addition {
  /** The site's name. */
  site: string;
  /** Where it goes. */
  at: Placement;
  /** The robot.yaml field that placed it (for errors). */
  field: string;
  /** Site attributes beyond name and placement (a pad's box). */
  attrs: Record<string, string>;
  /** Sensors reading the site: [tag, name]. */
  sensors: [string, string][];
}

/** Loads a scenario's world: composed when it holds a mount, as written when it includes its robot. */
export async function loadScenarioWorld(source: WorldSource): Promise<World> {
  const robot = source.robotConfig;
  const { tree: world, files: worldFiles } = readModel(source.worldPath);
  const mountName = source.mount ?? DEFAULT_MOUNT;
  const mount = findNamed(world, ['body', 'site'], mountName);
  if (!mount) {
    if (source.mount) throw new MjcfError(source.worldPath, `has no body or site named '${source.mount}' (the scenario's mount); add one where the robot stands, or leave mount out for a world that <include>s its robot`);
    if (robot.gripperPath) throw new MjcfError(source.worldPath, `holds no mount, but ${robot.file} names a separate gripper (gripper.mjcf), which arbor can only attach to a robot it attaches itself; give the world a <body name="${DEFAULT_MOUNT}"/> instead of including the robot`);
    return World.load(source.worldPath);
  }
  const composed = await composeRobot(robot);
  const virtualWorld = composedPath(source.worldPath);
  const top = attachAt(mount, composed.root, composed.path);
  addContactSensors(world, top);
  const files = [{ path: virtualWorld, data: text(world), xml: true }, ...worldFiles, ...composed.files];
  return World.compile(files, { root: composed.root, mount: mountName, added: composed.added, addedNames: composed.addedNames });
}

/** Loads a robot on its own (for `arbor robot`, `arbor view --model`): attached at the origin of an empty stage. */
export async function loadRobotWorld(robot: RobotConfig): Promise<World> {
  const composed = await composeRobot(robot);
  return World.compile(stageFiles(robot, composed), { root: composed.root, mount: '', added: composed.added, addedNames: composed.addedNames });
}

/** The robot's composed model: arm, gripper and additions. */
interface ComposedRobot {
  /** Virtual path of the composed arm model. */
  path: string;
  /** Its root body. */
  root: string;
  /** Every file it needs, composed ones included. */
  files: ModelFile[];
  /** Sentences naming what was added. */
  added: string[];
  /** Names of the sites and sensors added. */
  addedNames: string[];
}

/** Composes the arm with its gripper and whatever robot.yaml places that the model lacks. */
async function composeRobot(robot: RobotConfig): Promise<ComposedRobot> {
  const bare = buildRobot(robot, []);
  const additions = placements(robot);
  if (additions.length === 0) return bare;
  // Which named elements the model already has can only be told reliably by MuJoCo (includes,
  // attached names, defaults): compile the bare robot once and ask.
  const probe = await World.compile(stageFiles(robot, bare));
  let missing: Addition[];
  try {
    const has = (kind: 'site' | 'sensor', name: string) => probe.names(kind).includes(name);
    missing = additions.filter((a) => !has('site', a.site) && a.sensors.every(([, name]) => !has('sensor', name)));
  } finally {
    probe.dispose();
  }
  return buildRobot(robot, missing);
}

/** What robot.yaml places on a body: the tcp site, the wrench sensors' site, the finger pads. */
function placements(robot: RobotConfig): Addition[] {
  const out: Addition[] = [];
  if (robot.tcp) out.push({ site: robot.tcp_site, at: robot.tcp, field: 'tcp', attrs: { size: '0.006' }, sensors: [] });
  if (robot.wrench?.site) {
    const { force_sensor, torque_sensor, site } = robot.wrench;
    out.push({ site: `${force_sensor}_site`, at: site, field: 'wrench.site', attrs: { size: '0.01' }, sensors: [['force', force_sensor], ['torque', torque_sensor]] });
  }
  robot.gripper?.pads?.forEach((pad, i) => {
    const touch = robot.gripper!.touch_sensors[i];
    out.push({ site: `${touch}_pad`, at: pad, field: `gripper.pads[${i}]`, attrs: { type: 'box', size: vec(pad.size) }, sensors: [['touch', touch]] });
  });
  return out;
}

/** Builds the composed arm tree (gripper attached, `additions` placed) as virtual files. */
function buildRobot(robot: RobotConfig, additions: Addition[]): ComposedRobot {
  const { tree: arm, files } = readModel(robot.mjcfPath);
  const root = rootBody(arm, robot.mjcfPath, `${robot.file} mjcf`);
  const trees: { tree: XmlNode[]; path: string }[] = [{ tree: arm, path: robot.mjcfPath }];
  if (robot.gripperPath && robot.gripper?.attach) {
    const { tree: gripper, files: gripperFiles } = readModel(robot.gripperPath);
    const gripperRoot = rootBody(gripper, robot.gripperPath, `${robot.file} gripper.mjcf`);
    const flange = findNamed(arm, ['body'], robot.gripper.attach.body);
    if (!flange) throw new MjcfError(robot.file, `gripper.attach.body '${robot.gripper.attach.body}' is not a body of ${robot.mjcfPath}; name the arm's flange body (the last link)`);
    trees.push({ tree: gripper, path: robot.gripperPath });
    files.push(...gripperFiles);
    const { pos, quat } = robot.gripper.attach;
    childrenOf(flange.node).push(element('frame', { pos: vec(pos), quat: vec(quat) }, [element('attach', { model: 'arbor_gripper', body: gripperRoot, prefix: '' })]));
    addModelAsset(arm, 'arbor_gripper', composedPath(robot.gripperPath));
  }
  const added: string[] = [];
  const addedNames: string[] = [];
  for (const a of additions) {
    addedNames.push(a.site, ...a.sensors.map(([, name]) => name));
    const body = trees.map((t) => findNamed(t.tree, ['body'], a.at.body)).find(Boolean);
    if (!body) throw new MjcfError(robot.file, `${a.field}.body '${a.at.body}' is not a body of the arm or gripper model; name the body to put site '${a.site}' on`);
    childrenOf(body.node).push(element('site', { name: a.site, pos: vec(a.at.pos), quat: vec(a.at.quat), ...a.attrs }));
    const sensors = section(mujocoRoot(arm)!, 'sensor');
    for (const [tag, name] of a.sensors) childrenOf(sensors).push(element(tag, { name, site: a.site }));
    added.push(`site ${a.site} on body ${a.at.body} at (${vec(a.at.pos)})${a.sensors.length ? ` with ${a.sensors.map(([tag, name]) => `${tag} sensor ${name}`).join(' and ')}` : ''} (robot.yaml ${a.field})`);
  }
  const composed = trees.map((t) => ({ path: composedPath(t.path), data: text(t.tree), xml: true }));
  return { path: composed[0].path, root, files: [...composed, ...files], added, addedNames };
}

/** A stage for a robot alone: a floor, a light, the robot's root at the origin. */
function stageFiles(robot: RobotConfig, composed: ComposedRobot): ModelFile[] {
  const stage = [
    element('mujoco', { model: `${robot.name}_stage` }, [
      element('worldbody', {}, [
        element('light', { name: 'stage_light', pos: '0 0 3', dir: '0 0 -1', directional: 'true' }),
        element('geom', { name: 'stage_floor', type: 'plane', size: '2 2 0.1', rgba: '0.3 0.32 0.35 1', contype: '0', conaffinity: '0' }),
        element('attach', { model: 'arbor_robot', body: composed.root, prefix: '' }),
      ]),
    ]),
  ];
  addModelAsset(stage, 'arbor_robot', composed.path);
  return [{ path: join(dirname(robot.file), '.arbor-stage', `${robot.name}.xml`), data: text(stage), xml: true }, ...composed.files];
}

/** Attaches the robot at the mount; returns the top-level world body the robot hangs in ('' when it is the robot's own root). */
function attachAt(mount: Found, root: string, modelPath: string): string {
  const tree = [mount.ancestors[0]];
  addModelAsset(tree, 'arbor_robot', modelPath);
  const attach = element('attach', { model: 'arbor_robot', body: root, prefix: '' });
  const outer = mount.ancestors.find((n) => tagOf(n) === 'body');
  if (tagOf(mount.node) === 'body') {
    childrenOf(mount.node).push(attach);
    return attrsOf(outer ?? mount.node).name ?? '';
  }
  // A site mount: a frame where the site is, holding the robot, beside the site.
  const siteAttrs = attrsOf(mount.node);
  const frameAttrs = Object.fromEntries(FRAME_ATTRS.filter((k) => siteAttrs[k] !== undefined).map((k) => [k, siteAttrs[k]]));
  childrenOf(mount.ancestors.at(-1)!).push(element('frame', frameAttrs, [attach]));
  return outer ? (attrsOf(outer).name ?? '') : root;
}

/** Declares `<model name file/>` among the document's assets. */
function addModelAsset(tree: XmlNode[], name: string, file: string): void {
  childrenOf(section(mujocoRoot(tree)!, 'asset')).push(element('model', { name, file }));
}

/**
 * The world's contact summary sensors (src/sim/contact-summary.ts) for the attached robot: the
 * robot's subtree against the static world and against every free body, and each free body
 * against the static world. They change no physics; the classes come from the robot's root
 * whatever it is named. `top` is the top-level body the robot hangs in ('' when unnamed: the
 * summary then reads MuJoCo's contact list).
 */
function addContactSensors(world: XmlNode[], top: string): void {
  if (!top) return;
  const worldbody = findAll(world, (tag) => tag === 'worldbody')[0];
  if (!worldbody) return;
  const free = childrenOf(worldbody.node)
    .filter((n) => tagOf(n) === 'body' && attrsOf(n).name && childrenOf(n).some((c) => tagOf(c) === 'freejoint' || (tagOf(c) === 'joint' && attrsOf(c).type === 'free')))
    .map((n) => attrsOf(n).name);
  const sensors = childrenOf(section(mujocoRoot(world)!, 'sensor'));
  const contact = (name: string, attrs: Record<string, string>) => element('contact', { name, ...attrs, data: 'found force', num: '16' });
  sensors.push(contact('arbor_contacts_robot_static', { subtree1: top, body2: 'world' }));
  for (const body of free) {
    sensors.push(contact(`arbor_contacts_${body}_static`, { body1: body, body2: 'world' }));
    sensors.push(contact(`arbor_contacts_robot_${body}`, { subtree1: top, body2: body }));
  }
}

/** The first body of the model's worldbody: what `<attach>` takes (with its subtree). */
function rootBody(tree: XmlNode[], path: string, field: string): string {
  const worldbody = findAll(tree, (tag) => tag === 'worldbody')[0];
  const body = worldbody && childrenOf(worldbody.node).find((n) => tagOf(n) === 'body');
  if (!body) throw new MjcfError(path, `has no <body> in its <worldbody> (read as ${field}); the robot must be one body tree`);
  const name = attrsOf(body).name;
  if (!name) throw new MjcfError(path, `its first body in <worldbody> has no name; name it (e.g. <body name="base">) so arbor can attach it`);
  return name;
}

/** The element of one of `tags` named `name`. */
function findNamed(tree: XmlNode[], tags: string[], name: string): Found | undefined {
  return findAll(tree, (tag, attrs) => tags.includes(tag) && attrs.name === name)[0];
}

/** A model file's tree and the files it needs (checked well-formed, with its line on failure). */
function readModel(path: string): { tree: XmlNode[]; files: ModelFile[] } {
  const files = collectModelFiles(path);
  return { tree: parseMjcf(new TextDecoder().decode(files[0].data)), files };
}

/** Where a composed copy of `path` lives in the virtual file system: beside it. */
function composedPath(path: string): string {
  return join(dirname(path), `${basename(path, '.xml')}.arbor.xml`);
}

function text(tree: XmlNode[]): Uint8Array {
  return new TextEncoder().encode(buildMjcf(tree));
}
