// ESLint (flat config): TypeScript and Svelte rules, plus the layer rules that keep the architecture honest —
//   web/      never imports gpu/ or engine internals: only workers/api.ts, workers/engine/trace.ts, the Worker
//             entry as `workers/engine.worker.ts?worker`, and type-only imports;
//   gpu/      imports nothing from workers/ or web/;
//   workers/  imports nothing from web/;
//   lessons/  are data: no code from gpu/, workers/ or web/ (type-only imports allowed).
// scripts/lint-layers.test.ts proves these rules fire (scripts/lint-fixtures/).
import js from '@eslint/js';
import svelte from 'eslint-plugin-svelte';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Matches an import path that enters the top-level folder `dir` (relative or not), e.g. '../../gpu/device.ts'. */
const enters = (dir) => `(^|/)${dir}/`;

/** `no-restricted-imports` (the TS-aware one, which understands `import type`) for one layer. */
function layer(name, files, patterns) {
  return { name: `decode-lab/layers/${name}`, files, rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } };
}

export default tseslint.config(
  { name: 'decode-lab/ignores', ignores: ['dist/**', 'node_modules/**', '.device/**', 'public/**', 'test-results/**', 'playwright-report/**', 'scripts/lint-fixtures/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    name: 'decode-lab/language',
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.worker, ...globals.node },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // WebGPU's GPU* globals (GPUBufferUsage, …) come from @webgpu/types; TypeScript already checks undefined names.
      'no-undef': 'off',
    },
  },
  {
    name: 'decode-lab/svelte',
    files: ['**/*.svelte', '**/*.svelte.ts'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] } },
  },
  layer('web', ['web/**'], [
    { regex: enters('gpu'), allowTypeImports: true, message: 'web/ must not import gpu/: talk to the engine through workers/api.ts (type-only imports are fine).' },
    {
      // Everything in workers/ but the public surface: the API types, the trace types and the Worker entry (?worker).
      regex: `${enters('workers')}(?!(api\\.ts|engine/trace\\.ts|engine\\.worker\\.ts\\?worker)$)`,
      allowTypeImports: true,
      message: 'web/ may import only workers/api.ts, workers/engine/trace.ts and workers/engine.worker.ts?worker (type-only imports are fine).',
    },
  ]),
  layer('gpu', ['gpu/**'], [
    { regex: enters('(workers|web)'), message: 'gpu/ knows WebGPU and nothing else: it must not import workers/ or web/.' },
  ]),
  layer('workers', ['workers/**'], [{ regex: enters('web'), message: 'workers/ must not import web/: the engine knows nothing of the UI.' }]),
  layer('lessons', ['lessons/**'], [
    { regex: enters('(gpu|workers|web)'), allowTypeImports: true, message: 'lessons/ are data: no code from gpu/, workers/ or web/ (type-only imports are fine).' },
  ]),
);
