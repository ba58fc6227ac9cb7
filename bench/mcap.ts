/**
 * MCAP write speed: `npx tsx bench/mcap.ts [--seconds 3]`.
 *
 * A real study (the viewer's demo study: real MuJoCo episodes in a real store) exported as one
 * MCAP file, the way `arbor export --format mcap` writes it:
 * 1. the writer alone: the traces already in memory, the bytes counted and dropped (encoding CDR,
 *    chunking, indexing), repeated for `--seconds`;
 * 2. end to end: every trace read from the store and the file written to disk.
 *
 * Ends with a grep-able `key: value` block.
 */
import { createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import type { IWritable } from '@mcap/core';
import { mcapEpisodeInfo, writeEpisodesMcap } from '../src/store/mcap-export.ts';
import { Store } from '../src/store/store.ts';
import { EpisodeMcapWriter, StreamSink } from '../src/trace/mcap.ts';
import { makeDemoStudy } from '../test/fixtures/demo-study.ts';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } });
const seconds = Number(args.seconds);
const log = (s: string) => process.stderr.write(`${s}\n`);

/** Counts what it is given and keeps nothing: the writer's own cost. */
class CountingSink implements IWritable {
  private size = 0;
  position(): bigint {
    return BigInt(this.size);
  }
  async write(buffer: Uint8Array): Promise<void> {
    this.size += buffer.byteLength;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-mcap-'));
log(`making a demo study in ${dir} ...`);
const demo = await makeDemoStudy(dir, [1, 2, 3]);
const store = Store.open(demo.dbPath, { readonly: true });
const episodes = store.episodes({ studyId: demo.studyId }).filter((e) => e.tracePath !== null);
const traces = episodes.map((e) => ({ trace: store.loadEpisodeTrace(e), info: mcapEpisodeInfo(e) }));
const rows = traces.reduce((n, { trace }) => n + [...trace.topics.values()].reduce((m, t) => m + t.stamps.length, 0), 0);

// ----- 1. the writer alone ---------------------------------------------------------------------
let files = 0;
let messages = 0;
let bytes = 0;
const started = performance.now();
while (performance.now() - started < seconds * 1000 || files < 3) {
  const writer = await EpisodeMcapWriter.start(new CountingSink());
  for (const { trace, info } of traces) await writer.addEpisode(trace, info);
  const stats = await writer.finish();
  files++;
  messages += stats.messages;
  bytes += stats.bytes;
}
const writerSeconds = (performance.now() - started) / 1000;

// ----- 2. end to end: store to file ------------------------------------------------------------
const file = join(dir, 'study.mcap');
const t = performance.now();
const stream = createWriteStream(file);
const stats = await writeEpisodesMcap(store, episodes, new StreamSink(stream));
stream.end();
await finished(stream);
const endToEndSeconds = (performance.now() - t) / 1000;
store.close();

const results = {
  mcap_episodes: episodes.length,
  mcap_trace_rows: rows,
  mcap_messages_per_file: stats.messages,
  mcap_bytes_per_file: statSync(file).size,
  mcap_write_messages_per_s: Math.round(messages / writerSeconds),
  mcap_write_mb_per_s: (bytes / 1e6 / writerSeconds).toFixed(1),
  mcap_write_episodes_per_s: Math.round((files * episodes.length) / writerSeconds),
  mcap_export_end_to_end_ms: Math.round(endToEndSeconds * 1000),
  mcap_export_end_to_end_messages_per_s: Math.round(stats.messages / endToEndSeconds),
};
rmSync(dir, { recursive: true, force: true });
console.log('');
for (const [key, value] of Object.entries(results)) console.log(`${key}: ${value}`);
