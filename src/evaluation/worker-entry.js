// Worker-thread bootstrap for the evaluator pool. Node 20 cannot load TypeScript in a Worker by
// itself, so this plain-JS file registers tsx in the worker's thread and then loads worker.ts.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
