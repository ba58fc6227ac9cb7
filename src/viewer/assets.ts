/**
 * The files the page loads: the HTML (with the import map), the client bundle (the TypeScript in
 * ./client compiled once by esbuild into two scripts, three and uPlot left as imports), the
 * stylesheet, and a fixed list of vendor files (three's ESM build and OrbitControls, uPlot). Nothing
 * else on disk is served.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const threeBuild = dirname(require.resolve('three'));
const threeJsm = join(threeBuild, '..', 'examples', 'jsm');
const uplotDist = dirname(require.resolve('uplot'));

/** A served file: its bytes and content type. */
export interface Asset {
  /** Content. */
  body: Buffer;
  /** MIME type. */
  type: string;
}

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/** URL path → file on disk, for the vendor files the import map names. */
const VENDOR: Record<string, [string, string]> = {
  '/vendor/three/three.module.js': [join(threeBuild, 'three.module.js'), JS],
  '/vendor/three/three.core.js': [join(threeBuild, 'three.core.js'), JS],
  '/vendor/three/addons/controls/OrbitControls.js': [join(threeJsm, 'controls', 'OrbitControls.js'), JS],
  '/vendor/uplot/uPlot.esm.js': [join(uplotDist, 'uPlot.esm.js'), JS],
  '/vendor/uplot/uPlot.min.css': [join(uplotDist, 'uPlot.min.css'), CSS],
  '/style.css': [join(here, 'client', 'style.css'), CSS],
};

const IMPORT_MAP = JSON.stringify({
  imports: {
    three: '/vendor/three/three.module.js',
    'three/addons/': '/vendor/three/addons/',
    uplot: '/vendor/uplot/uPlot.esm.js',
  },
});

/** The Content-Security-Policy of every response: only this origin's files, and the one inline import map. */
export const CSP = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}'`,
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

// Module scripts run in document order: /language.js makes navigator.language a valid tag before
// /app.js loads uPlot, which formats numbers with it as soon as its module is evaluated.
const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>arbor viewer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/vendor/uplot/uPlot.min.css">
<link rel="stylesheet" href="/style.css">
<script type="importmap">${IMPORT_MAP}</script>
<script type="module" src="/language.js"></script>
<script type="module" src="/app.js"></script>
</head>
<body data-mode="replay">
<header id="bar">
  <strong>arbor</strong>
  <select id="study-select" title="study"></select>
  <nav id="modes">
    <button id="mode-replay" data-mode="replay" title="replay stored episodes">Replay</button>
    <button id="mode-live" data-mode="live" title="watch a running study">Live</button>
    <button id="mode-model" data-mode="model" title="the model at rest">Model</button>
  </nav>
  <span id="live-workers"></span>
  <span id="problems"></span>
</header>
<main>
  <section id="dashboard">
    <div id="study-info"></div>
    <div id="gauntlet-heatmap" hidden></div>
    <div id="workers-panel"></div>
    <div id="score-plot"></div>
    <div id="pareto-plot" hidden></div>
    <div id="compare-bar"></div>
    <table id="candidates"></table>
    <div id="episodes"></div>
  </section>
  <section id="viewer">
    <div id="scene-row">
      <div id="stage"><canvas id="canvas" tabindex="0"></canvas><div id="info"></div><div id="labels"></div></div>
      <div id="pictures"></div>
    </div>
    <div id="transport">
      <button id="play" title="play / pause (Space)">▶</button>
      <button id="step-back" title="previous frame (←, Shift: 10)">|◀</button>
      <button id="step-fwd" title="next frame (→, Shift: 10)">▶|</button>
      <input id="scrubber" type="range" min="0" max="0" step="1" value="0" title="timeline">
      <span id="time">0.00 / 0.00 s</span>
      <select id="speed" title="playback speed ([ and ])"></select>
      <label title="L"><input id="loop" type="checkbox" checked> loop</label>
      <label title="C"><input id="contacts-toggle" type="checkbox" checked> contacts</label>
      <select id="camera" title="camera"><option value="orbit">orbit camera</option></select>
      <a id="mcap" class="button" hidden download title="download this episode as an MCAP file for Foxglove and ros2 bag">MCAP</a>
    </div>
    <div id="plots"></div>
  </section>
</main>
</body>
</html>
`;

let bundle: Promise<Map<string, Buffer>> | undefined;

/** The client bundle, its scripts by URL path (`/language.js`, `/app.js`), compiled on first use (~0.1 s) and kept. */
export function clientBundle(): Promise<Map<string, Buffer>> {
  bundle ??= (async () => {
    const { build } = await import('esbuild');
    const out = await build({
      entryPoints: { language: join(here, 'client', 'language-first.ts'), app: join(here, 'client', 'main.ts') },
      outdir: join(here, 'client'),
      bundle: true,
      format: 'esm',
      target: 'es2022',
      platform: 'browser',
      write: false,
      external: ['three', 'three/addons/*', 'uplot'],
      logLevel: 'silent',
      legalComments: 'none',
    });
    return new Map(out.outputFiles.map((f) => [`/${basename(f.path)}`, Buffer.from(f.contents)]));
  })();
  bundle.catch(() => (bundle = undefined));
  return bundle;
}

const cache = new Map<string, Asset>();

/** The asset at a URL path, or undefined when it is not one of the served files. */
export async function asset(path: string): Promise<Asset | undefined> {
  if (path === '/' || path === '/index.html') return { body: Buffer.from(HTML), type: 'text/html; charset=utf-8' };
  if (path === '/app.js' || path === '/language.js') return { body: (await clientBundle()).get(path)!, type: JS };
  const vendor = VENDOR[path];
  if (!vendor) return undefined;
  let a = cache.get(path);
  if (!a) {
    a = { body: readFileSync(vendor[0]), type: vendor[1] };
    cache.set(path, a);
  }
  return a;
}
