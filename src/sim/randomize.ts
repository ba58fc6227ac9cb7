/**
 * Changes a free-jointed cube body in a loaded world: its size, mass, friction and resting pose,
 * with every model constant that depends on them. Tasks draw the values (seeded) and call this.
 */
import type { World } from './world.ts';

/** A cube body's drawn pose and properties. */
export interface ObjectSetup {
  /** Centre x (m). */
  x: number;
  /** Centre y (m). */
  y: number;
  /** Yaw about z (rad). */
  yaw: number;
  /** Half edge of the cube (m). */
  halfSize: number;
  /** Mass (kg). */
  mass: number;
  /** Sliding friction coefficient. */
  friction: number;
}

/**
 * Sets a box geom's half extents with what collision culling derives from them: the bounding
 * sphere, the geom's box and its body's bounding-volume tree (one node: the body has this one
 * geom, centred on it). All must follow the new size, or a bigger box sinks into what it rests on.
 */
export function resizeBox(world: World, bodyId: number, geom: number, half: readonly [number, number, number]): void {
  const { model } = world;
  const [x, y, z] = half;
  (model.geom_size as Float64Array).set(half, 3 * geom);
  // A sphere around the box (for a cube exactly its half diagonal; wider is only less culling).
  (model.geom_rbound as Float64Array)[geom] = Math.sqrt(3) * Math.max(x, y, z);
  (model.geom_aabb as Float64Array).set([0, 0, 0, x, y, z], 6 * geom);
  const bvh = (model.body_bvhadr as Int32Array)[bodyId];
  if (bvh >= 0) (model.bvh_aabb as Float64Array).set([0, 0, 0, x, y, z], 6 * bvh);
}

/**
 * Writes the setup into the model (the object's first geom: size, bounds, friction; its body:
 * mass, inertia) and the state (its free joint: resting on the table at the drawn pose).
 * The object must be a body with a free joint and a box geom.
 */
export function applyObjectSetup(world: World, bodyId: number, setup: ObjectSetup): void {
  const { model, data } = world;
  const geom = (model.body_geomadr as Int32Array)[bodyId];
  const h = setup.halfSize;
  resizeBox(world, bodyId, geom, [h, h, h]);
  (model.geom_friction as Float64Array)[3 * geom] = setup.friction;
  (model.body_mass as Float64Array)[bodyId] = setup.mass;
  const inertia = (setup.mass * (2 * h) ** 2) / 6; // solid cube: m (a² + a²) / 12 with a = 2h
  (model.body_inertia as Float64Array).set([inertia, inertia, inertia], 3 * bodyId);

  // Contact softness is scaled by each body's compile-time inverse weight; recompute it for the
  // new mass, or heavier objects sink into the table. This resets the state to qpos0, so the
  // caller sets every other joint afterwards.
  world.mj.mj_setConst(model, data);

  const joint = (model.body_jntadr as Int32Array)[bodyId];
  if (joint < 0 || (model.jnt_type as Int32Array)[joint] !== world.mj.mjtJoint.mjJNT_FREE.value) {
    throw new Error(`The object body needs a free joint so arbor can place it; add <freejoint/> to it.`);
  }
  const adr = (model.jnt_qposadr as Int32Array)[joint];
  const qpos = data.qpos as Float64Array;
  qpos.set([setup.x, setup.y, h, Math.cos(setup.yaw / 2), 0, 0, Math.sin(setup.yaw / 2)], adr);
}
