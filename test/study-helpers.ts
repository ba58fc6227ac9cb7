/** A small copy of the pick-place scenario for study tests: few seeds, small budgets. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export function smallScenario(budget = { candidates: 12, seeds: 4, validation: 8 }): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-study-'));
  const root = resolve('.');
  const text = readFileSync('scenarios/pick-place.yaml', 'utf8')
    .replace('robot: ../robots/', `robot: ${root}/robots/`)
    .replace('world: ../sim/', `world: ${root}/sim/`)
    .replace(/^budget:[\s\S]*$/m, `budget:\n  candidates: ${budget.candidates}\n  seeds_per_candidate: ${budget.seeds}\n  wall_time: 600\n  validation_seeds: { from: 1000, count: ${budget.validation} }\n`);
  const file = join(dir, 'small.yaml');
  writeFileSync(file, text);
  return { dir, file };
}
