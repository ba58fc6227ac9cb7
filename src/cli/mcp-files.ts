/**
 * Which files `arbor mcp`'s tools may read. An MCP client is a program, often driven by a model
 * that read untrusted text, so a path it sends is checked before arbor opens it: inside the
 * project (or the `--root` folders) unless the server was started with `--any-path`; a regular
 * file (a device such as /dev/zero, or a FIFO, would be read forever); under a size cap; with the
 * extension of what it should be (so a scenario argument cannot make arbor parse `.env` and quote
 * its keys back).
 */
import { realpathSync, statSync } from 'node:fs';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';

/** The largest scenario or policy file the tools read (a real one is a few KiB). */
export const MCP_FILE_CAP = 1024 * 1024;

/** Where the tools may read. */
export interface FileAccess {
  /** Absolute, real folders the tools may read under. */
  roots: string[];
  /** `--any-path`: any folder (files must still be regular and under the cap). */
  anywhere: boolean;
}

/** The access of `--root DIR...` (default: the current folder) and `--any-path`. */
export function fileAccess(roots: string[] | undefined, anywhere: boolean): FileAccess {
  const dirs = roots?.length ? roots : ['.'];
  return {
    roots: dirs.map((dir) => {
      const real = realOf(dir, '--root');
      if (!statSync(real).isDirectory()) throw new Error(`\`--root ${dir}\` is not a folder; give the folder the tools may read under.`);
      return real;
    }),
    anywhere,
  };
}

/** What a path argument names: its field, and the extensions it may have. */
export interface FileKind {
  /** The tool argument, e.g. `scenario`. */
  field: string;
  /** Allowed extensions with their dot, e.g. ['.yaml', '.yml']. */
  extensions: string[];
}

/** A scenario argument. */
export const SCENARIO_FILE: FileKind = { field: 'scenario', extensions: ['.yaml', '.yml'] };
/** A policy file argument (JSON, or a code policy module). */
export const POLICY_FILE: FileKind = { field: 'policy', extensions: ['.json', '.ts', '.js', '.mjs'] };

/** `path` as an absolute path, once it is a regular, small file of its kind inside the access; else a clear error. */
export function checkedFile(access: FileAccess, path: string, kind: FileKind): string {
  const { field, extensions } = kind;
  if (!extensions.includes(extname(path).toLowerCase())) {
    throw new Error(`\`${field}\` '${path}' must be a ${extensions.join(', ')} file.`);
  }
  const real = realInside(access, path, field);
  const stat = statSync(real);
  if (!stat.isFile()) throw new Error(`\`${field}\` '${path}' is not a regular file; give a ${extensions.join(', ')} file.`);
  if (stat.size > MCP_FILE_CAP) {
    throw new Error(`\`${field}\` '${path}' is ${stat.size} bytes; arbor mcp reads files of at most ${MCP_FILE_CAP} bytes.`);
  }
  return resolve(path);
}

/** `path` as an absolute path, once it is a folder inside the access. */
export function checkedDir(access: FileAccess, path: string, field: string): string {
  const real = realInside(access, path, field);
  if (!statSync(real).isDirectory()) throw new Error(`\`${field}\` '${path}' is not a folder.`);
  return resolve(path);
}

/** The real path of `path` (symbolic links followed), refused when it lies outside every root. */
function realInside(access: FileAccess, path: string, field: string): string {
  const real = realOf(path, `\`${field}\``);
  if (access.anywhere || access.roots.some((root) => within(root, real))) return real;
  throw new Error(
    `\`${field}\` '${path}' is outside the folders arbor mcp may read (${access.roots.join(', ')}); ` +
      'move the file there, or start the server with --root DIR (or --any-path).',
  );
}

function realOf(path: string, what: string): string {
  try {
    return realpathSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${what} '${path}' ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}.`);
  }
}

function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
