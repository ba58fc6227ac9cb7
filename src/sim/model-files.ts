/**
 * Finds every file an MJCF model needs (the model, its <include>s, meshes, textures, skins,
 * heightfields) and checks each XML file is well formed, so a bad or missing file is reported
 * with its path and line before MuJoCo sees it: mujoco-js says nothing useful by itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

/** An MJCF problem with the file and line it comes from. */
export class MjcfError extends Error {
  constructor(
    /** The file at fault. */
    readonly file: string,
    /** What is wrong, in a sentence. */
    readonly reason: string,
    /** 1-based line, when known. */
    readonly line?: number,
  ) {
    super(`${line ? `${file}:${line}` : file}: ${reason}`);
    this.name = 'MjcfError';
  }
}

/** A file of the model: its absolute path and contents. */
export interface ModelFile {
  /** Absolute path on the host; mirrored at the same path in MuJoCo's virtual file system. */
  path: string;
  /** Raw bytes (text for XML). */
  data: Uint8Array;
}

const ASSET_TAGS = new Set(['mesh', 'texture', 'hfield', 'skin']);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true });

/** Every file the model at `mainPath` needs, main file first. Throws `MjcfError`. */
export function collectModelFiles(mainPath: string): ModelFile[] {
  const files = new Map<string, ModelFile>();
  const mainDir = dirname(resolve(mainPath));
  const visit = (path: string, includedFrom?: { file: string; line?: number }) => {
    if (files.has(path)) return;
    if (!existsSync(path)) {
      if (includedFrom) {
        throw new MjcfError(includedFrom.file, `includes ${path}, which does not exist`, includedFrom.line);
      }
      throw new MjcfError(path, 'does not exist; check the path (scenario `world`, robot.yaml `mjcf`)');
    }
    const data = readFileSync(path);
    files.set(path, { path, data });
    const text = data.toString('utf8');
    const valid = XMLValidator.validate(text);
    if (valid !== true) {
      throw new MjcfError(path, `is not well-formed XML: ${valid.err.msg} (column ${valid.err.col})`, valid.err.line);
    }
    const tree = parser.parse(text) as XmlNode[];
    // MuJoCo resolves include and asset paths against the main model's directory.
    const compiler = findAll(tree, 'compiler')[0];
    const meshdir = compiler?.attrs.meshdir ?? compiler?.attrs.assetdir ?? '';
    const texturedir = compiler?.attrs.texturedir ?? compiler?.attrs.assetdir ?? '';
    for (const include of findAll(tree, 'include')) {
      const target = include.attrs.file;
      if (!target) throw new MjcfError(path, '<include> has no file attribute', lineOf(text, '<include'));
      visit(resolve(mainDir, target), { file: path, line: lineOf(text, target) });
    }
    for (const tag of ASSET_TAGS) {
      for (const asset of findAll(tree, tag)) {
        const file = asset.attrs.file;
        if (!file) continue;
        const dir = tag === 'texture' ? texturedir : meshdir;
        visit(resolve(mainDir, dir, file), { file: path, line: lineOf(text, file) });
      }
    }
  };
  visit(resolve(mainPath));
  return [...files.values()];
}

interface XmlNode {
  [tag: string]: XmlNode[] | Record<string, string> | undefined;
}

function findAll(nodes: XmlNode[], tag: string): { attrs: Record<string, string> }[] {
  const found: { attrs: Record<string, string> }[] = [];
  const walk = (list: XmlNode[]) => {
    for (const node of list) {
      for (const [key, value] of Object.entries(node)) {
        if (key === ':@') continue;
        if (key === tag) found.push({ attrs: (node[':@'] as Record<string, string>) ?? {} });
        if (Array.isArray(value)) walk(value);
      }
    }
  };
  walk(nodes);
  return found;
}

function lineOf(text: string, needle: string): number | undefined {
  const at = text.indexOf(needle);
  return at < 0 ? undefined : text.slice(0, at).split('\n').length;
}

/**
 * MuJoCo's compile errors say "Element 'geom', line 12" without naming the file, and "line 0"
 * for elements that came from an <include>. Find the file (and line) the error is about: the
 * file whose line 12 opens a <geom>, or else the file that holds the quoted offending value.
 */
export function locateMujocoError(message: string, files: ModelFile[]): { file: string; line?: number } {
  const texts = files.filter((f) => f.path.endsWith('.xml')).map((f) => ({ path: f.path, lines: new TextDecoder().decode(f.data).split('\n') }));
  const element = /Element '(\w+)', line (\d+)/.exec(message);
  if (element && Number(element[2]) > 0) {
    const [tag, line] = [element[1], Number(element[2])];
    const matches = texts.filter((t) => t.lines[line - 1]?.includes(`<${tag}`));
    if (matches.length === 1) return { file: matches[0].path, line };
    return { file: files[0].path, line };
  }
  for (const [, value] of message.matchAll(/'([^']+)'/g)) {
    for (const t of texts) {
      const index = t.lines.findIndex((l) => l.includes(`"${value}"`));
      if (index >= 0) return { file: t.path, line: index + 1 };
    }
  }
  return { file: files[0].path };
}
