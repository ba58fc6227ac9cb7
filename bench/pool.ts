/**
 * Evaluator pool throughput: episodes per second of the scenario's default policy with 1, 2 and 3
 * worker threads, each after a warm-up, and the 2-vs-1 scaling against issue 20's target (>= 1.9x
 * on two cores). Each figure is the median of RUNS rounds (`ARBOR_BENCH_RUNS`, default 3) with its
 * range; a round measures 1, 2 and 3 workers in turn, so the load of the moment falls on all three,
 * and its ratio is taken within the round. Beside the rates, the CPU the whole process spent per
 * episode and the main thread's share of it (event-loop busy time): figures a loaded machine moves
 * less than rates, and what decides whether two workers get two whole cores.
 * Run: `npx tsx bench/pool.ts [scenario.yaml] [episodes]`.
 * Ends with a grep-able `key: value` block. Figures, never pass/fail: the machine's load moves them.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
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
  /** CPU time of the whole process (all threads) per episode (s). */
  cpu: number;
  /** Busy time of the main thread's event loop per episode (s). */
  main: number;
  /** Workers the pool started: fewer than asked when the cores cap them (sim episodes are CPU-bound). */
  started: number;
}

/** Times `episodes` default-policy episodes on a fresh pool of `workers` threads. */
async function measure(scenarioPath: string, workers: number, episodes: number): Promise<Throughput> {
  const policy = defaultPolicy(await loadScenario(scenarioPath));
  const pool = await EvaluatorPool.create(scenarioPath, { workers });
  try {
    // Warm-up: two episodes per worker, so every thread's JIT and wasm are hot.
    await pool.evaluate(Array.from({ length: 2 * workers }, (_, i) => ({ policy, seed: 10_000 + i })));
    const started = performance.now();
    const cpu = process.cpuUsage();
    const loop = performance.eventLoopUtilization();
    const results = await pool.evaluate(Array.from({ length: episodes }, (_, seed) => ({ policy, seed })));
    const seconds = (performance.now() - started) / 1000;
    const { user, system } = process.cpuUsage(cpu);
    return {
      rate: episodes / seconds,
      episode: results.reduce((sum, r) => sum + r.wallTime, 0) / episodes,
      crashes: results.filter((r) => !r.ok).length,
      cpu: (user + system) / 1e6 / episodes,
      main: performance.eventLoopUtilization(loop).active / 1000 / episodes,
      started: pool.size,
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
  const cpu = new Map<number, number[]>(WORKERS.map((w) => [w, []]));
  const main = new Map<number, number[]>(WORKERS.map((w) => [w, []]));
  const ratios: number[] = [];
  let crashes = 0;
  for (let run = 1; run <= runs; run++) {
    const round = new Map<number, number>();
    for (const workers of WORKERS) {
      const t = await measure(scenarioPath, workers, episodes);
      console.log(
        `run ${run} of ${runs}, ${workers} worker${workers > 1 ? 's' : ''}${t.started < workers ? ` (${t.started} started: capped at the cores)` : ''}: ${t.rate.toFixed(2)} episodes/s (${t.episode.toFixed(3)} s per episode in the worker; ` +
          `${(t.cpu * 1000).toFixed(1)} ms CPU per episode, ${(t.main * 1000).toFixed(2)} ms of it on the main thread)`,
      );
      rates.get(workers)!.push(t.rate);
      perEpisode.get(workers)!.push(t.episode);
      cpu.get(workers)!.push(t.cpu * 1000);
      main.get(workers)!.push(t.main * 1000);
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
    console.log(`cpu_ms_per_episode_${w}_worker${w > 1 ? 's' : ''}: ${spread(cpu.get(w)!, 1)}`);
    console.log(`main_thread_ms_per_episode_${w}_worker${w > 1 ? 's' : ''}: ${spread(main.get(w)!, 2)}`);
  }
  console.log(`scaling: ${spread(ratios)}; target >= 1.9: ${scaling >= 1.9 ? 'met' : 'not met'}`);
  console.log(`scaling_3_over_1: ${spread(rates.get(3)!.map((rate, r) => rate / rates.get(1)![r]))}`);
  console.log(`crashes: ${crashes}`);
}

const [scenarioArg, episodesArg] = process.argv.slice(2);
await main(scenarioArg, episodesArg ? Number(episodesArg) : undefined, Number(process.env.ARBOR_BENCH_RUNS ?? 3));
