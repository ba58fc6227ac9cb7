/**
 * Stored episodes into one MCAP file: each episode's trace artifact and record through the
 * store-free writer of src/trace/mcap.ts. `arbor export --format mcap` and the viewer's download
 * both come through here.
 */
import type { IWritable } from '@mcap/core';
import { EpisodeMcapWriter, type McapEpisodeInfo, type McapWriteStats } from '../trace/mcap.ts';
import type { EpisodeRecord } from './schema.ts';
import type { Store } from './store.ts';

/** What the file says about a stored episode besides its trace. */
export function mcapEpisodeInfo(e: EpisodeRecord): McapEpisodeInfo {
  return {
    id: e.id,
    study: e.studyId,
    candidate: e.candidateId,
    split: e.split,
    seed: e.seed,
    status: e.status,
    success: e.success,
    score: e.score,
    outcome: e.outcome,
    terms: e.terms,
    metrics: e.metrics,
    crashReason: e.crashReason,
  };
}

/**
 * Writes `episodes` (each recorded with a trace) in the order given into one MCAP file on `sink`;
 * `onEpisode` hears after each one (for progress).
 */
export async function writeEpisodesMcap(
  store: Store,
  episodes: readonly EpisodeRecord[],
  sink: IWritable,
  onEpisode?: (done: number, bytes: number) => void,
): Promise<McapWriteStats> {
  const writer = await EpisodeMcapWriter.start(sink);
  for (const [i, episode] of episodes.entries()) {
    await writer.addEpisode(store.loadEpisodeTrace(episode), mcapEpisodeInfo(episode));
    onEpisode?.(i + 1, Number(sink.position()));
  }
  return writer.finish();
}
