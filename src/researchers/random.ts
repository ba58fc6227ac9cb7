/** Random search: every candidate drawn uniformly inside the bounds. The yardstick for CMA-ES. */
import { Rng } from '../scenario/rng.ts';
import { paramsProposal, type Outcome, type Proposal, type Researcher, type Space } from './researcher.ts';

export class RandomResearcher implements Researcher {
  readonly name = 'random';
  private rng: Rng;

  constructor(
    private readonly space: Space,
    /** Proposals per generation. */
    readonly batchSize: number,
    seed: number,
    state?: unknown,
  ) {
    this.rng = state ? Rng.fromState((state as { rng: number[] }).rng) : new Rng(seed);
  }

  async ask(): Promise<Proposal[]> {
    // Draw from a copy, so asking again before `tell` (a resume) proposes the same points.
    const rng = Rng.fromState(this.rng.state());
    return Array.from({ length: this.batchSize }, () =>
      paramsProposal(this.space, this.space.lower.map((lo, i) => rng.uniform(lo, this.space.upper[i])), 'uniform random sample of the parameter space'),
    );
  }

  tell(outcomes: Outcome[]): void {
    // Advance past the points just told; scores do not steer random search.
    for (let i = 0; i < outcomes.length * this.space.names.length; i++) this.rng.next();
  }

  state(): unknown {
    return { rng: this.rng.state() };
  }
}
