/**
 * A checkout an unprivileged user can run `arbor` from, for tests that run as root and need a
 * reader who cannot write (root ignores file modes). That user cannot walk into a clone kept in a
 * private folder (`/root/arbor` in most containers is 0700), so it gets a copy made of hard links:
 * new folders it may walk, the very same files. No bytes are copied and no existing file or folder
 * is ever chmodded: a chmod on a hard link changes the original, and node_modules may be a symlink
 * into another checkout. When even that cannot be made, the caller skips with the reason.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What `node bin/arbor.js` reads: the sources, their dependencies, and the files a command loads. */
const RUNTIME = ['bin', 'src', 'node_modules', 'scenarios', 'robots', 'sim', 'package.json', 'tsconfig.json'];

/** The files that show whether the reader can run arbor from a folder (it needs all of them). */
const PROBES = ['bin/arbor.js', 'src/cli/main.ts', 'node_modules/tsx/package.json', 'package.json'];

/** Where the reader runs arbor from, or why it cannot. */
export type ReaderCheckout = { dir: string; remove(): void } | { skip: string };

/** The command line that runs `command args` as `nobody`, with a temporary folder it may write. */
export function asNobody(tmp: string, command: string, args: string[]): [string, string[]] {
  return ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', `TMPDIR=${tmp}`, command, ...args]];
}

function readableBy(tmp: string, dir: string): boolean {
  const [command, args] = asNobody(tmp, 'sh', ['-c', 'for f; do test -r "$f" || exit 1; done', 'probe', ...PROBES.map((p) => join(dir, p))]);
  return spawnSync(command, args).status === 0;
}

/** `from` linked into the new path `to`: folders made anew (walkable by all), files hard-linked, symlinks recreated. */
function linkTree(from: string, to: string): void {
  const stat = lstatSync(from);
  if (stat.isSymbolicLink()) {
    symlinkSync(readlinkSync(from), to);
  } else if (stat.isDirectory()) {
    mkdirSync(to);
    chmodSync(to, 0o755); // a folder this function just made, never an existing one (the umask may be 077)
    for (const entry of readdirSync(from)) linkTree(join(from, entry), join(to, entry));
  } else {
    linkSync(from, to);
  }
}

/**
 * The checkout `checkout` if `nobody` can read it, else a hard-linked copy of what arbor needs at
 * run time in the system's temporary folder (removed by `remove()`), else the reason it cannot.
 * `tmp` is a folder `nobody` may write.
 */
export function readerCheckout(checkout: string, tmp: string): ReaderCheckout {
  if (readableBy(tmp, checkout)) return { dir: checkout, remove: () => {} };
  const copy = mkdtempSync(join(tmpdir(), 'arbor-reader-checkout-'));
  const remove = (): void => rmSync(copy, { recursive: true, force: true });
  try {
    chmodSync(copy, 0o755); // made just now by mkdtemp (0700)
    // realpath: node_modules is a symlink into the main checkout in a worktree; link what it points to.
    for (const name of RUNTIME) linkTree(realpathSync(join(checkout, name)), join(copy, name));
  } catch (error) {
    remove();
    return { skip: `the unprivileged reader cannot read the checkout ${checkout}, and a hard-linked copy in ${tmpdir()} failed (${(error as Error).message})` };
  }
  if (readableBy(tmp, copy)) return { dir: copy, remove };
  remove();
  return { skip: `the unprivileged reader (nobody) can read neither the checkout ${checkout} nor its hard-linked copy: its files are not world-readable` };
}
