/**
 * The scene as JSON: what the page needs to build a three.js scene of an MjModel. Plain data
 * copied out of the model (the model's own buffers are never handed out or changed). Positions
 * are metres in MuJoCo's world frame (Z up); quaternions are MuJoCo's (w, x, y, z).
 */

/** MJCF geom types the viewer draws. */
export type GeomKind = 'plane' | 'hfield' | 'sphere' | 'capsule' | 'ellipsoid' | 'cylinder' | 'box' | 'mesh';

/** One body. */
export interface BodySpec {
  /** Body id. */
  id: number;
  /** Name ('' when unnamed). */
  name: string;
  /** Parent body id (0 = world; the world's own parent is 0). */
  parent: number;
  /** True when the body moves (it is not welded to the world). */
  dynamic: boolean;
}

/** One geom, placed in its body's frame. */
export interface GeomSpec {
  /** Geom id. */
  id: number;
  /** Name ('' when unnamed). */
  name: string;
  /** Body id it belongs to. */
  body: number;
  /** Geom type. */
  type: GeomKind;
  /** MuJoCo size (meaning depends on the type). */
  size: [number, number, number];
  /** Position in the body frame. */
  pos: [number, number, number];
  /** Orientation in the body frame (w, x, y, z). */
  quat: [number, number, number, number];
  /** Colour (the material's when the geom has one and keeps the default rgba). */
  rgba: [number, number, number, number];
  /** Material index, or -1. */
  material: number;
  /** Mesh index for `mesh` geoms, else -1. */
  mesh: number;
  /** Height field index for `hfield` geoms, else -1. */
  hfield: number;
  /** Visibility group (0-5); groups 0-2 are shown, as in MuJoCo's simulate. */
  group: number;
}

/** One material. */
export interface MaterialSpec {
  /** Colour. */
  rgba: [number, number, number, number];
  /** Texture index of the RGB role, or -1. */
  texture: number;
  /** Texture repetitions (x, y). */
  texrepeat: [number, number];
  /** True: `texrepeat` counts per metre instead of per geom. */
  texuniform: boolean;
  /** Specular strength (0-1). */
  specular: number;
  /** Shininess (0-1). */
  shininess: number;
  /** Emission (0-1), relative to the colour. */
  emission: number;
}

/** A mesh, copied out of the model. */
export interface MeshSpec {
  /** Name. */
  name: string;
  /** Base64 of Float32 vertices (x, y, z each), in the mesh frame. */
  vertices: string;
  /** Base64 of Uint32 triangle vertex indices. */
  faces: string;
}

/** A height field, copied out of the model: a grid of elevations over a rectangle. */
export interface HfieldSpec {
  /** Rows (along y). */
  nrow: number;
  /** Columns (along x). */
  ncol: number;
  /** MuJoCo's size: x and y half extents, top elevation, base depth (m). */
  size: [number, number, number, number];
  /** Base64 of Float32 elevations in [0, 1], row-major (row 0 at -y, column 0 at -x). */
  data: string;
}

/** A 2D texture, copied out of the model. */
export interface TextureSpec {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Bytes per pixel (3 RGB or 4 RGBA). */
  channels: number;
  /** Base64 of the pixel bytes, row-major. */
  data: string;
}

/** A camera of the model, placed in its body's frame (looks along its -Z, +Y up, as in three.js). */
export interface CameraSpec {
  /** Name ('' when unnamed). */
  name: string;
  /** Body it is attached to. */
  body: number;
  /** Position in the body frame. */
  pos: [number, number, number];
  /** Orientation in the body frame (w, x, y, z). */
  quat: [number, number, number, number];
  /** Vertical field of view (degrees). */
  fovy: number;
}

/** A light of the model (world frame at the initial state). */
export interface LightSpec {
  /** Position. */
  pos: [number, number, number];
  /** Direction it points to. */
  dir: [number, number, number];
  /** Directional (sun-like) rather than a spot. */
  directional: boolean;
  /** Diffuse colour. */
  diffuse: [number, number, number];
}

/** Everything the page needs to draw a model. */
export interface SceneSpec {
  /** Key the episode and live frames refer to. */
  key: string;
  /** Model name. */
  name: string;
  /** Bodies by id (index = id). */
  bodies: BodySpec[];
  /** Drawn geoms. */
  geoms: GeomSpec[];
  /** Materials by index. */
  materials: MaterialSpec[];
  /** Meshes by index. */
  meshes: MeshSpec[];
  /** Height fields by index. */
  hfields: HfieldSpec[];
  /** 2D textures by index (null for other texture types). */
  textures: (TextureSpec | null)[];
  /** The model's cameras. */
  cameras: CameraSpec[];
  /** The model's lights. */
  lights: LightSpec[];
  /** Initial world poses of all bodies, 7 floats each (px py pz qw qx qy qz). */
  poses: number[];
  /** Ids of the bodies live and replay frames carry poses for, in frame order. */
  dynamic: number[];
  /** Geoms that mark the task's targets (zones, paths), outlined; empty without a scenario. */
  targets?: number[];
  /** Bodies the follow camera can track (the task's objects, the tool). */
  follow: { id: number; name: string }[];
  /** Centre and size of the model (MuJoCo's statistics), to frame the camera. */
  center: [number, number, number];
  /** Model extent (m). */
  extent: number;
  /** The headlight's ambient and diffuse colour. */
  headlight: { ambient: [number, number, number]; diffuse: [number, number, number] };
  /** The free camera's vertical field of view (degrees). */
  fovy: number;
}
