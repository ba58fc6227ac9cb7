/**
 * The hillclimb researcher on the shipped prompt space: the neighbours of the best (one choice
 * changed; numbers to the next value only), never a config the study has seen, the same proposals
 * when asked again before being told (a resume), nothing once the neighbourhood is spent, and a
 * clear refusal of a parameter scenario. Every proposal passes the study's own check.
 */
import { describe, expect, it } from 'vitest';
import { PromptPolicyFile, baselinePolicy } from '../src/policy/file.ts';
import { HillclimbResearcher } from '../src/researchers/hillclimb.ts';
import type { CandidateView, Proposal, StudyHistory } from '../src/researchers/researcher.ts';
import { createResearcher } from '../src/researchers/registry.ts';
import { checkProposal } from '../src/study/proposals.ts';
import { defaultStudyConfig } from '../src/study/config.ts';
import { loadScenario } from '../src/scenario/load.ts';
import { scenario as pickPlace } from './helpers.ts';

const sc = await loadScenario('scenarios/sort-instructed.yaml');
const baseline = baselinePolicy(sc);

/** A history whose candidates are `policies` (the first the best). */
function history(policies: unknown[]): StudyHistory {
  const candidates = policies.map((policy, i) => ({ id: i + 1, generation: i ? 1 : 0, kind: 'prompt', policy, rationale: '', description: '', status: 'discard', score: 0, successRate: 0, note: null }) as CandidateView);
  const unused = () => {
    throw new Error('not used');
  };
  return { scenario: sc, generation: 1, candidates, best: candidates[0], last: [], budget: { candidates: 99, episodes: 9999, seconds: 999, dollars: Infinity }, tools: { episodes: unused, probe: unused, check: unused, checkpoint: unused } };
}

const asPolicy = (p: Proposal) => ({ kind: p.kind, ...p.body });

describe('hillclimb', () => {
  it('proposes the neighbours of the best, one choice changed, valid, in a seeded order', async () => {
    const researcher = new HillclimbResearcher(sc, 64, 7);
    const proposals = await researcher.ask(history([baseline]));
    const base = PromptPolicyFile.parse(baseline).config;
    const changes = proposals.map((p) => {
      expect(checkProposal(p, sc, ['prompt'])).toMatchObject({ ok: true });
      const config = PromptPolicyFile.parse(asPolicy(p)).config;
      const changed = (Object.keys(base) as (keyof typeof base)[]).filter((k) => JSON.stringify(config[k]) !== JSON.stringify(base[k]));
      expect(changed).toHaveLength(1);
      return p.rationale;
    });
    // Every alternative of every choice once; numbers only to their next value.
    expect(changes).toHaveLength(2 + 1 + 1 + 3 + 1 + 1 + 1 + 1 + 1);
    expect(changes).toContain('from #1: temperature 0 → 0.5');
    expect(changes).toContain('from #1: max_tokens 512 → 160');
    expect(changes.some((c) => /temperature 0 → 1$|max_tokens 512 → 64$/.test(c))).toBe(false);
    expect(changes).toContain('from #1: scene_facts [colour] → [colour, size, position, distance]');
    expect(changes).toContain('from #1: system alternative 1 of 3 → alternative 3 of 3');
    // Asked again before being told (a resumed study), it proposes the same, in the same order.
    expect(await new HillclimbResearcher(sc, 64, 7, researcher.state()).ask(history([baseline]))).toEqual(proposals);
    expect((await new HillclimbResearcher(sc, 64, 8).ask(history([baseline]))).map((p) => p.rationale)).not.toEqual(changes);
  });

  it('never proposes a config the study has seen, and is done when none is left', async () => {
    const researcher = new HillclimbResearcher(sc, 4, 1);
    const seen: unknown[] = [baseline];
    for (let generation = 0; generation < 10; generation++) {
      const proposals = await researcher.ask(history(seen));
      if (proposals.length === 0) break;
      const keys = new Set(seen.map((p) => JSON.stringify(PromptPolicyFile.parse(p).config)));
      for (const p of proposals) expect(keys.has(JSON.stringify(PromptPolicyFile.parse(asPolicy(p)).config))).toBe(false);
      seen.push(...proposals.map(asPolicy));
      researcher.tell([]);
    }
    expect(seen).toHaveLength(1 + 12);
    expect(await researcher.ask(history(seen))).toEqual([]);
  });

  it('refuses a scenario without a prompt space, and parameter researchers refuse a prompt scenario', async () => {
    const params = await pickPlace();
    expect(() => new HillclimbResearcher(params, 4, 1)).toThrow(/The hillclimb researcher searches prompt configs, but scenario .*pick-place\.yaml has no prompt space .*use cmaes or random for parameters/);
    const config = defaultStudyConfig(sc);
    await expect(createResearcher('cmaes', { space: { names: [], lower: [], upper: [], defaults: [] }, config, scenario: sc, state: null })).rejects.toThrow(
      /The cmaes researcher proposes controller parameters, but scenario .*sort-instructed\.yaml searches prompt configs \(policy\.kind prompt\); use --researcher hillclimb or claude\./,
    );
  });
});
