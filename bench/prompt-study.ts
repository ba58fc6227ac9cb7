/**
 * The README's prompt-config study, offline: scenarios/sort-instructed.yaml (24 seeds per
 * candidate, 32 validation seeds, patience 4) searched by hillclimb on 2 workers, the planner
 * served on 127.0.0.1 by the model stand-in of the tests (test/fixtures/planner-model.ts). Prints
 * what the study found and what planning cost (tokens, dollars, latency, cache hits) as a
 * `key: value` block; with a path, also saves a screenshot of its dashboard there:
 * `npx tsx bench/prompt-study.ts [docs/prompt-study.png]`.
 */
import { resolve } from 'node:path';
import { PromptPolicyFile } from '../src/policy/file.ts';
import { Store } from '../src/store/store.ts';
import type { EpisodeRecord } from '../src/store/schema.ts';
import { runPromptStudy, sortScenario } from '../test/fixtures/prompt-study.ts';
import { screenshotEpisode } from './screenshot.ts';

const out = process.argv[2] ? resolve(process.argv[2]) : undefined;
const { dir, file } = sortScenario({ seeds: 24, validation: 32, candidates: 40, patience: 4, batch: 4 });
const started = performance.now();
const study = await runPromptStudy(dir, file, { workers: 2, seed: 1 });
const seconds = (performance.now() - started) / 1000;

const store = Store.open(study.dbPath, { readonly: true });
const candidates = store.candidates(study.studyId);
const episodes = store.episodes({ studyId: study.studyId });
const best = candidates.find((c) => c.id === study.summary.best.candidate)!;
const perEpisode = (list: EpisodeRecord[], key: string) => list.reduce((sum, e) => sum + Number(e.metrics[key] ?? 0), 0) / Math.max(1, list.length);
const of = (id: number) => episodes.filter((e) => e.candidateId === id);
const calls = episodes.reduce((n, e) => n + Number(e.metrics.llm_calls ?? 0), 0);
const cached = episodes.reduce((n, e) => n + Number(e.metrics.cached_calls ?? 0), 0);
const config = PromptPolicyFile.parse(best.body).config;
const rows: [string, string | number][] = [
  ['study', study.studyId],
  ['stop_reason', study.summary.stop_reason ?? '-'],
  ['candidates', candidates.length],
  ['kept', candidates.filter((c) => c.status === 'keep').map((c) => c.id).join(' ')],
  ['episodes', episodes.length],
  ['wall_s', seconds.toFixed(1)],
  ['baseline_validation_success', study.summary.baseline?.success_rate ?? '-'],
  ['best', `${best.id}: ${best.description}`],
  ['best_validation_success', study.summary.validation?.success_rate ?? '-'],
  ['best_config', `${config.model}, temperature ${config.temperature}, scene ${config.scene.format} [${config.scene.facts.join(', ')}] in ${config.scene.units}, ${config.examples.length} examples, replan ${config.replan}`],
  ['baseline_usd_per_episode', perEpisode(of(candidates[0].id), 'planner_usd').toFixed(6)],
  ['best_usd_per_episode', perEpisode(of(best.id), 'planner_usd').toFixed(6)],
  ['best_input_tokens_per_episode', perEpisode(of(best.id), 'input_tokens').toFixed(0)],
  ['best_output_tokens_per_episode', perEpisode(of(best.id), 'output_tokens').toFixed(1)],
  ['best_context_tokens', Math.max(...of(best.id).map((e) => Number(e.metrics.context_tokens ?? 0)))],
  ['best_planner_s_per_episode', perEpisode(of(best.id), 'planner_s').toFixed(4)],
  ['model_calls', calls],
  ['cached_calls', cached],
  ['cache_hit_rate', (cached / Math.max(1, calls + cached)).toFixed(3)],
  ['study_usd', study.summary.cost_usd.toFixed(4)],
  ['usd_without_cache', episodes.reduce((sum, e) => sum + Number(e.metrics.planner_usd ?? 0), 0).toFixed(4)],
];
store.close();
for (const [k, v] of rows) console.log(`${k}: ${v}`);

if (out) {
  // An episode of the best sorting all three cubes, at its end.
  const sorted = of(best.id).find((e) => e.metrics.goal === 'sort_by_colour' && e.success) ?? of(best.id)[0];
  await screenshotEpisode({ dbPath: study.dbPath, studyId: study.studyId, episodeId: sorted.id, at: 1e9, settleMs: 800, out });
  console.log(`screenshot: ${out}`);
}
