/**
 * Saves a screenshot of the viewer (dashboard + replay + plots) of a small real study:
 * `npx tsx bench/viewer-screenshot.ts [docs/viewer.png]`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeDemoStudy } from '../test/fixtures/demo-study.ts';
import { screenshotEpisode } from './screenshot.ts';

const out = resolve(process.argv[2] ?? 'docs/viewer.png');
const dir = mkdtempSync(join(tmpdir(), 'arbor-screenshot-'));
const demo = await makeDemoStudy(dir, [1, 2]);
// Mid-grasp: the cube between the fingers, contact arrows showing.
await screenshotEpisode({ dbPath: demo.dbPath, studyId: demo.studyId, episodeId: demo.episodes[1][0], at: 2.7, settleMs: 600, out });
console.log(`saved ${out}`);
