/**
 * An episode's pictures as PNG files in a directory: every frame of every image topic (camera
 * frames, a task's derived images) and what each vision check of the scenario saw, drawn. For
 * `arbor episode --images DIR`; a stored episode's pictures are drawn from its trace on demand
 * (the viewer), so the store keeps none.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedScenario } from '../scenario/load.ts';
import { runVisionChecks } from './vision-checks.ts';
import { pngOf, viewable } from './vision-draw.ts';
import { imageFrame } from './vision.ts';
import type { Trace } from '../trace/trace.ts';

/** Writes the pictures of an episode into `dir` (created if needed); returns the files written. */
export function writeEpisodePictures(trace: Trace, scenario: Pick<LoadedScenario, 'vision' | 'cameras'>, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, png: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, png);
    written.push(path);
  };
  for (const series of trace.images.values()) {
    // `/camera/top/rgb` → `camera-top-rgb-0.png`
    const base = series.name.replace(/^\/+/, '').replace(/[^A-Za-z0-9_]+/g, '-');
    for (let frame = 0; frame < series.stamps.length; frame++) write(`${base}-${frame}.png`, pngOf(viewable(imageFrame(series, frame))));
  }
  for (const check of runVisionChecks(trace, scenario)) write(`vision-${check.name}.png`, pngOf(check.annotate()));
  return written;
}
