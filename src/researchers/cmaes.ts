/**
 * CMA-ES (Covariance Matrix Adaptation Evolution Strategy) with box bounds and
 * IPOP restarts, behind an ask-and-tell interface.
 *
 * Strategy parameters and update equations follow N. Hansen, "The CMA Evolution
 * Strategy: A Tutorial" (arXiv:1604.00772), with positive recombination weights
 * only (no active/negative update).
 *
 * Internally the search runs in normalized coordinates z in [0,1]^n, where
 * x = lower + z * (upper - lower). Normalizing makes one `sigma` meaningful for
 * variables with very different ranges and lets restarts draw means uniformly.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { Rng } from '../scenario/rng.ts';

export interface CmaesOptions {
  /** Number of decision variables. */
  dim: number;
  /** Lower bound of every variable in the original space (length `dim`). */
  lower: number[];
  /** Upper bound of every variable in the original space (length `dim`, each > lower). */
  upper: number[];
  /** Initial mean in the original space; defaults to the centre of the box. */
  x0?: number[];
  /** Initial step size as a fraction of each variable's range; default 0.3. */
  sigma0?: number;
  /** Population size of the first run; default 4 + floor(3 ln dim). Doubles on each restart. */
  popsize?: number;
  /** PRNG seed; the same seed and the same told values give the same points. Default: random. */
  seed?: number;
  /** Maximum number of IPOP restarts; default 9. */
  maxRestarts?: number;
  /** Length of the stagnation window in generations; default 10 + ceil(30 dim / popsize), per run. */
  stagnationGenerations?: number;
  /** A run has stagnated when its generation-best values over the window span at most this; default 1e-12. */
  tolFun?: number;
}

/** One evaluated point in the original space with its (minimized) value. */
export interface CmaesSolution {
  /** Point in the original bounded space. */
  x: number[];
  /** Objective value that was told for `x` (lower is better). */
  value: number;
}

/** Distribution and bookkeeping of the current (re)start, all in normalized coordinates. */
export interface CmaesRunState {
  /** Population size (lambda) of this run. */
  lambda: number;
  /** Distribution mean in [0,1]^n. */
  mean: number[];
  /** Global step size in normalized units. */
  sigma: number;
  /** Covariance matrix C (row-major, n x n). */
  covariance: number[][];
  /** Eigenvectors of C as columns (B), as of the last decomposition. */
  eigenvectors: number[][];
  /** Square roots of the eigenvalues of C (diagonal of D), as of the last decomposition. */
  axisLengths: number[];
  /** Evolution path of the covariance matrix (p_c). */
  covariancePath: number[];
  /** Conjugate evolution path of the step size (p_sigma). */
  sigmaPath: number[];
  /** Generations completed in this run. */
  generation: number;
  /** Run generation at which B and D were last recomputed from C. */
  eigenGeneration: number;
  /** Best finite value of each of the latest generations (at most the stagnation window), oldest first. */
  recentBests: number[];
}

/** Complete JSON-serializable optimizer state; see `Cmaes.state()` / `Cmaes.fromState()`. */
export interface CmaesState {
  /** Layout version of this object. */
  version: 1;
  /** PRNG state (see `Rng.state()`). */
  rng: number[];
  /** Generations completed over all runs. */
  generation: number;
  /** Restarts performed so far. */
  restarts: number;
  /** Best solution over all runs, or null before any finite value was told. */
  best: CmaesSolution | null;
  /** True once the last allowed run met a stop criterion. */
  stopped: boolean;
  /** State of the current run. */
  run: CmaesRunState;
}

/** Stop a run when every coordinate's standard deviation falls below this (normalized units). */
const MIN_STD = 1e-8;
/** Stop a run when C is this ill-conditioned: sampling and C^(-1/2) lose precision beyond it. */
const MAX_CONDITION = 1e14;

/** Constants of one run, derived from the dimension and population size (tutorial, Table 1). */
interface StrategyParameters {
  mu: number;
  weights: number[];
  mueff: number;
  cc: number;
  cs: number;
  c1: number;
  cmu: number;
  damps: number;
  chiN: number;
  /** Generations between eigendecompositions; keeps their O(n^3) cost below the O(n^2 lambda) update cost. */
  eigenInterval: number;
  stagnationGenerations: number;
  /** Largest allowed Mahalanobis length of a step, see `repairedStep`. */
  maxStepLength: number;
}

function strategyParameters(n: number, lambda: number, stagnationOverride: number | undefined): StrategyParameters {
  const mu = Math.floor(lambda / 2);
  const rawWeights = Array.from({ length: mu }, (_, i) => Math.log((lambda + 1) / 2) - Math.log(i + 1));
  const weightSum = sum(rawWeights);
  const weights = rawWeights.map((w) => w / weightSum);
  const mueff = 1 / sum(weights.map((w) => w * w));
  const c1 = 2 / ((n + 1.3) ** 2 + mueff);
  const cmu = Math.min(1 - c1, (2 * (mueff - 2 + 1 / mueff)) / ((n + 2) ** 2 + mueff));
  const cs = (mueff + 2) / (n + mueff + 5);
  return {
    mu,
    weights,
    mueff,
    cc: (4 + mueff / n) / (n + 4 + (2 * mueff) / n),
    cs,
    c1,
    cmu,
    damps: 1 + 2 * Math.max(0, Math.sqrt((mueff - 1) / (n + 1)) - 1) + cs,
    chiN: Math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n)),
    eigenInterval: lambda / (c1 + cmu) / n / 10,
    stagnationGenerations: stagnationOverride ?? 10 + Math.ceil((30 * n) / lambda),
    maxStepLength: Math.sqrt(n) + (2 * n) / (n + 2),
  };
}

/**
 * Ask-and-tell CMA-ES that MINIMIZES the told values. To maximize a score,
 * tell its negation.
 *
 * Usage: repeat { const xs = cma.ask(); cma.tell(xs, xs.map(f)); } and read
 * `cma.best`. `state()` / `Cmaes.fromState()` checkpoint and resume a run exactly.
 */
export class Cmaes {
  private readonly n: number;
  private readonly lower: number[];
  private readonly upper: number[];
  private readonly sigma0: number;
  private readonly maxRestarts: number;
  private readonly tolFun: number;
  private readonly stagnationOverride: number | undefined;

  private rng: Rng;
  private params: StrategyParameters;
  private run: CmaesRunState;
  private totalGenerations = 0;
  private restartCount = 0;
  private bestSolution: CmaesSolution | null = null;
  private isStopped = false;

  constructor(options: CmaesOptions) {
    validateOptions(options);
    this.n = options.dim;
    this.lower = [...options.lower];
    this.upper = [...options.upper];
    this.sigma0 = options.sigma0 ?? 0.3;
    this.maxRestarts = options.maxRestarts ?? 9;
    this.tolFun = options.tolFun ?? 1e-12;
    this.stagnationOverride = options.stagnationGenerations;
    this.rng = new Rng(options.seed ?? Math.floor(Math.random() * 2 ** 32));

    const lambda = options.popsize ?? 4 + Math.floor(3 * Math.log(this.n));
    const mean = options.x0 ? this.toNormalized(options.x0) : new Array<number>(this.n).fill(0.5);
    this.params = strategyParameters(this.n, lambda, this.stagnationOverride);
    this.run = this.freshRun(lambda, mean);
  }

  /**
   * Rebuilds an optimizer from `state()` (e.g. after a JSON round-trip); it then
   * continues exactly as the original would. `options` must describe the same
   * problem and settings; the current population size and seed stream come from
   * the state, so `options.popsize` and `options.seed` are ignored.
   */
  static fromState(options: CmaesOptions, state: CmaesState): Cmaes {
    const optimizer = new Cmaes(options);
    const n = optimizer.n;
    const run = state.run;
    if (state.version !== 1) throw new Error(`Unsupported CMA-ES state version ${String(state.version)}`);
    if (run.mean.length !== n || run.covariance.length !== n || run.eigenvectors.length !== n) {
      throw new Error(`CMA-ES state has dimension ${run.mean.length}, options say ${n}`);
    }
    optimizer.rng = Rng.fromState(state.rng);
    optimizer.run = structuredClone(run);
    optimizer.params = strategyParameters(n, run.lambda, optimizer.stagnationOverride);
    optimizer.totalGenerations = state.generation;
    optimizer.restartCount = state.restarts;
    optimizer.bestSolution = state.best && { x: [...state.best.x], value: state.best.value };
    optimizer.isStopped = state.stopped;
    return optimizer;
  }

  /** JSON-serializable snapshot of everything that influences future asks. */
  state(): CmaesState {
    return {
      version: 1,
      rng: this.rng.state(),
      generation: this.totalGenerations,
      restarts: this.restartCount,
      best: this.bestSolution && { x: [...this.bestSolution.x], value: this.bestSolution.value },
      stopped: this.isStopped,
      run: structuredClone(this.run),
    };
  }

  /** Best point told so far over all runs (finite values only). */
  get best(): CmaesSolution | undefined {
    return this.bestSolution ? { x: [...this.bestSolution.x], value: this.bestSolution.value } : undefined;
  }

  /** Number of completed tell() calls over all runs. */
  get generation(): number {
    return this.totalGenerations;
  }

  /** Number of restarts performed. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Current global step size, in normalized units (fraction of each variable's range). */
  get sigma(): number {
    return this.run.sigma;
  }

  /** Number of points the next ask() returns (lambda of the current run). */
  get popsize(): number {
    return this.run.lambda;
  }

  /**
   * True once the last allowed run has met a stop criterion. The distribution
   * is then frozen: ask() keeps sampling it and tell() only updates `best`.
   */
  get stopped(): boolean {
    return this.isStopped;
  }

  /**
   * Samples `popsize` candidates from N(mean, sigma^2 C) and returns them in the
   * original space.
   *
   * Bounds are handled by repair: a sample outside [0,1]^n is projected (clamped)
   * onto the box, and it is this repaired point that is evaluated and later used
   * for the update. Projection, rather than reflection, lets the search settle
   * exactly on a bound when the optimum lies there. tell() compensates for the
   * distortion repair introduces, see `repairedStep`.
   */
  ask(): number[][] {
    const { n } = this;
    const { mean, sigma, eigenvectors: B, axisLengths: D } = this.run;
    const points: number[][] = [];
    for (let k = 0; k < this.run.lambda; k++) {
      const scaledNormal = D.map((d) => d * this.rng.normal());
      const z = mean.map((m, i) => {
        let step = 0;
        for (let j = 0; j < n; j++) step += B[i][j] * scaledNormal[j];
        return m + sigma * step;
      });
      points.push(this.toOriginal(z));
    }
    return points;
  }

  /**
   * Updates the distribution from evaluated points. `values[i]` is the objective
   * of `points[i]` and is MINIMIZED. NaN and +/-Infinity mark failed evaluations
   * and rank below every finite value. Exactly `popsize` points are expected,
   * normally the ones from the preceding ask(), in any order.
   */
  tell(points: number[][], values: number[]): void {
    const { n, params } = this;
    const run = this.run;
    if (points.length !== run.lambda || values.length !== run.lambda) {
      throw new Error(`tell() expects ${run.lambda} points and values, got ${points.length} and ${values.length}`);
    }
    for (const point of points) {
      if (point.length !== n || !point.every(Number.isFinite)) {
        throw new Error(`tell() points must have ${n} finite coordinates`);
      }
    }

    let generationBest = Infinity;
    values.forEach((value, i) => {
      if (!Number.isFinite(value)) return;
      generationBest = Math.min(generationBest, value);
      if (this.bestSolution === null || value < this.bestSolution.value) {
        this.bestSolution = { x: [...points[i]], value };
      }
    });
    this.totalGenerations++;
    if (this.isStopped) return;

    const ranking = rankByValue(values);
    const steps = ranking.slice(0, params.mu).map((i) => this.repairedStep(this.toNormalized(points[i])));
    const meanStep = new Array<number>(n).fill(0);
    steps.forEach((step, k) => step.forEach((s, i) => (meanStep[i] += params.weights[k] * s)));

    run.mean = run.mean.map((m, i) => m + run.sigma * meanStep[i]);

    // Step-size path: cumulates whitened steps, so its length is comparable with chiN.
    const whitenedMeanStep = this.inverseSqrtC(meanStep);
    const csFactor = Math.sqrt(params.cs * (2 - params.cs) * params.mueff);
    run.sigmaPath = run.sigmaPath.map((p, i) => (1 - params.cs) * p + csFactor * whitenedMeanStep[i]);
    const sigmaPathLength = norm(run.sigmaPath);

    // Stall the covariance path while the step-size path is unusually long (e.g. right
    // after sigma was too small), so a fast-growing sigma does not inflate C as well.
    const pathBiasCorrection = Math.sqrt(1 - (1 - params.cs) ** (2 * (run.generation + 1)));
    const hsig = sigmaPathLength / pathBiasCorrection < (1.4 + 2 / (n + 1)) * params.chiN ? 1 : 0;
    const ccFactor = Math.sqrt(params.cc * (2 - params.cc) * params.mueff);
    run.covariancePath = run.covariancePath.map((p, i) => (1 - params.cc) * p + hsig * ccFactor * meanStep[i]);

    // Rank-one (from the path) plus rank-mu (from this generation's steps) update;
    // the (1 - hsig) term compensates the variance lost while the path is stalled.
    const pc = run.covariancePath;
    const keep = 1 - params.c1 - params.cmu + (1 - hsig) * params.c1 * params.cc * (2 - params.cc);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let rankMu = 0;
        steps.forEach((step, k) => (rankMu += params.weights[k] * step[i] * step[j]));
        run.covariance[i][j] = keep * run.covariance[i][j] + params.c1 * pc[i] * pc[j] + params.cmu * rankMu;
      }
    }

    // Cumulative step-size adaptation: grow sigma when successive steps point the
    // same way (path longer than expected under random selection), shrink otherwise.
    run.sigma *= Math.exp((params.cs / params.damps) * (sigmaPathLength / params.chiN - 1));

    run.generation++;
    if (run.generation - run.eigenGeneration > params.eigenInterval) this.decompose();
    this.recordGenerationBest(generationBest);

    if (!this.runShouldEnd()) return;
    if (this.restartCount < this.maxRestarts) this.restart();
    else this.isStopped = true;
  }

  /**
   * Normalized step y = (z - mean) / sigma of a told point, shortened if needed so
   * that its Mahalanobis length |C^(-1/2) y| is at most sqrt(n) + 2n/(n+2).
   *
   * A repaired (or otherwise injected) point was not drawn from N(mean, sigma^2 C);
   * used unmodified, its step can be far longer in Mahalanobis terms than any real
   * sample, which would wrongly blow up sigma and C. Clipping it as in Hansen's
   * "Injecting External Solutions into CMA-ES" (2011) keeps the update sound; for
   * ordinary samples the clip rarely triggers and then only shortens outliers.
   */
  private repairedStep(z: number[]): number[] {
    const step = z.map((zi, i) => (zi - this.run.mean[i]) / this.run.sigma);
    const length = norm(this.inverseSqrtC(step));
    const limit = this.params.maxStepLength;
    return length > limit ? step.map((s) => (s * limit) / length) : step;
  }

  /** C^(-1/2) v = B D^-1 B^T v, using the last decomposition. */
  private inverseSqrtC(v: number[]): number[] {
    const { n } = this;
    const { eigenvectors: B, axisLengths: D } = this.run;
    const scaled = D.map((d, j) => {
      let projection = 0;
      for (let i = 0; i < n; i++) projection += B[i][j] * v[i];
      return projection / d;
    });
    return v.map((_, i) => {
      let component = 0;
      for (let j = 0; j < n; j++) component += B[i][j] * scaled[j];
      return component;
    });
  }

  /** Recomputes B and D from C. */
  private decompose(): void {
    const run = this.run;
    // Round-off makes the updated C slightly asymmetric; the symmetric solver needs exact symmetry.
    const symmetric = run.covariance.map((row, i) => row.map((c, j) => (c + run.covariance[j][i]) / 2));
    run.covariance = symmetric;
    const evd = new EigenvalueDecomposition(new Matrix(symmetric), { assumeSymmetric: true });
    // Tiny negative eigenvalues are round-off; treat them as zero (the condition check then restarts).
    run.axisLengths = evd.realEigenvalues.map((e) => Math.sqrt(Math.max(e, 0)));
    run.eigenvectors = evd.eigenvectorMatrix.to2DArray();
    run.eigenGeneration = run.generation;
  }

  private recordGenerationBest(generationBest: number): void {
    const history = this.run.recentBests;
    // A generation without any finite value says nothing about flatness, so the window starts over.
    if (!Number.isFinite(generationBest)) {
      history.length = 0;
      return;
    }
    history.push(generationBest);
    if (history.length > this.params.stagnationGenerations) history.shift();
  }

  /**
   * True when the run has stagnated, its step size has collapsed, or C is too
   * ill-conditioned. Comparisons are written so that NaN also ends the run.
   *
   * Stagnation is judged on the range of the generation-best values over the
   * window (the test used with IPOP-CMA-ES, Auger & Hansen 2005, whose default
   * window is 10 + ceil(30n/lambda)), not on whether the run's all-time best
   * improved: a large population often draws one lucky sample long before the
   * distribution as a whole has caught up with it, and the all-time-best test
   * would restart such runs while they are still converging.
   */
  private runShouldEnd(): boolean {
    const run = this.run;
    const history = run.recentBests;
    const stagnated =
      history.length >= this.params.stagnationGenerations && Math.max(...history) - Math.min(...history) <= this.tolFun;
    const largestStd = run.sigma * Math.sqrt(Math.max(...run.covariance.map((row, i) => row[i])));
    const longestAxis = Math.max(...run.axisLengths);
    const shortestAxis = Math.min(...run.axisLengths);
    const wellConditioned = shortestAxis > 0 && (longestAxis / shortestAxis) ** 2 <= MAX_CONDITION;
    return stagnated || !(largestStd >= MIN_STD) || !wellConditioned;
  }

  /** IPOP restart: double the population and start afresh from a uniformly random mean. */
  private restart(): void {
    this.restartCount++;
    const lambda = this.run.lambda * 2;
    const mean = Array.from({ length: this.n }, () => this.rng.next());
    this.params = strategyParameters(this.n, lambda, this.stagnationOverride);
    this.run = this.freshRun(lambda, mean);
  }

  private freshRun(lambda: number, mean: number[]): CmaesRunState {
    const n = this.n;
    const identity = () => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
    return {
      lambda,
      mean,
      sigma: this.sigma0,
      covariance: identity(),
      eigenvectors: identity(),
      axisLengths: new Array<number>(n).fill(1),
      covariancePath: new Array<number>(n).fill(0),
      sigmaPath: new Array<number>(n).fill(0),
      generation: 0,
      eigenGeneration: 0,
      recentBests: [],
    };
  }

  /** Original space -> [0,1]^n, clamping points that lie outside the box. */
  private toNormalized(x: number[]): number[] {
    return x.map((xi, i) => clamp((xi - this.lower[i]) / (this.upper[i] - this.lower[i]), 0, 1));
  }

  /** [0,1]^n -> original space; clamps first (the repair) and again after scaling, against round-off. */
  private toOriginal(z: number[]): number[] {
    return z.map((zi, i) => {
      const x = this.lower[i] + clamp(zi, 0, 1) * (this.upper[i] - this.lower[i]);
      return clamp(x, this.lower[i], this.upper[i]);
    });
  }
}

/** Indices sorted by ascending value; non-finite values go last, keeping their original order. */
function rankByValue(values: number[]): number[] {
  const rankKey = (v: number) => (Number.isFinite(v) ? v : Infinity);
  return values.map((_, i) => i).sort((a, b) => rankKey(values[a]) - rankKey(values[b]) || a - b);
}

function validateOptions(options: CmaesOptions): void {
  const { dim, lower, upper, x0, sigma0, popsize, maxRestarts, stagnationGenerations, tolFun } = options;
  const fail = (message: string): never => {
    throw new Error(`Invalid CMA-ES options: ${message}`);
  };
  if (!Number.isInteger(dim) || dim < 1) fail(`dim must be a positive integer, got ${dim}`);
  if (lower.length !== dim || upper.length !== dim) fail(`lower and upper must have length ${dim}`);
  lower.forEach((lo, i) => {
    if (!Number.isFinite(lo) || !Number.isFinite(upper[i]) || !(lo < upper[i])) {
      fail(`bounds of variable ${i} must be finite with lower < upper, got [${lo}, ${upper[i]}]`);
    }
  });
  if (x0 && (x0.length !== dim || x0.some((v, i) => !(v >= lower[i] && v <= upper[i])))) {
    fail(`x0 must have length ${dim} and lie within the bounds`);
  }
  if (sigma0 !== undefined && !(sigma0 > 0 && Number.isFinite(sigma0))) fail(`sigma0 must be > 0, got ${sigma0}`);
  if (popsize !== undefined && !(Number.isInteger(popsize) && popsize >= 2)) fail(`popsize must be an integer >= 2, got ${popsize}`);
  if (maxRestarts !== undefined && !(Number.isInteger(maxRestarts) && maxRestarts >= 0)) {
    fail(`maxRestarts must be a non-negative integer, got ${maxRestarts}`);
  }
  if (stagnationGenerations !== undefined && !(Number.isInteger(stagnationGenerations) && stagnationGenerations >= 1)) {
    fail(`stagnationGenerations must be a positive integer, got ${stagnationGenerations}`);
  }
  if (tolFun !== undefined && !(tolFun >= 0)) fail(`tolFun must be >= 0, got ${tolFun}`);
}

function sum(values: number[]): number {
  return values.reduce((total, v) => total + v, 0);
}

function norm(v: number[]): number {
  return Math.sqrt(sum(v.map((x) => x * x)));
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
