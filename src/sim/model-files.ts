/**
 * Finds every file an MJCF model needs (the model, its <include>s, meshes, textures, skins,
 * heightfields) the way MuJoCo will look for them, so a bad or missing file is reported with the
 * file and line that refer to it before MuJoCo sees it: mujoco-js says nothing useful by itself.
 * Only the model and its includes are XML and parsed as such; meshes (STL, OBJ, MSH), textures
 * (PNG) and height fields are handed to MuJoCo as bytes.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
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
  /** Raw bytes. */
  data: Uint8Array;
  /** True for the model and its includes (MJCF text); false for assets (meshes, images, ...). */
  xml: boolean;
}

/** The compiler directory MuJoCo joins to each asset file: height fields and skins use meshdir. */
type AssetDir = 'meshdir' | 'texturedir';
/** Elements that name asset files, the attributes that do, and the directory each is under. */
const ASSET_ATTRS: { tag: string; attrs: string[]; dir: AssetDir }[] = [
  { tag: 'mesh', attrs: ['file'], dir: 'meshdir' },
  { tag: 'hfield', attrs: ['file'], dir: 'meshdir' },
  { tag: 'skin', attrs: ['file'], dir: 'meshdir' },
  { tag: 'flexcomp', attrs: ['file'], dir: 'meshdir' },
  { tag: 'texture', attrs: ['file', 'fileright', 'fileleft', 'fileup', 'filedown', 'filefront', 'fileback'], dir: 'texturedir' },
];
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true });

/** Where a file is named: the XML file and line of the reference. */
interface Reference {
  /** The XML file that names it. */
  file: string;
  /** 1-based line of the reference, when found. */
  line?: number;
}

/** An asset file named by an element of the model. */
interface AssetReference extends Reference {
  /** The element, e.g. `mesh`. */
  tag: string;
  /** The attribute value: the file name as written. */
  name: string;
  /** The compiler directory it is under. */
  dir: AssetDir;
}

/**
 * Every file the model at `mainPath` needs, main file first. Throws `MjcfError`.
 *
 * MuJoCo's rules (3.3, checked against mujoco-js): includes and assets are relative to the folder
 * of the main model, assets joined with the compiler's meshdir (meshes, height fields, skins) or
 * texturedir (textures), `assetdir` setting both; compiler settings are global, the last one
 * written wins. When that file does not exist MuJoCo tries the name relative to the folder of the
 * XML file that holds the reference.
 */
export function collectModelFiles(mainPath: string): ModelFile[] {
  const main = resolve(mainPath);
  const mainDir = dirname(main);
  const files = new Map<string, ModelFile>();
  const compilers: Record<string, string>[] = [];
  const assets: AssetReference[] = [];

  const visitXml = (path: string) => {
    if (files.has(path)) return;
    const data = readFileSync(path);
    files.set(path, { path, data, xml: true });
    const text = data.toString('utf8');
    const valid = XMLValidator.validate(text);
    if (valid !== true) {
      throw new MjcfError(path, `is not well-formed XML: ${valid.err.msg} (column ${valid.err.col})`, valid.err.line);
    }
    // Walk in document order, entering includes where they stand: the order compilers apply in.
    walk(parser.parse(text) as XmlNode[], (tag, attrs) => {
      if (tag === 'compiler') compilers.push(attrs);
      if (tag === 'include') {
        if (!attrs.file) throw new MjcfError(path, '<include> has no file attribute', lineOf(text, '<include'));
        const from = { file: path, line: lineOfValue(text, 'file', attrs.file) };
        const target = findFile([resolve(mainDir, attrs.file), resolve(dirname(path), attrs.file)]);
        if (!target) throw new MjcfError(path, `includes ${resolve(mainDir, attrs.file)}, which does not exist (include files are relative to the folder of the main model, ${mainDir})`, from.line);
        visitXml(target);
      }
      for (const kind of ASSET_ATTRS) {
        if (kind.tag !== tag) continue;
        for (const attr of kind.attrs) {
          const name = attrs[attr];
          if (name) assets.push({ tag, name, dir: kind.dir, file: path, line: lineOfValue(text, attr, name) });
        }
      }
    });
  };

  if (!existsSync(main)) throw new MjcfError(main, 'does not exist; check the path (scenario `world`, robot.yaml `mjcf` or view --model)');
  if (!statSync(main).isFile()) throw new MjcfError(main, 'is a directory, not an MJCF file; name the model XML file inside it (scenario `world`, robot.yaml `mjcf` or view --model)');
  visitXml(main);

  const compiler = compilerDirs(compilers);
  for (const asset of assets) {
    const name = compiler.strippath ? basename(asset.name) : asset.name;
    const expected = resolve(mainDir, compiler[asset.dir], name);
    const path = findFile([expected, resolve(dirname(asset.file), name)]);
    if (!path) {
      const dir = compiler[asset.dir] ? `compiler ${asset.dir} '${compiler[asset.dir]}'` : `no compiler ${asset.dir}`;
      throw new MjcfError(
        asset.file,
        `${asset.tag} file '${asset.name}' is not at ${expected}: MuJoCo looks for it relative to the folder of the main model (${mainDir}) with ${dir}; move the file there or fix the ${asset.dir}`,
        asset.line,
      );
    }
    if (!files.has(path)) files.set(path, { path, data: readFileSync(path), xml: false });
  }
  return [...files.values()];
}

/** The compiler's asset directories once every <compiler> has applied, in order. */
function compilerDirs(compilers: Record<string, string>[]): Record<AssetDir, string> & { strippath: boolean } {
  const dirs = { meshdir: '', texturedir: '', strippath: false };
  for (const c of compilers) {
    if (c.assetdir !== undefined) dirs.meshdir = dirs.texturedir = c.assetdir;
    if (c.meshdir !== undefined) dirs.meshdir = c.meshdir;
    if (c.texturedir !== undefined) dirs.texturedir = c.texturedir;
    if (c.strippath !== undefined) dirs.strippath = c.strippath === 'true';
  }
  return dirs;
}

/** The first of `paths` that is a file. */
function findFile(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p) && statSync(p).isFile());
}

interface XmlNode {
  [tag: string]: XmlNode[] | Record<string, string> | undefined;
}

/** Calls `visit` for every element of the tree, in document order. */
function walk(nodes: XmlNode[], visit: (tag: string, attrs: Record<string, string>) => void): void {
  for (const node of nodes) {
    for (const [key, value] of Object.entries(node)) {
      if (key === ':@' || key === '#text' || key === '#comment' || key.startsWith('?')) continue;
      visit(key, (node[':@'] as Record<string, string>) ?? {});
      if (Array.isArray(value)) walk(value, visit);
    }
  }
}

function lineOf(text: string, needle: string): number | undefined {
  const at = text.indexOf(needle);
  return at < 0 ? undefined : text.slice(0, at).split('\n').length;
}

/** The line of `attr="value"` (either quote), else of the value alone. */
function lineOfValue(text: string, attr: string, value: string): number | undefined {
  return lineOf(text, `${attr}="${value}"`) ?? lineOf(text, `${attr}='${value}'`) ?? lineOf(text, value);
}

/**
 * MuJoCo's compile errors say "Element 'geom', line 12" without naming the file, and "line 0"
 * for elements that came from an <include>. Find the file (and line) the error is about: the
 * file whose line 12 opens a <geom>, or else the file that holds the quoted offending value.
 */
export function locateMujocoError(message: string, files: ModelFile[]): { file: string; line?: number } {
  const texts = files.filter((f) => f.xml).map((f) => ({ path: f.path, lines: new TextDecoder().decode(f.data).split('\n') }));
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
