/**
 * CMA-ES as a researcher: it starts from the scenario defaults with a step of 30% of each range,
 * and maximizes the mean episode score (it minimizes its negative).
 */
import { Cmaes, type CmaesOptions, type CmaesState } from './cmaes.ts';
import { toParams, type Proposal, type Researcher, type Space, type Told } from './researcher.ts';

export class CmaesResearcher implements Researcher {
  readonly name = 'cmaes';
  private cmaes: Cmaes;
  private readonly options: CmaesOptions;

  constructor(
    private readonly space: Space,
    seed: number,
    state?: unknown,
    popsize?: number,
  ) {
    this.options = { dim: space.names.length, lower: space.lower, upper: space.upper, x0: space.defaults, sigma0: 0.3, seed, popsize };
    this.cmaes = state ? Cmaes.fromState(this.options, state as CmaesState) : new Cmaes(this.options);
  }

  /** Proposals per generation (λ). */
  get popsize(): number {
    return this.cmaes.popsize;
  }

  ask(): Proposal[] {
    // Ask a restored copy so that asking twice before `tell` (a resume) gives the same points.
    const points = Cmaes.fromState(this.options, this.cmaes.state()).ask();
    const g = this.cmaes.generation;
    const rationale = `CMA-ES generation ${g}${this.cmaes.restarts ? ` (restart ${this.cmaes.restarts})` : ''}: sample of N(mean, σ²C), σ = ${this.cmaes.sigma.toFixed(3)} of the range`;
    return points.map((x) => ({ params: toParams(this.space, x), rationale }));
  }

  tell(results: Told[]): void {
    const points = this.cmaes.ask();
    this.cmaes.tell(points, results.map((r) => -r.score));
  }

  state(): unknown {
    return this.cmaes.state();
  }
}
