/**
 * The page's script (after language-first.ts): builds the viewer on the page's elements, gives
 * tests and benchmarks their hooks (`window.arbor`), and starts it.
 */
import { pageElements } from './elements.ts';
import { viewerHooks } from './hooks.ts';
import { Viewer } from './viewer.ts';

async function main(): Promise<void> {
  const viewer = new Viewer(pageElements(document), window);
  window.arbor = viewerHooks(viewer);
  try {
    await viewer.start();
  } catch (err) {
    viewer.problem({ severity: 'error', message: `The viewer could not start: ${(err as Error).message}` });
    document.body.dataset.ready = 'error';
  }
}

main().catch((err: Error) => {
  // No viewer to show it (no WebGL, or the page's HTML and script disagree): the header says it.
  const box = document.getElementById('problems');
  if (box) box.textContent = `The viewer could not start: ${err.message}`;
  document.body.dataset.ready = 'error';
});
