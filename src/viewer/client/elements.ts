/**
 * The page's elements (the HTML is in ../assets.ts), looked up once by id and checked, so the
 * rest of the client gets typed elements and a missing one is a clear error at start; and `h`,
 * which builds the ones the client adds.
 */

/** The id (in camel case) and tag of each element the client uses. */
const IDS = {
  canvas: 'canvas',
  info: 'div',
  labels: 'div',
  plots: 'div',
  pictures: 'div',
  problems: 'span',
  studySelect: 'select',
  modeReplay: 'button',
  modeLive: 'button',
  modeModel: 'button',
  liveWorkers: 'span',
  transport: 'div',
  play: 'button',
  stepBack: 'button',
  stepFwd: 'button',
  scrubber: 'input',
  time: 'span',
  speed: 'select',
  loop: 'input',
  contactsToggle: 'input',
  camera: 'select',
  mcap: 'a',
  studyInfo: 'div',
  gauntletHeatmap: 'div',
  workersPanel: 'div',
  scorePlot: 'div',
  paretoPlot: 'div',
  compareBar: 'div',
  candidates: 'table',
  episodes: 'div',
} as const;

/** The page's elements by name (the id in kebab case: `studySelect` is `#study-select`). */
export type PageElements = { [K in keyof typeof IDS]: HTMLElementTagNameMap[(typeof IDS)[K]] };

/** Looks up every element of the page; throws naming the first one missing or of another type. */
export function pageElements(doc: Document): PageElements {
  const found: Partial<Record<keyof typeof IDS, HTMLElement>> = {};
  for (const [name, tag] of Object.entries(IDS) as [keyof typeof IDS, string][]) {
    const id = name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const el = doc.getElementById(id);
    if (el?.tagName.toLowerCase() !== tag) throw new Error(`The page has no <${tag} id="${id}">; the viewer's HTML (src/viewer/assets.ts) and its client are out of step.`);
    found[name] = el;
  }
  return found as PageElements;
}

/** A tiny element builder. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | undefined>, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, v);
  el.append(...children);
  return el;
}
