/**
 * MJCF as a tree of elements (fast-xml-parser's order-preserving form), for the few edits
 * composition makes: find a body, append a child, add a section. Edits go through a parser and a
 * builder, never through string splicing, so names with odd characters and comments in the
 * source cannot break the document.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

/** One node: `{ tag: children, ':@': attributes }`, or a text or comment node. */
export interface XmlNode {
  [tag: string]: XmlNode[] | Record<string, string> | undefined;
}

const OPTIONS = { ignoreAttributes: false, attributeNamePrefix: '', preserveOrder: true, commentPropName: '#comment' } as const;
const parser = new XMLParser(OPTIONS);
const builder = new XMLBuilder({ ...OPTIONS, suppressEmptyNode: true, format: true });

/** Parses MJCF text (already known to be well-formed) into nodes. */
export function parseMjcf(text: string): XmlNode[] {
  return parser.parse(text) as XmlNode[];
}

/** Writes nodes back as MJCF text. */
export function buildMjcf(nodes: XmlNode[]): string {
  return builder.build(nodes) as string;
}

/** The element's tag, or undefined for text, comments and the XML declaration. */
export function tagOf(node: XmlNode): string | undefined {
  return Object.keys(node).find((k) => k !== ':@' && k !== '#text' && k !== '#comment' && !k.startsWith('?'));
}

/** The element's attributes (an empty object when it has none). */
export function attrsOf(node: XmlNode): Record<string, string> {
  return (node[':@'] as Record<string, string> | undefined) ?? {};
}

/** The element's child nodes (the live array: pushing to it edits the tree). */
export function childrenOf(node: XmlNode): XmlNode[] {
  const tag = tagOf(node);
  if (!tag) return [];
  const children = node[tag];
  if (Array.isArray(children)) return children;
  const fresh: XmlNode[] = [];
  node[tag] = fresh;
  return fresh;
}

/** A new element. */
export function element(tag: string, attrs: Record<string, string>, children: XmlNode[] = []): XmlNode {
  return { [tag]: children, ':@': attrs };
}

/** An element found in a tree, with its ancestors from the outermost down. */
export interface Found {
  /** The element. */
  node: XmlNode;
  /** Its ancestors, outermost first; the last is its parent. */
  ancestors: XmlNode[];
}

/** Every element, in document order, for which `match` holds. */
export function findAll(nodes: XmlNode[], match: (tag: string, attrs: Record<string, string>) => boolean, ancestors: XmlNode[] = []): Found[] {
  const out: Found[] = [];
  for (const node of nodes) {
    const tag = tagOf(node);
    if (!tag) continue;
    if (match(tag, attrsOf(node))) out.push({ node, ancestors });
    out.push(...findAll(childrenOf(node), match, [...ancestors, node]));
  }
  return out;
}

/** The document's `<mujoco>` element. */
export function mujocoRoot(nodes: XmlNode[]): XmlNode | undefined {
  return nodes.find((n) => tagOf(n) === 'mujoco');
}

/** The child section `tag` of `parent` (`asset`, `sensor`, ...), added at the end when missing. */
export function section(parent: XmlNode, tag: string): XmlNode {
  const children = childrenOf(parent);
  const existing = children.find((n) => tagOf(n) === tag);
  if (existing) return existing;
  const fresh = element(tag, {});
  children.push(fresh);
  return fresh;
}

/** Formats numbers as MJCF attribute text: `0 0 0.1`. */
export function vec(values: readonly number[]): string {
  return values.join(' ');
}
