// Bundles a Node entry (the CLI, benchmarks) into one ESM file with esbuild, with `webgpu` left external and
// Vite-style `?raw` imports (our WGSL) inlined as text. Usage: node scripts/bundle.mjs <entry.ts> <out.mjs>
// [--self-contained]: also bundle the JS dependencies (transformers.js for tokenizers), for a machine that has
// no node_modules (the GPU machine); transformers' native backends, which the engine never uses, stay
// external and must be stubbed beside the bundle (see scripts/device-bundle.sh).
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

const args = process.argv.slice(2);
const selfContained = args.includes('--self-contained');
const [entry, outfile] = args.filter((a) => !a.startsWith('--'));
if (!entry || !outfile) {
  console.error('usage: node scripts/bundle.mjs <entry.ts> <out.mjs>');
  process.exit(2);
}

const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({ path: path.resolve(args.resolveDir, args.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, async (args) => ({ contents: await readFile(args.path, 'utf8'), loader: 'text' }));
  },
};

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: selfContained ? ['webgpu', 'onnxruntime-node', 'sharp'] : ['webgpu', '@huggingface/transformers', 'onnxruntime-node', 'sharp'],
  plugins: [rawPlugin],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
