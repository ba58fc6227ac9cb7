/**
 * Pages watching studies for changes (`study.watch`): each page watches at most one study, only a
 * study that exists (in the store, or live in this viewer), and the server keeps a fingerprint
 * only of studies some page watches now. So what a page can make the server hold is bounded by
 * the number of sockets, however many ids it sends. Changes come from live feeds at once
 * (debounced) and from polling the store for writers in other processes.
 */
import type { WebSocket } from 'ws';
import type { WorkerThroughput } from '../evaluation/live.ts';
import type { ViewerData } from './data.ts';
import type { Problem, ServerMessage } from './messages.ts';

/** Debounce of change notices (ms): a burst of episode events becomes one notice. */
const NOTICE_DELAY = 150;
/** Studies whose last per-worker throughput is kept. */
const THROUGHPUT_KEPT = 16;

export class StudyWatch {
  /** The study each page watches. */
  private readonly watchers = new Map<WebSocket, string>();
  /** The last fingerprint of each watched study. */
  private readonly fingerprints = new Map<string, string>();
  private readonly pendingNotices = new Map<string, NodeJS.Timeout>();
  /** The last per-worker throughput of the latest live studies, for pages that start watching later. */
  private readonly throughput = new Map<string, WorkerThroughput[]>();
  private poll: NodeJS.Timeout | undefined;

  constructor(
    private readonly data: ViewerData,
    /** True when a live feed of this viewer streams the study (it may not be stored yet). */
    private readonly isLive: (study: string) => boolean,
    /** How often watched studies are checked for changes made by another process (ms). */
    private readonly pollMs: number,
  ) {}

  /** Studies the server holds state for (for tests: bounded by the pages watching). */
  get studyCount(): number {
    return this.fingerprints.size;
  }

  /** `ws` watches `study` from now on, instead of what it watched; a problem when there is no such study. */
  watch(ws: WebSocket, study: string): Problem | undefined {
    if (!this.exists(study)) {
      return { severity: 'error', message: `There is no study '${study}' to watch in ${this.data.dbPath ?? 'this viewer'}.`, tip: 'watch an id that /api/studies lists' };
    }
    this.unwatch(ws);
    this.watchers.set(ws, study);
    if (!this.fingerprints.has(study)) this.fingerprints.set(study, this.fingerprint(study));
    this.updatePolling();
    const workers = this.throughput.get(study);
    if (workers) send(ws, { type: 'study.workers', study, workers });
    return undefined;
  }

  /** `ws` watches nothing (also when its socket closes). */
  unwatch(ws: WebSocket): void {
    const study = this.watchers.get(ws);
    if (study === undefined) return;
    this.watchers.delete(ws);
    if (![...this.watchers.values()].includes(study)) {
      this.fingerprints.delete(study);
      clearTimeout(this.pendingNotices.get(study));
      this.pendingNotices.delete(study);
    }
    this.updatePolling();
  }

  /** A study changed: tell its watchers, once per burst. */
  changed(study: string): void {
    if (!this.fingerprints.has(study) || this.pendingNotices.has(study)) return;
    this.pendingNotices.set(
      study,
      setTimeout(() => {
        this.pendingNotices.delete(study);
        if (!this.fingerprints.has(study)) return;
        this.fingerprints.set(study, this.fingerprint(study));
        for (const [ws, s] of this.watchers) if (s === study) send(ws, { type: 'study.changed', study });
      }, NOTICE_DELAY),
    );
  }

  /** A running study's per-worker throughput: tell its watchers now, and keep it for later ones. */
  workers(study: string, workers: WorkerThroughput[]): void {
    // Kept for the few latest studies only: live feeds name them, pages cannot.
    this.throughput.delete(study);
    this.throughput.set(study, workers);
    if (this.throughput.size > THROUGHPUT_KEPT) this.throughput.delete(this.throughput.keys().next().value!);
    for (const [ws, s] of this.watchers) if (s === study) send(ws, { type: 'study.workers', study, workers });
  }

  /** Stops polling and pending notices. */
  close(): void {
    clearInterval(this.poll);
    this.poll = undefined;
    for (const t of this.pendingNotices.values()) clearTimeout(t);
    this.pendingNotices.clear();
    this.watchers.clear();
    this.fingerprints.clear();
    this.throughput.clear();
  }

  private exists(study: string): boolean {
    if (this.isLive(study)) return true;
    try {
      return this.data.getStore()?.study(study) !== undefined;
    } catch {
      return false;
    }
  }

  private fingerprint(study: string): string {
    try {
      return this.data.fingerprint(study);
    } catch {
      return '';
    }
  }

  private updatePolling(): void {
    if (this.watchers.size > 0 && !this.poll) {
      this.poll = setInterval(() => {
        for (const [study, last] of this.fingerprints) if (this.fingerprint(study) !== last) this.changed(study);
      }, this.pollMs);
    } else if (this.watchers.size === 0 && this.poll) {
      clearInterval(this.poll);
      this.poll = undefined;
    }
  }
}

function send(ws: WebSocket, message: ServerMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}
