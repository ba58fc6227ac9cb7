// Worker-thread bootstrap for the evaluator pool. Node 20 cannot load TypeScript in a Worker by
// itself, so this plain-JS file registers tsx in the worker's thread and then loads worker.ts.
import { registerTypeScript } from '../../bin/typescript.js';

registerTypeScript();
await import('./worker.ts');
