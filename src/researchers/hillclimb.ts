/**
 * Hill climbing over a prompt space: the offline researcher of prompt configs. The scenario
 * declares the choices (`policy.prompt.choices`: alternatives per field, numbers as grids); each
 * generation proposes neighbours of the current best, each differing in one choice (a number: the
 * next value up or down; anything else: any other alternative), in a seeded random order, never a
 * config the study has already seen. The study keeps a neighbour only when it beats the best by
 * more than the noise, and the climb goes on from there; when no neighbour is left, it is done.
 */
import { PromptPolicyFile } from '../policy/file.ts';
import type { LoadedScenario } from '../scenario/load.ts';
import type { PromptChoices, PromptConfig } from '../scenario/prompt.ts';
import { Rng } from '../scenario/rng.ts';
import type { Outcome, Proposal, Researcher, StudyHistory } from './researcher.ts';

type Choice = keyof PromptChoices;

/** The config field each choice sets. */
const FIELDS: Record<Choice, (config: PromptConfig) => { get(): unknown; set(value: unknown): PromptConfig }> = {
  model: (c) => field(c, 'model'),
  temperature: (c) => field(c, 'temperature'),
  max_tokens: (c) => field(c, 'max_tokens'),
  system: (c) => field(c, 'system'),
  examples: (c) => field(c, 'examples'),
  replan: (c) => field(c, 'replan'),
  scene_format: (c) => sceneField(c, 'format'),
  scene_facts: (c) => sceneField(c, 'facts'),
  scene_units: (c) => sceneField(c, 'units'),
};
/** Choices whose values are numbers in order: a neighbour is the next value up or down. */
const ORDERED: ReadonlySet<Choice> = new Set(['temperature', 'max_tokens']);

export class HillclimbResearcher implements Researcher {
  readonly name = 'hillclimb';
  private rng: Rng;
  private readonly choices: [Choice, readonly unknown[]][];

  constructor(
    scenario: LoadedScenario,
    /** Proposals per generation. */
    readonly batchSize: number,
    seed: number,
    state?: unknown,
  ) {
    const space = scenario.policy.prompt;
    if (scenario.policy.kind !== 'prompt' || !space) {
      throw new Error(`The hillclimb researcher searches prompt configs, but scenario ${scenario.file} has no prompt space (policy.kind prompt with a prompt: block); use cmaes or random for parameters.`);
    }
    this.choices = (Object.entries(space.choices) as [Choice, readonly unknown[] | undefined][]).flatMap(([name, values]) => (values ? [[name, values] as [Choice, readonly unknown[]]] : []));
    if (this.choices.length === 0) throw new Error(`Scenario ${scenario.file} lists no choices under policy.prompt.choices, so hillclimb has nothing to change; list alternatives for a field or two.`);
    const saved = (state as { rng?: number[] } | null | undefined)?.rng;
    this.rng = saved ? Rng.fromState(saved) : new Rng(seed);
  }

  async ask(history: StudyHistory): Promise<Proposal[]> {
    const best = PromptPolicyFile.safeParse(history.best.policy);
    if (!best.success) throw new Error(`The best candidate (${history.best.id}) is not a prompt policy, so hillclimb cannot climb from it.`);
    const seen = new Set(history.candidates.map((c) => key(PromptPolicyFile.safeParse(c.policy).data?.config ?? c.policy)));
    const neighbours: Proposal[] = [];
    for (const [choice, values] of this.choices) {
      const at = FIELDS[choice](best.data.config);
      for (const value of nextTo(choice, values, at.get())) {
        const config = at.set(value);
        if (seen.has(key(config))) continue;
        seen.add(key(config));
        neighbours.push({ kind: 'prompt', body: { config }, rationale: `from #${history.best.id}: ${choice} ${show(at.get(), values)} → ${show(value, values)}` });
      }
    }
    // Shuffle a copy of the stream, so asking again before `tell` (a resume) proposes the same.
    const rng = Rng.fromState(this.rng.state());
    for (let i = neighbours.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [neighbours[i], neighbours[j]] = [neighbours[j], neighbours[i]];
    }
    return neighbours.slice(0, this.batchSize);
  }

  tell(outcomes: Outcome[]): void {
    // Move the stream on, so the next generation's order differs; the outcomes steer through the best.
    for (let i = 0; i < Math.max(1, outcomes.length); i++) this.rng.next();
  }

  state(): unknown {
    return { rng: this.rng.state() };
  }
}

/** The alternatives next to `current`: for numbers in order, the next one down and up; else every other. */
function nextTo(choice: Choice, values: readonly unknown[], current: unknown): unknown[] {
  const others = values.filter((v) => key(v) !== key(current));
  if (!ORDERED.has(choice) || typeof current !== 'number') return others;
  const sorted = (others as number[]).slice().sort((a, b) => a - b);
  const below = sorted.filter((v) => v < current).at(-1);
  const above = sorted.find((v) => v > current);
  return [below, above].filter((v) => v !== undefined);
}

function field<K extends keyof PromptConfig>(config: PromptConfig, name: K) {
  return { get: () => config[name], set: (value: unknown) => ({ ...config, [name]: value }) as PromptConfig };
}

function sceneField<K extends keyof PromptConfig['scene']>(config: PromptConfig, name: K) {
  return { get: () => config.scene[name], set: (value: unknown) => ({ ...config, scene: { ...config.scene, [name]: value } }) as PromptConfig };
}

/** A value's identity: its JSON, with object keys sorted. */
function key(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
}

/** A value in a rationale: numbers, words and lists of words as they read; texts and examples by their place in the choice's list. */
function show(value: unknown, values: readonly unknown[]): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string' && value.length <= 40 && !value.includes('\n')) return value;
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return `[${value.join(', ')}]`;
  const index = values.findIndex((v) => key(v) === key(value));
  return index >= 0 ? `alternative ${index + 1} of ${values.length}` : "the best's own";
}
