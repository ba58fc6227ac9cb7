/**
 * The success-vs-cost view of prompt studies: the Pareto points from stored candidates and
 * episodes, and the dashboard's plot in headless Chromium for a real prompt study (real store,
 * real MuJoCo episodes, a planner served on 127.0.0.1): drawn with the front, a click selects the
 * candidate, and a study that spends nothing on its policies shows no such plot.
 */
import { rmSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CandidateRecord } from '../src/store/schema.ts';
import { costPoints } from '../src/viewer/pareto.ts';
import { candidateRow, episodeCost } from '../src/viewer/views.ts';
import { startViewer, type ViewerServer } from '../src/viewer/server.ts';
import { launchChromium, type TestBrowser } from './browser.ts';
import { makeDemoStudy } from './fixtures/demo-study.ts';
import { defaultPolicy } from '../src/policy/file.ts';
import { EpisodeRunner } from '../src/evaluation/episode.ts';
import { SimLink } from '../src/robot/sim-link.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { drawEpisode } from '../src/tasks/sort-instructed/draw.ts';
import type { SortInstructedSpec } from '../src/tasks/sort-instructed/schema.ts';
import { Poser } from '../src/viewer/poser.ts';
import { SORT_SCENARIO, runPromptStudy, sortScenario, type PromptStudy } from './fixtures/prompt-study.ts';

describe('cost points', () => {
  const candidate = (id: number, status: string) => ({ id, status });
  // Stored metrics as a prompt policy reports them (snake_case), read by the viewer's one conversion.
  const episode = (candidateId: number, success: boolean, usd: number | undefined, split = 'train') =>
    episodeCost({ candidateId, split, success, metrics: usd === undefined ? {} : { planner_usd: usd, cost_usd: 0 } });

  it('gives each priced candidate its success rate and dollars per episode, and marks the front', () => {
    const points = costPoints(
      [candidate(1, 'keep'), candidate(2, 'discard'), candidate(3, 'keep'), candidate(4, 'discard'), candidate(5, 'invalid')],
      [
        episode(1, false, 0.001), episode(1, false, 0.001),
        episode(2, true, 0.004), episode(2, false, 0.002),
        episode(3, true, 0.002), episode(3, true, 0.002), episode(3, true, 0.9, 'validation'),
        episode(4, true, 0.005), episode(4, true, 0.005),
      ],
    );
    expect(points.map((p) => [p.candidate, p.successRate, p.costPerEpisode, p.front])).toEqual([
      [1, 0, 0.001, true],
      [2, 0.5, 0.003, false],
      [3, 1, 0.002, true],
      [4, 1, 0.005, false],
    ]);
  });

  it('is empty for a study whose policies spend nothing', () => {
    expect(costPoints([candidate(1, 'keep')], [episode(1, true, undefined)])).toEqual([]);
  });
});

describe("the page's one spelling", () => {
  const base = {
    id: 7, studyId: 's', parentId: null, generation: 1, rationale: 'why', description: 'what', status: 'keep', scoreMean: 0.5, scoreStd: 0.1,
    successRate: 1, nEpisodes: 2, nCrashes: 0, createdAt: '', decidedAt: null, note: null, costUsd: 0,
  } satisfies Omit<CandidateRecord, 'kind' | 'body'>;

  it('renames the snake_case a candidate holds as written (a prompt config) to camelCase in one place', () => {
    const config = { model: 'claude-haiku-4-5', temperature: 0.2, max_tokens: 300, system: 'plan', examples: [{ request: 'a', reply: 'b' }], scene: { format: 'prose', facts: ['colour'], units: 'cm' }, replan: true };
    const prompt = candidateRow({ ...base, kind: 'prompt', body: { kind: 'prompt', config } });
    expect(prompt.prompt).toEqual({ model: 'claude-haiku-4-5', temperature: 0.2, maxTokens: 300, examples: 1, systemChars: 4, sceneFormat: 'prose', sceneFacts: ['colour'], sceneUnits: 'cm', replan: true });
    expect(prompt).toMatchObject({ id: 7, kind: 'prompt', status: 'keep', scoreMean: 0.5, params: {} });
    expect(prompt).not.toHaveProperty('body');
    const params = candidateRow({ ...base, kind: 'params', body: { kind: 'params', params: { grasp_depth: 0.02 } } });
    expect(params).toMatchObject({ params: { grasp_depth: 0.02 }, prompt: null });
    // The table shows each success rate with its Wilson 95% interval over the candidate's episodes.
    expect(params.successInterval?.high).toBe(1);
    expect(params.successInterval?.low).toBeCloseTo(0.3424, 4);
    expect(candidateRow({ ...base, successRate: null, nEpisodes: null, kind: 'params', body: {} }).successInterval).toBeNull();
    // A config stored as proposed, with a field of the wrong type: that field shows as unknown, nothing throws.
    expect(candidateRow({ ...base, kind: 'prompt', body: { kind: 'prompt', config: { model: 7, system: 'x' } } }).prompt).toMatchObject({ model: null, maxTokens: null, systemChars: 1, examples: 0 });
  });

  it("prices an episode from its metrics: the planner's list price, else what was spent", () => {
    expect(episodeCost({ candidateId: 1, split: 'train', success: true, metrics: { planner_usd: 0.002, cost_usd: 0 } }).dollars).toBe(0.002);
    expect(episodeCost({ candidateId: 1, split: 'train', success: true, metrics: { cost_usd: 0.003 } }).dollars).toBe(0.003);
    expect(episodeCost({ candidateId: 1, split: 'train', success: true, metrics: { planner_usd: 'free' } }).dollars).toBeUndefined();
  });
});

describe('replay of a task that places its zones per seed', () => {
  it('draws each episode\'s zones where its seed put them, and moves nothing for pick-and-place', async () => {
    const sort = await loadScenario(SORT_SCENARIO);
    const spec = sort.task as SortInstructedSpec;
    const link = await SimLink.create(sort);
    const poser = await Poser.ofScenario(sort, 'sort');
    try {
      for (const seed of [3, 4]) {
        await link.reset(seed);
        await link.act({ position: link.observe().position, gripperWidth: 0.09 });
        const { geomPositions } = poser.episode(link.trace()).header;
        const draw = drawEpisode(spec, seed);
        expect(Object.keys(geomPositions).length).toBe(draw.zones.length);
        for (const zone of draw.zones) expect(geomPositions[link.world.id('geom', spec.zones[zone.name].geom!)]).toEqual([zone.x, zone.y, 0.0005]);
      }
    } finally {
      poser.dispose();
      await link.close();
    }
    const pickPlace = await loadScenario('scenarios/pick-place.yaml');
    const runner = await EpisodeRunner.create(pickPlace);
    const still = await Poser.ofScenario(pickPlace, 'pp');
    try {
      const run = await runner.run(defaultPolicy(pickPlace), 3);
      expect(still.episode(run.trace).header.geomPositions).toEqual({});
    } finally {
      still.dispose();
      await runner.close();
    }
  });
});

describe('the dashboard of a prompt study', () => {
  let study: PromptStudy;
  let viewer: ViewerServer;
  let browser: TestBrowser;
  let page: Page;
  let dir: string;

  beforeAll(async () => {
    const systems = (await loadScenario(SORT_SCENARIO)).policy.prompt!.choices.system!;
    const made = sortScenario({ seeds: 6, validation: 4, candidates: 5, patience: 2, batch: 4, choices: { system: [systems[0], systems[2]], model: ['claude-haiku-4-5', 'claude-sonnet-4-6'] } });
    dir = made.dir;
    study = await runPromptStudy(made.dir, made.file);
    viewer = await startViewer({ port: 0, dbPath: study.dbPath, watchRelays: false });
    browser = await launchChromium({ width: 1280, height: 800 });
    page = await browser.context.newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await viewer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plots success against dollars per episode with the Pareto front, and a click selects the candidate', async () => {
    await page.goto(`${viewer.url}#study=${study.studyId}`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 20_000 });
    const plot = page.locator('#pareto-plot');
    await expect.poll(() => plot.isVisible()).toBe(true);
    expect(await plot.locator('.u-title').textContent()).toBe('success vs planner cost per episode (Pareto front)');
    expect(await plot.locator('.u-legend .u-series').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('kept'), expect.stringContaining('Pareto front')]));
    const view = (await (await fetch(new URL(`/api/studies/${study.studyId}`, viewer.url))).json()) as { candidates: { id: number }[]; costs: { candidate: number; costPerEpisode: number; front: boolean }[] };
    expect(view.costs.map((c) => c.candidate).sort()).toEqual(view.candidates.map((c) => c.id).sort());
    const byCost = [...view.costs].sort((a, b) => a.costPerEpisode - b.costPerEpisode || a.candidate - b.candidate);
    expect(await plot.getAttribute('data-candidates')).toBe(byCost.map((c) => c.candidate).join(' '));
    expect(await plot.getAttribute('data-front')).toBe(byCost.filter((c) => c.front).map((c) => c.candidate).join(' '));
    // Another candidate selected first; the cheapest point is at the plot's left edge.
    expect(byCost.length).toBeGreaterThan(1);
    await page.locator(`#candidates tr[data-candidate="${byCost.at(-1)!.candidate}"]`).click();
    await expect.poll(() => page.locator('#candidates tr.selected').getAttribute('data-candidate')).toBe(String(byCost.at(-1)!.candidate));
    const over = (await plot.locator('.u-over').boundingBox())!;
    await page.mouse.move(over.x + 2, over.y + over.height / 2);
    await page.mouse.click(over.x + 2, over.y + over.height / 2);
    await expect.poll(() => page.locator('#candidates tr.selected').getAttribute('data-candidate')).toBe(String(byCost[0].candidate));
  });

  it('shows no such plot for a study that spends nothing on its policies', async () => {
    const demo = await makeDemoStudy(dir, [1]);
    const other = await startViewer({ port: 0, dbPath: demo.dbPath, watchRelays: false });
    try {
      await page.goto(`${other.url}#study=${demo.studyId}`);
      await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 20_000 });
      await expect.poll(() => page.locator('#candidates tbody tr').count()).toBe(4);
      expect(await page.locator('#pareto-plot').isHidden()).toBe(true);
    } finally {
      await other.close();
    }
  });
});
