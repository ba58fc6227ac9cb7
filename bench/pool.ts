/**
 * Evaluator pool throughput: episodes per second of the scenario's default policy with 1, 2 and 3
 * worker threads, each after a warm-up, and the 2-vs-1 scaling against issue 20's target (>= 1.9x
 * on two cores). Each figure is the median of RUNS rounds (`ARBOR_BENCH_RUNS`, default 3) with its
 * range; a round measures 1, 2 and 3 workers in turn, so the load of the moment falls on all three,
 * and its ratio is taken within the round. Run: `npx tsx bench/pool.ts [scenario.yaml] [episodes]`.
 * Ends with a grep-able `key: value` block. Figures, never pass/fail: the machine's load moves them.
 */
import { cpus, loadavg } from 'node:os';
import { defaultPolicy } from '../src/policy/file.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';

/** Worker counts measured. */
const WORKERS = [1, 2, 3] as const;

interface Throughput {
  /** Episodes per second of wall time. */
  rate: number;
  /** Mean wall time of one episode inside its worker (s). */
  episode: number;
  /** Episodes that crashed. */
  crashes: number;
}

/** Times `episodes` default-policy episodes on a fresh pool of `workers` threads. */
async function measure(scenarioPath: string, workers: number, episodes: number): Promise<Throughput> {
  const policy = defaultPolicy(await loadScenario(scenarioPath));
  const pool = await EvaluatorPool.create(scenarioPath, { workers });
  try {
    // Warm-up: two episodes per worker, so every thread's JIT and wasm are hot.
    await pool.evaluate(Array.from({ length: 2 * workers }, (_, i) => ({ policy, seed: 10_000 + i })));
    const started = performance.now();
    const results = await pool.evaluate(Array.from({ length: episodes }, (_, seed) => ({ policy, seed })));
    const seconds = (performance.now() - started) / 1000;
    return {
      rate: episodes / seconds,
      episode: results.reduce((sum, r) => sum + r.wallTime, 0) / episodes,
      crashes: results.filter((r) => !r.ok).length,
    };
  } finally {
    await pool.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** `median [min, max]` of a figure's runs. */
function spread(xs: number[], digits = 3): string {
  return `${median(xs).toFixed(digits)} [${Math.min(...xs).toFixed(digits)}, ${Math.max(...xs).toFixed(digits)}]`;
}

async function main(scenarioPath = 'scenarios/pick-place.yaml', episodes = 32, runs = 3): Promise<void> {
  const rates = new Map<number, number[]>(WORKERS.map((w) => [w, []]));
  const perEpisode = new Map<number, number[]>(WORKERS.map((w) => [w, []]));
  const ratios: number[] = [];
  let crashes = 0;
  for (let run = 1; run <= runs; run++) {
    const round = new Map<number, number>();
    for (const workers of WORKERS) {
      const t = await measure(scenarioPath, workers, episodes);
      console.log(`run ${run} of ${runs}, ${workers} worker${workers > 1 ? 's' : ''}: ${t.rate.toFixed(2)} episodes/s (${t.episode.toFixed(3)} s per episode in the worker)`);
      rates.get(workers)!.push(t.rate);
      perEpisode.get(workers)!.push(t.episode);
      round.set(workers, t.rate);
      crashes += t.crashes;
    }
    ratios.push(round.get(2)! / round.get(1)!);
  }
  const scaling = median(ratios);
  console.log(`--- (median of ${runs} runs [min, max]; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} on ${cpus().length} cores)`);
  console.log(`episodes: ${episodes}`);
  for (const w of WORKERS) {
    console.log(`eps_${w}_worker${w > 1 ? 's' : ''}: ${spread(rates.get(w)!)}`);
    console.log(`episode_s_${w}_worker${w > 1 ? 's' : ''}: ${spread(perEpisode.get(w)!)}`);
  }
  console.log(`scaling: ${spread(ratios)}; target >= 1.9: ${scaling >= 1.9 ? 'met' : 'not met'}`);
  console.log(`scaling_3_over_1: ${spread(rates.get(3)!.map((rate, r) => rate / rates.get(1)![r]))}`);
  console.log(`crashes: ${crashes}`);
}

const [scenarioArg, episodesArg] = process.argv.slice(2);
await main(scenarioArg, episodesArg ? Number(episodesArg) : undefined, Number(process.env.ARBOR_BENCH_RUNS ?? 3));
