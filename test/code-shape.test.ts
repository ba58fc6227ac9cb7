/**
 * Two rules of issue 17 that a change can quietly break, checked on every run: no function in
 * src/ is over 100 lines (the study loop read in one screen stays so), and no `as unknown as`
 * cast outside the mujoco-js boundary (src/sim/world.ts, src/sim/ray-camera.ts), where the
 * package's types do not say what its objects hold.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const MAX_LINES = 100;
const CAST_ALLOWED = ['src/sim/world.ts', 'src/sim/ray-camera.ts'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const files = sources('src').map((file) => ({ file: relative('.', file), text: readFileSync(file, 'utf8') }));

describe('the shape of src/', () => {
  it(`has no function over ${MAX_LINES} lines`, () => {
    const long: string[] = [];
    for (const { file, text } of files) {
      const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const first = source.getLineAndCharacterOfPosition(node.getStart()).line;
          const last = source.getLineAndCharacterOfPosition(node.end).line;
          if (last - first + 1 > MAX_LINES) long.push(`${file}:${first + 1} (${last - first + 1} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    expect(long).toEqual([]);
  });

  it('has no `as unknown as` outside the mujoco-js boundary', () => {
    const casts = files.filter(({ file, text }) => !CAST_ALLOWED.includes(file) && /\bas unknown as\b/.test(text)).map(({ file }) => file);
    expect(casts).toEqual([]);
  });
});
