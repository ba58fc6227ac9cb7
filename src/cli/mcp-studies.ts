/**
 * The studies `arbor mcp` runs: each an `arbor run` or `arbor resume` process of its own, so the
 * server stays responsive. At most `max` run at once (a study takes every core and about 500 MB).
 * Each writes to a log file beside the database, never to a pipe of the server, so a study does
 * not depend on the server living. `stop` and `stopAll` send SIGTERM, which `arbor run` takes as
 * Ctrl-C: it finishes the episodes in flight and marks the study `stopped`, ready for
 * `arbor resume`. The server stops them all when its client goes away.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ARBOR_BIN = fileURLToPath(new URL('../../bin/arbor.js', import.meta.url));

/** How often a starting study's log is read for its id. */
const POLL_MS = 50;

/** Where a started study is. */
export interface StartedStudy {
  /** Study id. */
  study: string;
  /** The study database. */
  db: string;
  /** The study's log file. */
  log: string;
}

/** A study process this server started. */
interface StudyProcess {
  /** The `arbor` process. */
  child: ChildProcess;
  /** Its log file. */
  log: string;
}

export class StudyProcesses {
  /** Processes by study id, once they printed it. */
  private readonly byId = new Map<string, StudyProcess>();
  /** Every process started, with or without an id yet. */
  private readonly children = new Set<ChildProcess>();
  /** Processes started so far (their log files differ by it). */
  private started = 0;

  constructor(
    /** Absolute path of the study database. */
    private readonly db: string,
    /** The most studies running at once (`--max-studies`). */
    private readonly max: number,
  ) {}

  /** Starts `arbor ARGS` and resolves with the study id once the process printed it; rejects with its log when it ends first. */
  async start(args: string[], known?: string): Promise<StartedStudy> {
    const live = [...this.children].filter(isRunning);
    if (live.length >= this.max) {
      const ids = [...this.byId].filter(([, p]) => isRunning(p.child)).map(([id]) => id);
      throw new Error(
        `arbor mcp already runs ${live.length} ${live.length === 1 ? 'study' : 'studies'} (${ids.join(', ') || 'starting'}), its limit (--max-studies ${this.max}); ` +
          'stop one with stop_study, or wait until it ends.',
      );
    }
    if (known !== undefined && this.isRunning(known)) throw new Error(`Study ${known} is already running here; follow it with study_status.`);
    const log = join(dirname(this.db), `arbor-mcp-${process.pid}-${Date.now()}-${this.started++}.log`);
    const fd = openSync(log, 'a');
    const child = spawn(process.execPath, [ARBOR_BIN, ...args], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    const study = await studyIdOf(child, log, known);
    this.byId.set(study, { child, log });
    return { study, db: this.db, log };
  }

  /** Whether this server runs `study` now. */
  isRunning(study: string): boolean {
    const proc = this.byId.get(study);
    return proc !== undefined && isRunning(proc.child);
  }

  /** The process of a study this server started: running or how it exited, its pid and the end of its log. */
  describe(study: string): { process: string; pid: number | undefined; log: string } | undefined {
    const proc = this.byId.get(study);
    if (!proc) return undefined;
    const { child } = proc;
    const state = isRunning(child) ? 'running' : `exited ${child.exitCode ?? child.signalCode}`;
    return { process: state, pid: child.pid, log: tail(readEnd(proc.log, 4096), 8) };
  }

  /** Stops a study this server started (as Ctrl-C would) and waits up to `waitMs` for its process to end; false when it still runs. */
  async stop(study: string, waitMs: number): Promise<boolean> {
    const proc = this.byId.get(study);
    if (!proc) throw new Error(`This server did not start study ${study}, so it cannot stop it; stop it where it runs (Ctrl-C there).`);
    proc.child.kill('SIGTERM');
    return exited(proc.child, waitMs);
  }

  /** Stops every study process, starting ones too, and waits up to `waitMs` for them. */
  async stopAll(waitMs: number): Promise<void> {
    const live = [...this.children].filter(isRunning);
    for (const child of live) child.kill('SIGTERM');
    await Promise.all(live.map((child) => exited(child, waitMs)));
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Resolves true when `child` has ended, false after `ms`. */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (!isRunning(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * The study id a starting `arbor run` prints (`study ID: ...`), or `known` once `arbor resume`
 * names it; rejects with the end of the log when the process ends before.
 */
function studyIdOf(child: ChildProcess, log: string, known: string | undefined): Promise<string> {
  const find = () => {
    const head = readStart(log, 64 * 1024);
    if (known !== undefined) return head.includes(`study ${known} `) ? known : undefined;
    return /^study (\S+):/m.exec(head)?.[1];
  };
  return new Promise((resolve, reject) => {
    const settle = () => {
      clearInterval(timer);
      child.off('exit', onExit);
    };
    const onExit = (code: number | null) => {
      settle();
      const id = find();
      if (id) resolve(id);
      else reject(new Error(`arbor exited with code ${code} before starting a study:\n${tail(readEnd(log, 4096), 12)}`));
    };
    const timer = setInterval(() => {
      const id = find();
      if (!id) return;
      settle();
      resolve(id);
    }, POLL_MS);
    child.on('exit', onExit);
  });
}

/** The first `bytes` of a file. */
function readStart(file: string, bytes: number): string {
  return readAt(file, bytes, () => 0);
}

/** The last `bytes` of a file (a log can grow large; only its end is read). */
function readEnd(file: string, bytes: number): string {
  return readAt(file, bytes, (size) => Math.max(0, size - bytes));
}

function readAt(file: string, bytes: number, from: (size: number) => number): string {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(bytes);
    const n = readSync(fd, buffer, 0, bytes, from(statSync(file).size));
    return buffer.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
