/**
 * The build an episode runs on: arbor (its version and a digest of its source, because two
 * checkouts of one version can differ) and MuJoCo (the mujoco-js package and the engine in it).
 * Episodes are identical across machines only on identical builds, so each build has a queue of
 * its own (named by `buildId`): a study puts its episodes on its build's queue and a worker takes
 * jobs only from its own build's, and a job of another build found there is refused with what
 * differs.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { mujocoBuild } from '../../sim/mujoco.ts';

/** arbor's install directory (the one with package.json, src/ and node_modules/). */
export const ARBOR_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const Build = z.strictObject({
  /** arbor's package version. */
  arbor: z.string().min(1).max(64),
  /** First 12 hex digits of the SHA-256 of arbor's src/ tree. */
  source: z.string().regex(/^[0-9a-f]{12}$/),
  /** Version of the mujoco-js package. */
  mujocoJs: z.string().min(1).max(64),
  /** MuJoCo's version inside it. */
  mujoco: z.string().min(1).max(64),
});
export type Build = z.infer<typeof Build>;

let local: Promise<Build> | undefined;

/** This process's build (computed once). */
export function localBuild(): Promise<Build> {
  local ??= (async () => {
    const pkg = z.object({ version: z.string() }).parse(JSON.parse(readFileSync(join(ARBOR_ROOT, 'package.json'), 'utf8')));
    return { arbor: pkg.version, source: sourceDigest(join(ARBOR_ROOT, 'src')), ...(await mujocoBuild()) };
  })();
  return local;
}

/** A build in a few words, e.g. `arbor 0.1.0 (source 3fa2c1d09e4b), MuJoCo 3.3.8 (mujoco-js 0.0.7)`. */
export function describeBuild(b: Build): string {
  return `arbor ${b.arbor} (source ${b.source}), MuJoCo ${b.mujoco} (mujoco-js ${b.mujocoJs})`;
}

/** A build's name in queue names: the first 12 hex digits of the SHA-256 of its four parts. */
export function buildId(b: Build): string {
  return createHash('sha256').update(JSON.stringify([b.arbor, b.source, b.mujocoJs, b.mujoco])).digest('hex').slice(0, 12);
}

/** The parts in which two builds differ (none when they are the same). */
export function buildDifference(a: Build, b: Build): (keyof Build)[] {
  return (Object.keys(a) as (keyof Build)[]).filter((k) => a[k] !== b[k]);
}

/** SHA-256 (12 hex digits) of every file under `dir`, by path and contents, in a stable order. */
function sourceDigest(dir: string): string {
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) hash.update(`${relative(dir, path)}\0`).update(readFileSync(path)).update('\0');
    }
  };
  walk(dir);
  return hash.digest('hex').slice(0, 12);
}
