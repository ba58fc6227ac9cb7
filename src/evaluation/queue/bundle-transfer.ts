/**
 * Moving scenario bundles through Redis: the study stores each file once under the SHA-256 of its
 * contents (gzipped) and the manifest under the bundle's hash; a worker fetches a bundle it has
 * not seen into a cache folder named by that hash, checks every file against its hash, links
 * arbor's src/ and node_modules/ in, and loads the scenario from there. A half-written bundle is
 * never used: it is built in a temporary folder and renamed into place.
 *
 * Redis is not trusted to hold what it should: every value is read with a bound (the manifest's
 * own, each file's size from the manifest), unpacked no further than that size, and checked
 * against its hash. A value that fails is removed with the manifest; the study, which checks
 * every few seconds that its bundle is there, then stores it again whole.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Redis } from 'ioredis';
import { ARBOR_ROOT } from './build.ts';
import { BUNDLE_LIMITS, Manifest, manifestHash, type ScenarioBundle } from './bundle.ts';
import { KEEP_SECONDS, keys, parseJson } from './protocol.ts';

/**
 * The bundle is not in Redis: not yet, not any more, or it was there corrupt and the worker removed
 * it. The study stores it again while it runs (it checks every few seconds), so a later try may work.
 */
export class BundleMissing extends Error {
  constructor(
    message: string,
    /** True when it was there corrupt, and removed: worth telling whoever runs the worker. */
    readonly corrupt = false,
  ) {
    super(message);
  }
}

/** The bundle is whole in Redis but not one arbor makes: no later try helps. */
export class BundleRefused extends Error {}

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
 * there. Throws `BundleMissing` when Redis does not hold it whole (a corrupt part is removed, so
 * the study stores it again), and `BundleRefused` when it is not a bundle arbor makes. Every
 * part is read under the bounds of `BUNDLE_LIMITS` and the sizes its manifest gives.
 */
export async function materializeBundle(redis: Redis, hash: string, cache: string): Promise<string> {
  const dir = join(cache, hash);
  const manifestFile = join(dir, '.arbor-bundle.json');
  if (existsSync(manifestFile)) {
    return join(dir, Manifest.parse(JSON.parse(readFileSync(manifestFile, 'utf8'))).scenario);
  }
  const { manifest, text } = await fetchManifest(redis, hash);
  const linked = ['src', 'node_modules'].map((d) => (manifest.arbor ? `${manifest.arbor}/${d}` : d));
  const clash = manifest.files.find((f) => linked.some((l) => f.path === l || f.path.startsWith(`${l}/`)));
  if (clash) throw new BundleRefused(`Scenario bundle ${hash.slice(0, 12)} carries ${clash.path}, where the worker links its own arbor; it is not a bundle arbor makes.`);

  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
  try {
    for (const file of manifest.files) {
      const data = await fetchFile(redis, hash, file);
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

/** Reads and checks a bundle's manifest; a corrupt one is removed (the study stores it again). */
async function fetchManifest(redis: Redis, hash: string): Promise<{ manifest: Manifest; text: string }> {
  const name = `Scenario bundle ${hash.slice(0, 12)}`;
  // GETRANGE reads at most the limit and one byte more: enough to know a value is over it.
  const raw = await redis.getrangeBuffer(keys.bundle(hash), 0, BUNDLE_LIMITS.manifestBytes);
  if (raw.length === 0) throw new BundleMissing(`${name} is not in Redis.`);
  const corrupt = async (why: string) => {
    await redis.del(keys.bundle(hash));
    return new BundleMissing(`${name} in Redis ${why}; the worker removed it, so that its study stores it again.`, true);
  };
  if (raw.length > BUNDLE_LIMITS.manifestBytes) throw await corrupt(`has a manifest over ${BUNDLE_LIMITS.manifestBytes / 2 ** 20} MiB`);
  const text = raw.toString('utf8');
  const parsed = Manifest.safeParse(parseJson(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw await corrupt(`has a malformed manifest (${issue?.path.join('.') || 'the manifest'}: ${issue?.message})`);
  }
  if (manifestHash(parsed.data) !== hash) throw await corrupt('does not match its hash; it was altered');
  return { manifest: parsed.data, text };
}

/**
 * Reads one file of a bundle, unpacking no more than its manifest size and checking its hash. A
 * file missing or corrupt is removed with the manifest, so the study stores both again.
 */
async function fetchFile(redis: Redis, hash: string, file: Manifest['files'][number]): Promise<Buffer> {
  const corrupt = async (why: string) => {
    await redis.del(keys.file(file.sha256), keys.bundle(hash));
    return new BundleMissing(`File ${file.path} of scenario bundle ${hash.slice(0, 12)} ${why}; the worker removed the bundle's manifest, so that its study stores it again.`, true);
  };
  // Gzip adds a few bytes per block to data it cannot shrink; more than that is not this file.
  const bound = file.size + (file.size >> 8) + 64;
  const packed = await redis.getrangeBuffer(keys.file(file.sha256), 0, bound);
  if (packed.length === 0) throw await corrupt('is not in Redis');
  if (packed.length > bound) throw await corrupt(`is over ${bound} bytes in Redis, more than its ${file.size} bytes gzipped can be`);
  let data: Buffer;
  try {
    data = gunzipSync(packed, { maxOutputLength: Math.max(1, file.size) });
  } catch (err) {
    const over = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw await corrupt(over ? `unpacks to more than the ${file.size} bytes its manifest gives` : `is not gzip data in Redis (${(err as Error).message})`);
  }
  if (data.length !== file.size) throw await corrupt(`unpacks to ${data.length} bytes, not the ${file.size} its manifest gives`);
  if (createHash('sha256').update(data).digest('hex') !== file.sha256) throw await corrupt('does not match its hash; it was altered in Redis');
  return data;
}
