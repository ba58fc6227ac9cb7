/**
 * The contact summary recorded every control tick: how many contacts there are, and the peak
 * normal force (N) of each pair class: robot with the static world, object with the static
 * world, robot with the object.
 *
 * Reading MuJoCo's contact list from JS costs about 5 µs a contact (mujoco-js copies the list,
 * then every contact and its fields). So the world's MJCF may carry one contact sensor
 * (MuJoCo >= 3.2) per class, which MuJoCo fills inside mj_step:
 *
 *   <contact subtree1="ROBOT_ROOT" body2="world" data="found force" num="16"/>
 *   <contact body1="OBJECT" body2="world" data="found force" num="16"/>
 *   <contact subtree1="ROBOT_ROOT" body2="OBJECT" data="found force" num="16"/>
 *
 * Each fills a slot per matching contact with the force from mj_contactForce, the very function
 * the contact list uses, so the peaks are the same numbers bit for bit. A class without such a
 * sensor, or a tick where a sensor found more contacts than it has slots, is read from the
 * contact list instead: slower, same values.
 */
import { liveView } from './live-view.ts';
import type { World } from './world.ts';

/** The bodies that define the pair classes. */
export interface ContactClasses {
  /** Root body of the robot: every body in its subtree is the robot. */
  robotRoot: number;
  /** The tracked objects' bodies (none, one, or several). */
  objects: readonly number[];
}

/** A contact sensor's slots in sensordata. */
interface SensorSlots {
  /** Start of the sensor in sensordata; slot 0's "found" count is here. */
  adr: number;
  /** Values per slot. */
  stride: number;
  /** Offset of the normal force within a slot (after "found"). */
  normal: number;
  /** Number of slots. */
  slots: number;
}

/** Body id of MuJoCo's world body: everything in it is static. */
const WORLD_BODY = 0;

export class ContactSummary {
  /** The sensor of each class (robot-static, object-static, robot-object), or null: read the list. */
  private readonly sensors: (SensorSlots | null)[];
  private readonly row = new Float64Array(4);
  private readonly sensordata: () => Float64Array;
  private readonly rootOf: () => Int32Array;
  private readonly bodyOf: () => Int32Array;

  constructor(
    private readonly world: World,
    private readonly classes: ContactClasses,
  ) {
    const { model } = world;
    this.sensordata = liveView(() => world.data.sensordata as Float64Array);
    this.rootOf = liveView(() => model.body_rootid as Int32Array);
    this.bodyOf = liveView(() => model.geom_bodyid as Int32Array);
    const { robotRoot, objects } = classes;
    // The sensors express the classes exactly only for one object, and only when robot, object and
    // world are three disjoint sets of bodies (a robot rooted in the world body would make the
    // world "robot"). Other tasks read the contact list.
    const objectBody = objects.length === 1 ? objects[0] : -1;
    const disjoint = objectBody >= 0 && robotRoot !== WORLD_BODY && objectBody !== WORLD_BODY && this.rootOf()[objectBody] !== robotRoot;
    const { mjOBJ_BODY, mjOBJ_XBODY } = world.mj.mjtObj;
    const robot = { type: mjOBJ_XBODY.value, id: robotRoot };
    const object = { type: mjOBJ_BODY.value, id: objectBody };
    const fixed = { type: mjOBJ_BODY.value, id: WORLD_BODY };
    this.sensors = disjoint
      ? [findSensor(world, robot, fixed), findSensor(world, object, fixed), findSensor(world, robot, object)]
      : [null, null, null];
  }

  /** Where the summary comes from: every class from sensors, or (some) from the contact list. */
  get source(): 'sensors' | 'contact list' {
    return this.sensors.every(Boolean) ? 'sensors' : 'contact list';
  }

  /**
   * [contact count, robot-static, object-static, robot-object peak normal force] after the last
   * step or forward. The array is reused by the next call.
   */
  read(): Float64Array {
    const out = this.row;
    const data = this.sensordata();
    for (let k = 0; k < 3; k++) {
      const s = this.sensors[k];
      if (!s || data[s.adr] > s.slots) return this.fromContactList();
      const found = data[s.adr];
      let peak = 0;
      for (let i = 0; i < found; i++) peak = Math.max(peak, Math.abs(data[s.adr + i * s.stride + s.normal]));
      out[k + 1] = peak;
    }
    out[0] = this.world.data.ncon;
    return out;
  }

  /** The same summary from MuJoCo's contact list. */
  fromContactList(): Float64Array {
    const { robotRoot, objects } = this.classes;
    const contacts = this.world.contacts();
    // Fetched after the contacts: reading them allocates, which can detach earlier views.
    const rootOf = this.rootOf();
    const bodyOf = this.bodyOf();
    let robotStatic = 0;
    let objectStatic = 0;
    let robotObject = 0;
    for (const c of contacts) {
      const b1 = bodyOf[c.geom1];
      const b2 = bodyOf[c.geom2];
      const robot = rootOf[b1] === robotRoot || rootOf[b2] === robotRoot;
      const object = objects.includes(b1) || objects.includes(b2);
      const fixed = b1 === WORLD_BODY || b2 === WORLD_BODY;
      if (robot && fixed) robotStatic = Math.max(robotStatic, c.normalForce);
      else if (object && fixed) objectStatic = Math.max(objectStatic, c.normalForce);
      else if (object && robot) robotObject = Math.max(robotObject, c.normalForce);
    }
    this.row.set([contacts.length, robotStatic, objectStatic, robotObject]);
    return this.row;
  }
}

/**
 * The contact sensor between objects `a` and `b` (either order) that reports every matching
 * contact's "found" count and force, or null when the model has none.
 */
function findSensor(world: World, a: { type: number; id: number }, b: { type: number; id: number }): SensorSlots | null {
  const { mj, model } = world;
  const contact: number = mj.mjtSensor.mjSENS_CONTACT.value;
  const found = 1 << mj.mjtConDataField.mjCONDATA_FOUND.value;
  const force = 1 << mj.mjtConDataField.mjCONDATA_FORCE.value;
  const type = model.sensor_type as Int32Array;
  const objtype = model.sensor_objtype as Int32Array;
  const objid = model.sensor_objid as Int32Array;
  const reftype = model.sensor_reftype as Int32Array;
  const refid = model.sensor_refid as Int32Array;
  const dim = model.sensor_dim as Int32Array;
  const adr = model.sensor_adr as Int32Array;
  const intprm = model.sensor_intprm as Int32Array;
  // intprm holds mjNSENS values per sensor: the data fields (a bit mask), the reduction, the slots.
  const perSensor = model.nsensor > 0 ? intprm.length / model.nsensor : 0;
  const is = (t: number, id: number, o: { type: number; id: number }) => t === o.type && id === o.id;
  for (let i = 0; i < model.nsensor; i++) {
    if (type[i] !== contact) continue;
    const pair = (is(objtype[i], objid[i], a) && is(reftype[i], refid[i], b)) || (is(objtype[i], objid[i], b) && is(reftype[i], refid[i], a));
    const fields = intprm[i * perSensor];
    const reduce = intprm[i * perSensor + 1];
    const slots = intprm[i * perSensor + 2];
    // "found" must come first in a slot and the force right after it; no reduction keeps every contact.
    if (!pair || (fields & found) === 0 || (fields & force) === 0 || reduce !== 0 || slots <= 0) continue;
    return { adr: adr[i], stride: dim[i] / slots, normal: 1, slots };
  }
  return null;
}
