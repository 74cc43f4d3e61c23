// Bundles the command line for running without the sources and without npm (the lent GPU machine:
// ../shared/device/README.md): dist-node/cli.mjs plus the CPU engine's worker entry beside it.
// `webgpu` stays external (its native dawn.node is packed separately). WGSL shaders and the
// embedded data are read at run time from SPC_SHADER_DIR / SPC_DATA_DIR.
//   node scripts/build-node.mjs
import { build } from 'esbuild';

await build({
  entryPoints: {
    cli: 'src/cli/main.ts',
    'shard-worker.node': 'src/engines/cpu/shard-worker.node.ts',
  },
  outdir: 'dist-node',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['webgpu'],
  logLevel: 'warning',
  // Bundled ESM still needs `require` for the few CommonJS dependencies.
  banner: { js: "import { createRequire as __spcCreateRequire } from 'node:module'; const require = __spcCreateRequire(import.meta.url);" },
});
console.log('built dist-node/cli.mjs and dist-node/shard-worker.node.mjs');
