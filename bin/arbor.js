#!/usr/bin/env node
// The `arbor` command. The sources are TypeScript run through tsx, so a fresh `npm install`
// is all it takes: there is no build step to forget.
import { registerTypeScript } from './typescript.js';

registerTypeScript();
await import('../src/cli/main.ts');
