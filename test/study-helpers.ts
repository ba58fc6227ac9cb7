/** Copies of real scenarios for tests and benchmarks: a small pick-place for study tests, any scenario edited. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Store } from '../src/store/store.ts';

/**
 * A copy of a scenario in a fresh temporary directory, its text changed by `edit`; its robot and
 * world paths are made absolute so it loads from there.
 */
export function scenarioCopy(source: string, edit: (text: string) => string, name = 'scenario.yaml'): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-study-'));
  const root = resolve('.');
  const text = readFileSync(source, 'utf8').replace('robot: ../robots/', `robot: ${root}/robots/`).replace('world: ../sim/', `world: ${root}/sim/`);
  const file = join(dir, name);
  writeFileSync(file, edit(text));
  return { dir, file };
}

/** A small copy of the pick-place scenario for study tests: few seeds, small budgets. */
export function smallScenario(budget = { candidates: 12, seeds: 4, validation: 8 }): { dir: string; file: string } {
  return scenarioCopy(
    'scenarios/pick-place.yaml',
    (text) => text.replace(/^budget:[\s\S]*$/m, `budget:\n  candidates: ${budget.candidates}\n  seeds_per_candidate: ${budget.seeds}\n  wall_time: 600\n  validation_seeds: { from: 1000, count: ${budget.validation} }\n`),
    'small.yaml',
  );
}

/** Store read methods, counted when the study calls them (the store's calls on itself are not). */
const READS = new Set(['study', 'studies', 'candidate', 'candidates', 'episode', 'episodes', 'events', 'exportRows', 'loadEpisodeTrace']);

export function counted(store: Store): { store: Store; reads: () => number } {
  let reads = 0;
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (READS.has(String(key))) reads++;
        return value.apply(target, args);
      };
    },
  });
  return { store: proxy, reads: () => reads };
}
