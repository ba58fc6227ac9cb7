/**
 * The researchers by name: the one place a name becomes a researcher. The names themselves are
 * the scenario schema's (`RESEARCHER_NAMES`), so a scenario, `--researcher` and this table always
 * agree (TypeScript checks every name has an entry).
 */
import type { LoadedScenario } from '../scenario/load.ts';
import type { ResearcherName } from '../scenario/schema.ts';
import { llmSettings } from '../llm/settings.ts';
import { CmaesResearcher } from './cmaes-researcher.ts';
import { HillclimbResearcher } from './hillclimb.ts';
import { RandomResearcher } from './random.ts';
import type { Researcher, ResearcherSettings, Space } from './researcher.ts';

/** What a researcher is made from. */
export interface ResearcherContext {
  /** The parameter space. */
  space: Space;
  /** Its settings (seed, batch, model, kinds...). */
  config: ResearcherSettings;
  /** The scenario. */
  scenario: LoadedScenario;
  /** Saved state to continue from; null or undefined for a new study. */
  state: unknown;
}

/** Proposals per generation of random search when the study does not say. */
const RANDOM_BATCH = 8;
/** Neighbours per generation of hill climbing when the study does not say. */
const HILLCLIMB_BATCH = 4;

const RESEARCHERS: Record<ResearcherName, (context: ResearcherContext) => Researcher | Promise<Researcher>> = {
  cmaes: ({ space, config, state }) => new CmaesResearcher(space, config.seed, state ?? undefined, { sigma0: config.sigma0, popsize: config.batch }),
  random: ({ space, config, state }) => new RandomResearcher(space, config.batch ?? RANDOM_BATCH, config.seed, state ?? undefined),
  // Loaded when used: the SDK takes about a second to import, which no other command should pay.
  claude: async ({ scenario, config, state }) => (await import('./claude.ts')).createClaudeResearcher(scenario, config, state),
  hillclimb: ({ scenario, config, state }) => new HillclimbResearcher(scenario, config.batch ?? HILLCLIMB_BATCH, config.seed, state ?? undefined),
};

/** Researchers that propose numbers for a controller, which a prompt scenario does not search. */
const PARAMETER_RESEARCHERS: ReadonlySet<ResearcherName> = new Set(['cmaes', 'random']);

/**
 * Checks that the researcher a study names can run here before the study is made: an LLM
 * researcher needs its API key and a priced model. Returns the config with the model filled in.
 */
export function prepareResearcher<Config extends { researcher: ResearcherName; model?: string }>(config: Config, env: NodeJS.ProcessEnv = process.env): Config {
  if (config.researcher !== 'claude') return config;
  const settings = llmSettings({ model: config.model, who: `--researcher claude`, env });
  return { ...config, model: settings.model };
}

/** Makes the researcher a study names. */
export async function createResearcher(name: ResearcherName, context: ResearcherContext): Promise<Researcher> {
  const { scenario } = context;
  if (PARAMETER_RESEARCHERS.has(name) && scenario.policy.kind === 'prompt') {
    throw new Error(`The ${name} researcher proposes controller parameters, but scenario ${scenario.file} searches prompt configs (policy.kind prompt); use --researcher hillclimb or claude.`);
  }
  return RESEARCHERS[name](context);
}
