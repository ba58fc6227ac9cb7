/**
 * Opening the store's SQLite file without surprises, for `Store.open`:
 * - before anything is written (WAL, migrations), the file must be empty or an arbor store: a
 *   file of another program is refused and left byte for byte, with no -wal or -shm beside it;
 * - reading works in a read-only place (a shared copy of a results folder): SQLite cannot make
 *   the -shm file a WAL database needs there, so arbor reads a private copy instead;
 * - every failure names the file and the likely cause, never a bare `unable to open database file`.
 */
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from './schema.ts';

/** An open database and how to let it go. */
export interface OpenedDatabase {
  /** The connection. */
  db: Database.Database;
  /** Closes the connection and removes the private copy, if one was made. */
  close(): void;
}

/** Opens `file` (absolute) for writing, creating it and its folder if needed; refuses foreign files. */
export function openForWriting(file: string): OpenedDatabase {
  refuseDirectory(file);
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new Error(`Cannot make the folder ${dir} for the store ${file}: ${(err as Error).message}. Pass a --db path in a folder you can write.`);
  }
  if (!writable(dir) && !existsSync(file)) {
    throw new Error(`Cannot create the store ${file}: the folder ${dir} is not writable. Pass a --db path in a folder you can write.`);
  }
  const db = connect(file, false);
  try {
    db.pragma('busy_timeout = 5000');
    assertArborOrEmpty(db, file);
  } catch (err) {
    db.close();
    throw describeOpenError(err, file, false);
  }
  return { db, close: () => db.close() };
}

/** Opens the store at `file` (absolute) read-only; in a read-only place, a private copy of it. */
export function openForReading(file: string): OpenedDatabase {
  refuseDirectory(file);
  if (!existsSync(file)) throw new Error(`No arbor store at ${file}. Run a study first, or pass the path of an existing arbor.db.`);
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    throw new Error(`Cannot read the store ${file}: ${(err as Error).message}. Ask its owner for read access, or read a copy.`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    assertArborOrEmpty(db, file);
    const opened = db;
    return { db: opened, close: () => opened.close() };
  } catch (err) {
    db?.close();
    if (!cannotMakeSideFiles(err)) throw describeOpenError(err, file, true);
  }
  return openCopy(file);
}

/**
 * A WAL database in a folder one cannot write has no -shm and cannot get one. Nobody can be
 * writing it there (a writer needs those files too), so a copy (with its -wal, which holds the
 * commits of a writer that was killed) read from a private folder shows the same data.
 */
function openCopy(file: string): OpenedDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-readonly-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const copy = join(dir, basename(file));
    copyFileSync(file, copy);
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
    const db = connect(copy, true);
    try {
      assertArborOrEmpty(db, file);
    } catch (err) {
      db.close();
      throw err;
    }
    return {
      db,
      close: () => {
        db.close();
        remove();
      },
    };
  } catch (err) {
    remove();
    throw describeOpenError(err, file, true);
  }
}

function connect(file: string, readonly: boolean): Database.Database {
  try {
    return new Database(file, { readonly, fileMustExist: readonly });
  } catch (err) {
    throw describeOpenError(err, file, readonly);
  }
}

function refuseDirectory(file: string): void {
  if (existsSync(file) && statSync(file).isDirectory()) {
    throw new Error(`The store path ${file} is a directory; give a file path such as ${join(file, 'arbor.db')}.`);
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** SQLite's ways of saying it could not make the -wal/-shm files a read-only connection needs. */
function cannotMakeSideFiles(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('SQLITE_READONLY') || code === 'SQLITE_CANTOPEN');
}

/** An error of opening `file`, in a sentence that names it and the likely cause. */
function describeOpenError(err: unknown, file: string, readonly: boolean): Error {
  if (!(err instanceof Database.SqliteError)) return err as Error;
  const dir = dirname(file);
  if (err.code === 'SQLITE_NOTADB') return new Error(`${file} is not an SQLite database (another program's file?). Pass a new path or the path of an arbor.db.`);
  if (err.code.startsWith('SQLITE_READONLY') && !readonly) {
    return new Error(`The store ${file} cannot be written (${err.message}): the file or its folder ${dir} is read-only. Copy it somewhere writable; studies, show, export, best and view read it where it is.`);
  }
  if (err.code.startsWith('SQLITE_CANTOPEN') || err.code.startsWith('SQLITE_READONLY')) {
    const cause = !existsSync(dir) ? `the folder ${dir} does not exist` : !writable(dir) ? `the folder ${dir} is not writable` : 'check that the file and its folder can be read and written';
    return new Error(`Cannot open the store ${file} (${err.message}): ${cause}.`);
  }
  return new Error(`The store ${file}: ${err.message}`);
}

/** Column names of each table, by table name. */
type Shape = Map<string, string[]>;
const shapes = new Map<number, Shape>();

/** The tables and columns an arbor store of schema `version` has: its migrations, run on an empty database. */
function arborShape(version: number): Shape {
  let shape = shapes.get(version);
  if (!shape) {
    const db = new Database(':memory:');
    try {
      for (const sql of MIGRATIONS.slice(0, version)) db.exec(sql);
      shape = shapeOf(db);
    } finally {
      db.close();
    }
    shapes.set(version, shape);
  }
  return shape;
}

function shapeOf(db: Database.Database): Shape {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid").pluck().all() as string[];
  return new Map(tables.map((t) => [t, (db.pragma(`table_info(${JSON.stringify(t)})`) as { name: string }[]).map((c) => c.name)]));
}

/**
 * Throws unless the database is empty (a new store) or has exactly the tables and columns of an
 * arbor store of its `user_version`. Reads only. A newer version than this arbor knows is left to
 * the version check, which says to update arbor.
 */
function assertArborOrEmpty(db: Database.Database, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const shape = shapeOf(db);
  if (version === 0 && shape.size === 0) return;
  const notArbor = (why: string) => new Error(`${file} is not an arbor store: ${why}. Pass a new path or the path of an arbor.db.`);
  if (version === 0) throw notArbor(`it holds other tables (${[...shape.keys()].join(', ')})`);
  const expected = arborShape(Math.min(version, MIGRATIONS.length));
  for (const [table, columns] of expected) {
    const found = shape.get(table);
    if (!found) throw notArbor(`it has no table ${table}`);
    if (version <= MIGRATIONS.length && [...found].sort().join() !== [...columns].sort().join()) {
      throw notArbor(`its table ${table} has the columns (${found.join(', ')}) where arbor's has (${columns.join(', ')})`);
    }
  }
}
