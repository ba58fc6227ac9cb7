/**
 * Evaluator pool throughput: episodes per second of the scenario's default policy with 1 worker
 * and with 2 workers, after a warm-up, and the scaling ratio. Run: `npx tsx bench/pool.ts
 * [scenario.yaml] [episodes]`. Ends with a grep-able `key: value` block.
 */
import { defaultPolicy } from '../src/policy/file.ts';
import { EvaluatorPool } from '../src/evaluation/pool.ts';
import { loadScenario } from '../src/scenario/load.ts';

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

async function main(scenarioPath = 'scenarios/pick-place.yaml', episodes = 32): Promise<void> {
  const one = await measure(scenarioPath, 1, episodes);
  console.log(`1 worker:  ${one.rate.toFixed(2)} episodes/s (${one.episode.toFixed(3)} s per episode in the worker)`);
  const two = await measure(scenarioPath, 2, episodes);
  console.log(`2 workers: ${two.rate.toFixed(2)} episodes/s (${two.episode.toFixed(3)} s per episode in the worker)`);
  console.log('---');
  console.log(`episodes: ${episodes}`);
  console.log(`eps_1_worker: ${one.rate.toFixed(3)}`);
  console.log(`eps_2_workers: ${two.rate.toFixed(3)}`);
  console.log(`scaling: ${(two.rate / one.rate).toFixed(3)}`);
  console.log(`crashes: ${one.crashes + two.crashes}`);
}

const [scenarioArg, episodesArg] = process.argv.slice(2);
await main(scenarioArg, episodesArg ? Number(episodesArg) : undefined);
