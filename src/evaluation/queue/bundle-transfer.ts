/**
 * Moving scenario bundles through Redis: the study stores each file once under the SHA-256 of its
 * contents (gzipped) and the manifest under the bundle's hash; a worker fetches a bundle it has
 * not seen into a cache folder named by that hash, checks every file against its hash, links
 * arbor's src/ and node_modules/ in, and loads the scenario from there. A half-written bundle is
 * never used: it is built in a temporary folder and renamed into place.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import { ARBOR_ROOT } from './build.ts';
import { Manifest, manifestHash, type ScenarioBundle } from './bundle.ts';
import { KEEP_SECONDS, keys } from './protocol.ts';

/** The bundle is not in Redis (yet, or any more): the study stores it again when it reconnects. */
export class BundleMissing extends Error {}

/** Stores a bundle (files it already holds are only kept longer). */
export async function uploadBundle(redis: Redis, bundle: ScenarioBundle): Promise<void> {
  const shas = [...bundle.contents.keys()];
  const stored = (await redis.pipeline(shas.map((sha256) => ['exists', keys.file(sha256)])).exec()) ?? [];
  const batch = redis.multi();
  shas.forEach((sha256, i) => {
    if (stored[i]?.[1] === 1) batch.expire(keys.file(sha256), KEEP_SECONDS);
    else batch.set(keys.file(sha256), gzipSync(bundle.contents.get(sha256)!), 'EX', KEEP_SECONDS);
  });
  // The manifest last: a worker that sees it finds every file.
  batch.set(keys.bundle(bundle.hash), JSON.stringify(bundle.manifest), 'EX', KEEP_SECONDS);
  await batch.exec();
}

/** True when Redis holds the bundle's manifest. */
export async function hasBundle(redis: Redis, hash: string): Promise<boolean> {
  return (await redis.exists(keys.bundle(hash))) === 1;
}

/** The default cache of fetched bundles: `$XDG_CACHE_HOME/arbor/bundles`, else `~/.cache/arbor/bundles`. */
export function defaultBundleCache(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'arbor', 'bundles');
}

/**
 * The path of the bundle's scenario file in `cache`, fetching the bundle first when it is not
 * there. Throws `BundleMissing` when Redis does not hold it, and a sentence when it is corrupt.
 */
export async function materializeBundle(redis: Redis, hash: string, cache: string): Promise<string> {
  const dir = join(cache, hash);
  const manifestFile = join(dir, '.arbor-bundle.json');
  if (existsSync(manifestFile)) {
    return join(dir, Manifest.parse(JSON.parse(readFileSync(manifestFile, 'utf8'))).scenario);
  }
  const text = await redis.get(keys.bundle(hash));
  if (text === null) throw new BundleMissing(`Scenario bundle ${hash.slice(0, 12)} is not in Redis.`);
  const parsed = Manifest.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`Scenario bundle ${hash.slice(0, 12)} in Redis is malformed (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}).`);
  const manifest = parsed.data;
  if (manifestHash(manifest) !== hash) throw new Error(`Scenario bundle ${hash.slice(0, 12)} in Redis does not match its hash; it was altered.`);
  const linked = ['src', 'node_modules'].map((d) => (manifest.arbor ? `${manifest.arbor}/${d}` : d));
  const clash = manifest.files.find((f) => linked.some((l) => f.path === l || f.path.startsWith(`${l}/`)));
  if (clash) throw new Error(`Scenario bundle ${hash.slice(0, 12)} carries ${clash.path}, where the worker links its own arbor; it is not a bundle arbor makes.`);

  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    for (const file of manifest.files) {
      const packed = await redis.getBuffer(keys.file(file.sha256));
      if (packed === null) throw new BundleMissing(`File ${file.path} of scenario bundle ${hash.slice(0, 12)} is not in Redis.`);
      const data = gunzipSync(packed);
      if (createHash('sha256').update(data).digest('hex') !== file.sha256) throw new Error(`File ${file.path} of scenario bundle ${hash.slice(0, 12)} does not match its hash; it was altered in Redis.`);
      const target = join(tmp, file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, data);
    }
    // Plug-ins import arbor's src/ and its packages by relative paths and bare names: link both.
    mkdirSync(join(tmp, manifest.arbor), { recursive: true });
    for (const d of ['src', 'node_modules']) symlinkSync(join(ARBOR_ROOT, d), join(tmp, manifest.arbor, d), 'dir');
    if (manifest.arbor) symlinkSync(join(ARBOR_ROOT, 'node_modules'), join(tmp, 'node_modules'), 'dir');
    writeFileSync(join(tmp, '.arbor-bundle.json'), text);
    mkdirSync(cache, { recursive: true });
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another process of this machine fetched the same bundle first: use theirs.
      if (!existsSync(manifestFile)) throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return join(dir, manifest.scenario);
}
