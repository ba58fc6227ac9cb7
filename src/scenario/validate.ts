/**
 * Reads a YAML (or JSON) file and validates it with a zod schema, turning every problem into a
 * `Problem` that names the file, the line, the field path and a hint, so `arbor check` can print
 * them all at once and loaders can throw one readable error.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, type Node } from 'yaml';
import type { z } from 'zod';

/** One thing wrong with an input file. */
export interface Problem {
  /** The file the problem is in. */
  file: string;
  /** 1-based line of the offending value, when known. */
  line?: number;
  /** Dotted field path, e.g. `policy.params.lift_height.max`; empty for the whole file. */
  path: string;
  /** What is wrong, in a sentence. */
  message: string;
  /** How to fix it. */
  hint?: string;
}

/** Thrown when an input file does not validate; carries every problem found. */
export class ValidationError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ValidationError';
  }
}

export function formatProblem(p: Problem): string {
  const where = p.line ? `${p.file}:${p.line}` : p.file;
  const field = p.path ? ` ${p.path}:` : '';
  return `${where}:${field} ${p.message}${p.hint ? ` (${p.hint})` : ''}`;
}

/** Parses YAML text and validates it; returns the typed value or every problem. */
export function validateText<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
): { ok: true; value: z.infer<S> } | { ok: false; problems: Problem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        file,
        line: e.linePos?.[0]?.line,
        path: '',
        message: `is not valid YAML: ${e.message.split('\n')[0]}`,
        hint: 'check indentation and quoting near that line',
      })),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (error) {
    // Parsed, but not convertible: an alias before its anchor, an alias bomb.
    return { ok: false, problems: [{ file, path: '', message: `is not valid YAML: ${(error as Error).message}`, hint: 'check the anchors (&name) and aliases (*name)' }] };
  }
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const path = issue.path.map(String);
      const node = nodeAt(doc.contents as Node | null, path);
      const line = node?.range ? lines.linePos(node.range[0]).line : undefined;
      return { file, line, path: path.join('.'), message: issue.message, hint: hintFor(issue) };
    }),
  };
}

/** Reads and validates a file; throws `ValidationError` listing every problem. */
export function loadValidated<S extends z.ZodType>(schema: S, file: string): z.infer<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ValidationError([
      { file, path: '', message: `cannot be read: ${(err as Error).message}`, hint: 'check the path' },
    ]);
  }
  const result = validateText(schema, text, file);
  if (!result.ok) throw new ValidationError(result.problems);
  return result.value;
}

/** The 1-based line of a field (its deepest part present) in a YAML file, for problems found after validation. */
export function fieldLine(file: string, path: (string | number)[]): number | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
  const node = nodeAt(doc.contents as Node | null, path.map(String));
  return node?.range ? lines.linePos(node.range[0]).line : undefined;
}

function nodeAt(root: Node | null, path: string[]): Node | undefined {
  let node: Node | null | undefined = root;
  let deepest: Node | undefined = root ?? undefined;
  for (const key of path) {
    if (isMap(node)) node = node.get(key, true) as Node | undefined;
    else if (isSeq(node)) node = node.get(Number(key), true) as Node | undefined;
    else break;
    if (!node) break;
    deepest = node;
  }
  return deepest;
}

/** A fix to suggest for a zod issue, when there is an obvious one. */
export function hintFor(issue: z.core.$ZodIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (/received undefined/.test(issue.message)) return 'add this field';
      return issue.expected === 'int' ? 'give an integer' : `give a ${issue.expected}`;
    case 'unrecognized_keys':
      return 'remove it or check its spelling';
    case 'too_small':
    case 'too_big':
      return 'change the value to fit the range';
    case 'invalid_value':
      return `use one of: ${issue.values.map(String).join(', ')}`;
    case 'custom': {
      // Refinements that know the fix carry it as `params.hint`.
      const hint = (issue.params as { hint?: unknown } | undefined)?.hint;
      return typeof hint === 'string' ? hint : undefined;
    }
    default:
      return undefined;
  }
}
