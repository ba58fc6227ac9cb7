/**
 * A scenario bundle: every file a remote worker needs to load a scenario without a shared file
 * system, named by a content hash. It holds the scenario file, its robot.yaml (and URDF), every
 * file of the robot's and the world's MJCF (includes, meshes, textures), and the source of its
 * task plug-ins.
 *
 * Layout: files keep their places relative to one root (the deepest folder holding them all and
 * arbor itself), so the relative paths inside them (`robot: ../robots/...`, `<include>`, a
 * plug-in's `import '../x.ts'`) work unchanged on the worker. Absolute paths in the scenario and
 * robot.yaml are made relative in the bundled copy; an absolute path inside an MJCF file is refused.
 *
 * Plug-ins: a plug-in is a module, so its source is bundled by following its imports. Imports of
 * arbor's own src/ are not bundled: the worker has the same source (the build check makes sure)
 * and the bundle links src/ to it; bare imports must be packages arbor itself depends on (the
 * worker has them in its node_modules). Anything else a plug-in imports is refused with the fix.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { LoadedScenario } from '../../scenario/load.ts';
import { collectModelFiles } from '../../sim/model-files.ts';
import { ARBOR_ROOT } from './build.ts';

/** A path inside a bundle: relative, with `/`, and no `.`, `..` or empty parts. */
export const BundlePath = z
  .string()
  .min(1)
  .max(1000)
  .refine((p) => !p.startsWith('/') && !p.includes('\\') && !p.includes('\0') && p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), {
    message: 'must be a relative path without `.`, `..` or empty parts',
  });

/**
 * A bundle's bounds, which every bundle arbor makes keeps (`makeBundle` refuses more) and every
 * worker holds a manifest in Redis to, so one written by hand cannot fill a worker's memory or disk.
 */
export const BUNDLE_LIMITS = {
  /** Files in a bundle. */
  files: 2000,
  /** Bytes of one file (a large mesh is a few MiB). */
  fileBytes: 64 * 2 ** 20,
  /** Bytes of all files together. */
  bundleBytes: 256 * 2 ** 20,
  /** Bytes of the manifest's JSON (2,000 entries of the longest paths fit). */
  manifestBytes: 4 * 2 ** 20,
} as const;

/** The list of a bundle's files, as kept in Redis. */
export const Manifest = z.strictObject({
  /** The scenario file. */
  scenario: BundlePath,
  /** Where arbor's install directory stands in the bundle ('' at its root): src/ and node_modules/ link there. */
  arbor: z.union([z.literal(''), BundlePath]),
  /** Every file, sorted by path. */
  files: z
    .array(z.strictObject({
      /** Where it goes. */
      path: BundlePath,
      /** SHA-256 of its contents (hex). */
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      /** Its size in bytes. */
      size: z.number().int().min(0).max(BUNDLE_LIMITS.fileBytes),
    }))
    .max(BUNDLE_LIMITS.files)
    .refine((files) => files.reduce((sum, f) => sum + f.size, 0) <= BUNDLE_LIMITS.bundleBytes, {
      message: `must hold at most ${BUNDLE_LIMITS.bundleBytes / 2 ** 20} MiB in all`,
    }),
});
export type Manifest = z.infer<typeof Manifest>;

/** A bundle ready to send. */
export interface ScenarioBundle {
  /** SHA-256 of the manifest: the bundle's name. */
  hash: string;
  /** What the worker fetches first. */
  manifest: Manifest;
  /** The contents of each file, by SHA-256. */
  contents: Map<string, Uint8Array>;
}

/** arbor's own folders a bundle links to on the worker instead of carrying. */
const LINKED = ['src', 'node_modules'];
/** Extensions of modules whose imports are followed. */
const CODE = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.tsx', '.jsx']);

/** Bundles a loaded scenario. Throws a sentence naming the file and the fix when it cannot travel. */
export function makeBundle(scenario: LoadedScenario): ScenarioBundle {
  const files = new Map<string, Uint8Array>();
  const add = (path: string, data: Uint8Array = readFileSync(path)) => void files.set(path, data);
  const robot = scenario.robotConfig;
  add(scenario.file, relativeYaml(scenario.file, ['robot', 'world', 'plugins']));
  add(robot.file, relativeYaml(robot.file, ['mjcf', 'urdf', ['gripper', 'mjcf']]));
  if (robot.urdf) add(resolve(dirname(robot.file), robot.urdf));
  for (const model of [robot.mjcfPath, ...(robot.gripperPath ? [robot.gripperPath] : []), scenario.worldPath]) {
    for (const f of collectModelFiles(model)) {
      if (f.xml) refuseAbsoluteMjcfPaths(f.path, f.data);
      add(f.path, f.data);
    }
  }
  for (const plugin of scenario.plugins) addModule(resolve(dirname(scenario.file), plugin), add, new Set());

  const root = commonRoot([...files.keys(), ARBOR_ROOT]);
  const contents = new Map<string, Uint8Array>();
  const entries = [...files].map(([path, data]) => {
    const sha256 = createHash('sha256').update(data).digest('hex');
    contents.set(sha256, data);
    return { path: toBundlePath(root, path), sha256, size: data.length };
  });
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  checkLimits([...files].map(([path, data]) => ({ path, size: data.length })));
  const manifest: Manifest = { scenario: toBundlePath(root, scenario.file), arbor: toBundlePath(root, ARBOR_ROOT), files: entries };
  return { hash: manifestHash(manifest), manifest, contents };
}

/** The name of a bundle: the SHA-256 of its manifest. */
export function manifestHash(manifest: Manifest): string {
  return createHash('sha256').update(JSON.stringify(manifest)).digest('hex');
}

/** Refuses a bundle over `BUNDLE_LIMITS` (which workers hold it to), naming the biggest file. */
function checkLimits(files: { path: string; size: number }[]): void {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const fix = 'make it smaller (decimate meshes, drop unused assets), or run this study with the in-process evaluator (leave out --evaluator).';
  const biggest = files.reduce((a, b) => (b.size > a.size ? b : a));
  if (biggest.size > BUNDLE_LIMITS.fileBytes) throw new Error(`${biggest.path} is ${mib(biggest.size)}, over the ${mib(BUNDLE_LIMITS.fileBytes)} a file sent to remote workers may be; ${fix}`);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (total > BUNDLE_LIMITS.bundleBytes) {
    throw new Error(`The scenario's files come to ${mib(total)} (the biggest: ${biggest.path}, ${mib(biggest.size)}), over the ${mib(BUNDLE_LIMITS.bundleBytes)} a bundle sent to remote workers may be; ${fix}`);
  }
  if (files.length > BUNDLE_LIMITS.files) throw new Error(`The scenario needs ${files.length} files, over the ${BUNDLE_LIMITS.files} a bundle sent to remote workers may carry; ${fix}`);
}

/** A YAML file with its absolute file fields made relative to it (comments and the rest kept as they are). */
function relativeYaml(file: string, fields: (string | string[])[]): Uint8Array {
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text);
  let changed = false;
  const relativize = (value: unknown) => {
    if (typeof value !== 'string' || !isAbsolute(value)) return value;
    changed = true;
    return relative(dirname(file), value).split(sep).join('/');
  };
  for (const field of fields) {
    const path = Array.isArray(field) ? field : [field];
    const value: unknown = doc.getIn(path);
    if (typeof value === 'string') doc.setIn(path, relativize(value));
    else if (value && typeof value === 'object' && 'items' in value) {
      const list: unknown = path.reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc.toJS());
      if (Array.isArray(list)) doc.setIn(path, list.map(relativize));
    }
  }
  return Buffer.from(changed ? doc.toString() : text);
}

/** MJCF attributes that name files or folders; an absolute one points into this machine only. */
const MJCF_PATH_ATTR = /\b(file\w*|meshdir|texturedir|assetdir)\s*=\s*(["'])(\/[^"']*)\2/;

function refuseAbsoluteMjcfPaths(path: string, data: Uint8Array): void {
  const lines = Buffer.from(data).toString('utf8').split('\n');
  const at = lines.findIndex((l) => MJCF_PATH_ATTR.test(l));
  if (at < 0) return;
  const [, attr, , value] = MJCF_PATH_ATTR.exec(lines[at])!;
  throw new Error(
    `${path}:${at + 1}: ${attr}="${value}" is an absolute path, which a remote worker cannot follow (it has its own file system); ` +
      'write it relative to the main model, or run this study with the in-process evaluator (leave out --evaluator).',
  );
}

/** Adds a plug-in module and, following its imports, every module of its own it needs. */
function addModule(path: string, add: (path: string, data?: Uint8Array) => void, seen: Set<string>): void {
  if (seen.has(path) || isLinked(path)) return;
  seen.add(path);
  const source = readFileSync(path, 'utf8');
  add(path);
  const pkg = nearestPackageJson(dirname(path));
  if (pkg) add(pkg);
  if (!CODE.has(extname(path))) return;
  for (const specifier of importsOf(source)) {
    if (specifier.startsWith('.') || isAbsolute(specifier)) {
      const target = resolveModule(resolve(dirname(path), specifier));
      if (!target) {
        throw new Error(`The task plug-in module ${path} imports '${specifier}', which is no file; fix the import (a remote worker needs every module a plug-in loads).`);
      }
      addModule(target, add, seen);
    } else {
      checkPackage(specifier, path);
    }
  }
}

/** The module specifiers a source file imports statically or with a literal `import()`. */
function importsOf(source: string): string[] {
  const found = new Set<string>();
  const patterns = [/\b(?:import|export)\s[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1/g, /\bimport\s*(['"])([^'"]+)\1/g, /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) found.add(m[2]);
  return [...found];
}

/** The file a relative import names, the way tsx finds it (`.js` may name a `.ts`, a folder its index). */
function resolveModule(target: string): string | undefined {
  const tries = [target, ...['.ts', '.mts', '.js', '.mjs'].map((e) => target + e), target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), join(target, 'index.ts'), join(target, 'index.js')];
  return tries.find((p) => existsSync(p) && statSync(p).isFile());
}

/** Dependencies of arbor: the packages a worker surely has. */
function arborDependencies(): Set<string> {
  const pkg = z.object({ dependencies: z.record(z.string(), z.string()).default({}) }).parse(JSON.parse(readFileSync(join(ARBOR_ROOT, 'package.json'), 'utf8')));
  return new Set(Object.keys(pkg.dependencies));
}

function checkPackage(specifier: string, from: string): void {
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0])) return;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  if (arborDependencies().has(name)) return;
  throw new Error(
    `The task plug-in module ${from} imports the package '${name}', which is not one of arbor's dependencies, so a remote worker may not have it; ` +
      "copy what you need into the plug-in's folder, or add the package to arbor's dependencies on every machine.",
  );
}

/** True for files under arbor's src/ or node_modules/: the worker links its own. */
function isLinked(path: string): boolean {
  return LINKED.some((dir) => !relative(join(ARBOR_ROOT, dir), path).startsWith('..'));
}

/** The package.json that decides how a module is loaded (ESM or CommonJS), when there is one. */
function nearestPackageJson(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'package.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(d) === d) return undefined;
  }
}

/** The deepest folder that holds every path. */
function commonRoot(paths: string[]): string {
  let root = dirname(paths[0]);
  for (const p of paths) while (relative(root, p).startsWith('..')) root = dirname(root);
  return root;
}

function toBundlePath(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}
