#!/usr/bin/env node
// Runs a TypeScript file (benchmarks, scripts) with tsx registered: `node bin/run-ts.js FILE.ts`.
import { registerTypeScript } from './typescript.js';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const [file, ...rest] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bin/run-ts.js FILE.ts [args...]');
  process.exit(2);
}
process.argv = [process.argv[0], resolve(file), ...rest];
registerTypeScript();
await import(pathToFileURL(resolve(file)).href);
