/**
 * Checks that the files a scenario or robot.yaml names exist and are files, as part of its
 * validation, so a wrong path is reported with the file, line and field that name it (and the
 * path it resolves to) rather than as `EISDIR` or `ENOENT` from deep inside a loader.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';

/**
 * A zod refinement: each of `fields` (paths relative to `dir`) must name a file; `what` says which
 * file. `at` is where the checked object sits in the file (for a nested section).
 */
export function namesFiles<T extends object>(dir: string, fields: Partial<Record<keyof T & string, string>>, at: string[] = []) {
  return (value: T, ctx: z.RefinementCtx): void => {
    for (const [field, what] of Object.entries(fields) as [keyof T & string, string][]) {
      const given = value[field];
      if (typeof given !== 'string') continue;
      const path = resolve(dir, given);
      const wrong = !existsSync(path) ? 'does not exist' : statSync(path).isDirectory() ? 'is a directory' : undefined;
      if (wrong) ctx.addIssue({ code: 'custom', path: [...at, field], message: `names ${path}, which ${wrong}; give ${what}` });
    }
  };
}
