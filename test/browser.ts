/**
 * The headless Chromium that the browser tests and the viewer benchmarks drive: Debian's
 * /usr/bin/chromium when it is installed, otherwise the Chromium that the @sparticuz/chromium
 * devDependency ships inside its npm package. So `npm install` is the whole set-up, and nothing is
 * ever downloaded. Both draw WebGL2 on SwiftShader, without a GPU.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sparticuz from '@sparticuz/chromium';
import { chromium, type BrowserContext } from 'playwright-core';
import { z } from 'zod';

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Quiet, sandbox-free, no background traffic; WebGL falls back to SwiftShader. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** The packaged Chromium carries its own SwiftShader libraries; these flags make it use them for WebGL. */
const PACKAGED_GL_FLAGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

/** Which Chromium runs, and with which flags. */
export interface ChromiumChoice {
  /** Path of the browser binary. */
  executablePath: string;
  /** Command-line flags for headless WebGL2 on SwiftShader. */
  args: string[];
  /** `debian` for /usr/bin/chromium, `packaged` for the one inside @sparticuz/chromium. */
  source: 'debian' | 'packaged';
}

/** Debian's Chromium when it is installed, else the packaged one (unpacked on first use). */
export async function findChromium(): Promise<ChromiumChoice> {
  if (existsSync(DEBIAN_CHROMIUM)) return { executablePath: DEBIAN_CHROMIUM, args: FLAGS, source: 'debian' };
  return { executablePath: await unpackPackagedChromium(), args: [...FLAGS, ...PACKAGED_GL_FLAGS], source: 'packaged' };
}

/**
 * Unpacks the packaged Chromium (about 200 MB, 2-3 s) once per package version into
 * `$TMPDIR/arbor-chromium-<version>/` and returns the binary's path.
 */
async function unpackPackagedChromium(): Promise<string> {
  const home = join(tmpdir(), `arbor-chromium-${packagedVersion()}`);
  const binary = join(home, 'chromium');
  if (existsSync(binary)) return binary;
  // The package unpacks into os.tmpdir() and reuses any `chromium` it finds there, be it another
  // version or one half written by a run started at the same moment. So it unpacks into a fresh
  // directory of ours, which then takes its final name in one rename.
  const staging = mkdtempSync(join(tmpdir(), 'arbor-chromium-unpack-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = staging;
  let unpacked: string;
  try {
    unpacked = await sparticuz.executablePath();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
  }
  if (unpacked !== join(staging, 'chromium')) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`@sparticuz/chromium unpacked its browser to ${unpacked}, not into ${staging} as expected: this version of the package places its files differently; pin the version in package.json that test/browser.ts was written for.`);
  }
  try {
    renameSync(staging, home);
  } catch (e) {
    // Another run finished first: its copy is complete, so use it and drop ours.
    if (!existsSync(binary)) throw e;
    rmSync(staging, { recursive: true, force: true });
  }
  return binary;
}

function packagedVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@sparticuz/chromium');
  const manifest = join(dirname(entry), '..', '..', 'package.json');
  return z.object({ version: z.string().regex(/^[\w.-]+$/) }).parse(JSON.parse(readFileSync(manifest, 'utf8'))).version;
}

/** A running headless Chromium with a fresh profile. */
export interface TestBrowser {
  /** The browser's one (persistent) context: open pages with `context.newPage()`. */
  context: BrowserContext;
  /** Which Chromium it is. */
  choice: ChromiumChoice;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * Starts headless Chromium with a fresh profile. The context's locale is `en-US`, so pages behave
 * the same whatever LANG the machine has (the packaged Chromium reports `en-US@posix` under
 * `LANG=C.UTF-8`; the locale test sets that on purpose).
 */
export async function launchChromium(viewport: { width: number; height: number }): Promise<TestBrowser> {
  const choice = await findChromium();
  const profile = mkdtempSync(join(tmpdir(), 'arbor-chromium-profile-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, { executablePath: choice.executablePath, headless: true, args: choice.args, viewport, locale: 'en-US' });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    const hint =
      choice.source === 'packaged'
        ? 'The packaged Chromium needs the shared libraries libnss3, libnspr4 and libexpat1: `apt-get install libnss3`, or install Debian\'s Chromium (`apt-get install chromium`), which the tests then use instead.'
        : `Check that ${DEBIAN_CHROMIUM} runs (\`${DEBIAN_CHROMIUM} --version\`), or remove it and the tests use the Chromium of @sparticuz/chromium.`;
    throw new Error(`Headless Chromium (${choice.source}, ${choice.executablePath}) did not start. ${hint}\n${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    context,
    choice,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
