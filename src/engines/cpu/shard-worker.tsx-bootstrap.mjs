// Worker entry when running from TypeScript sources (tsx, vitest): registers tsx's loader in this
// worker, then loads the real entry. Bundled builds start shard-worker.node.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./shard-worker.node.ts');
