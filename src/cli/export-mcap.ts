/** `arbor export STUDY --format mcap`: a study's episodes (or a candidate's, or one) as one MCAP file. */
import { createWriteStream, openSync, renameSync, rmSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { writeEpisodesMcap } from '../store/mcap-export.ts';
import type { EpisodeRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { StreamSink, type McapWriteStats } from '../trace/mcap.ts';
import { progress } from './progress.ts';

/** The options of `arbor export` that choose and place the MCAP file. */
export interface McapExportFlags {
  /** Database path, for messages. */
  db: string;
  /** File to write; stdout when undefined. */
  out?: string;
  /** Only this candidate's episodes. */
  candidate?: number;
  /** Only this episode. */
  episode?: number;
}

/** Writes the chosen episodes of a study as one MCAP file to `--out` or stdout, progress on stderr. */
export async function exportMcap(store: Store, studyId: string, flags: McapExportFlags): Promise<void> {
  if (flags.out === undefined && process.stdout.isTTY) {
    throw new Error('--format mcap writes a binary file, and stdout is a terminal. Redirect it (arbor export STUDY --format mcap > episodes.mcap) or pass --out episodes.mcap.');
  }
  const chosen = chooseEpisodes(store, studyId, flags);
  const episodes = chosen.filter((e) => e.tracePath !== null);
  const untraced = chosen.filter((e) => e.tracePath === null);
  if (episodes.length === 0) {
    throw new Error(`${scope(studyId, flags)} has no episode with a trace to export${untraced.length ? ` (its ${untraced.length} episodes crashed before recording one)` : ''}.`);
  }
  if (untraced.length) {
    process.stderr.write(`skipping ${untraced.length} episode(s) recorded without a trace (they crashed before recording one): ${untraced.map((e) => e.id).join(', ')}\n`);
  }
  const bar = episodes.length > 1 ? progress('mcap', episodes.length) : undefined;
  const onEpisode = (done: number, bytes: number) => bar?.update(done, { written: `${(bytes / 1e6).toFixed(1)} MB` });
  let stats: McapWriteStats;
  try {
    stats = flags.out === undefined
      ? await writeEpisodesMcap(store, episodes, new StreamSink(process.stdout), onEpisode)
      : await writeFileAtomically(flags.out, (sink) => writeEpisodesMcap(store, episodes, sink, onEpisode));
  } finally {
    bar?.stop();
  }
  process.stderr.write(`wrote ${stats.episodes} episode(s), ${stats.messages} messages, ${(stats.bytes / 1e6).toFixed(2)} MB to ${flags.out ?? 'stdout'}\n`);
}

/** The episodes `--candidate` and `--episode` choose (every episode of the study without them). */
function chooseEpisodes(store: Store, studyId: string, flags: McapExportFlags): EpisodeRecord[] {
  if (flags.episode !== undefined) {
    const e = store.episode(flags.episode);
    if (!e) throw new Error(`--episode ${flags.episode}: there is no episode ${flags.episode} in ${flags.db}. The viewer and 'arbor show ${studyId}' name the episodes of the study.`);
    if (e.studyId !== studyId) {
      throw new Error(`--episode ${flags.episode} is an episode of study '${e.studyId}', not of '${studyId}'. Export it with: arbor export ${e.studyId} --format mcap --episode ${e.id}`);
    }
    if (flags.candidate !== undefined && e.candidateId !== flags.candidate) {
      throw new Error(`--episode ${flags.episode} is an episode of candidate ${e.candidateId}, not of --candidate ${flags.candidate}; give one of the two.`);
    }
    if (e.tracePath === null) {
      throw new Error(`--episode ${e.id} (candidate ${e.candidateId}, ${e.split} seed ${e.seed}) was recorded without a trace (${e.crashReason ?? e.outcome}), so there is nothing to export.`);
    }
    return [e];
  }
  if (flags.candidate !== undefined) {
    const c = store.candidate(flags.candidate);
    if (!c || c.studyId !== studyId) {
      const ids = store.candidates(studyId).map((k) => k.id);
      const known = ids.length ? ` Its candidates are ${ids.length > 12 ? `${ids.slice(0, 12).join(', ')}, ...` : ids.join(', ')} (arbor show ${studyId}).` : '';
      throw new Error(`--candidate ${flags.candidate} is not a candidate of study '${studyId}'${c ? ` (it belongs to study '${c.studyId}')` : ''}.${known}`);
    }
    return store.episodes({ candidateId: c.id });
  }
  return store.episodes({ studyId });
}

function scope(studyId: string, flags: McapExportFlags): string {
  return flags.candidate !== undefined ? `Candidate ${flags.candidate} of study '${studyId}'` : `Study '${studyId}'`;
}

/** Writes a file through a temp file and a rename, so a failed export leaves no half file. */
export async function writeFileAtomically<T>(path: string, write: (sink: StreamSink) => Promise<T>): Promise<T> {
  const tmp = `${path}.tmp-${process.pid}`;
  let fd: number;
  try {
    fd = openSync(tmp, 'w');
  } catch (err) {
    throw new Error(`--out ${path} cannot be written: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}. Check that its directory exists and that you may write there.`);
  }
  const stream = createWriteStream('', { fd });
  try {
    const result = await write(new StreamSink(stream));
    stream.end();
    await finished(stream);
    renameSync(tmp, path);
    return result;
  } catch (err) {
    stream.destroy();
    rmSync(tmp, { force: true });
    throw err;
  }
}
