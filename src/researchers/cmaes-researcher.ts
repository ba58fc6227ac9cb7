/**
 * CMA-ES as a researcher: it starts from the scenario defaults with a step of `sigma0` of each
 * range, and maximizes the mean episode score (it minimizes its negative).
 */
import { Cmaes, type CmaesOptions, type CmaesState } from './cmaes.ts';
import { paramsProposal, type Outcome, type Proposal, type Researcher, type Space } from './researcher.ts';

/** How CMA-ES starts. */
export interface CmaesStart {
  /** Initial step as a fraction of each parameter's range. */
  sigma0: number;
  /** Population (proposals per generation); absent: CMA-ES's default 4 + ⌊3 ln n⌋. */
  popsize?: number;
}

export class CmaesResearcher implements Researcher {
  readonly name = 'cmaes';
  private cmaes: Cmaes;
  private readonly options: CmaesOptions;

  constructor(
    private readonly space: Space,
    seed: number,
    state?: unknown,
    start: CmaesStart = { sigma0: 0.3 },
  ) {
    this.options = { dim: space.names.length, lower: space.lower, upper: space.upper, x0: space.defaults, sigma0: start.sigma0, seed, popsize: start.popsize };
    this.cmaes = state ? Cmaes.fromState(this.options, state as CmaesState) : new Cmaes(this.options);
  }

  /** Proposals per generation (λ). */
  get batchSize(): number {
    return this.cmaes.popsize;
  }

  async ask(): Promise<Proposal[]> {
    // Ask a restored copy so that asking twice before `tell` (a resume) gives the same points.
    const points = Cmaes.fromState(this.options, this.cmaes.state()).ask();
    const g = this.cmaes.generation;
    const rationale = `CMA-ES generation ${g}${this.cmaes.restarts ? ` (restart ${this.cmaes.restarts})` : ''}: sample of N(mean, σ²C), σ = ${this.cmaes.sigma.toFixed(3)} of the range`;
    return points.map((x) => paramsProposal(this.space, x, rationale));
  }

  tell(outcomes: Outcome[]): void {
    const points = this.cmaes.ask();
    this.cmaes.tell(points, outcomes.map((o) => -o.score));
  }

  state(): unknown {
    return this.cmaes.state();
  }
}
