// ESLint (flat config): the recommended JavaScript and typescript-eslint rules, and the import
// boundaries that keep the architecture readable (docs/architecture.md, "Layout"): pure math below,
// engines beside it, training above them, the workers above that, the page on top and never training.
// `npm run lint`; part of `npm test`.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** An import-boundary rule: files under `files` may not import from `from` (type imports too unless `types`). */
function boundary(files, from, why, types = false) {
  return {
    files,
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: from, message: why, allowTypeImports: types }] }],
    },
  };
}

const BELOW_ENGINES = 'depends on what it serves; see docs/architecture.md, "Layout"';

export default tseslint.config(
  { ignores: ['dist/', 'dist-node/', '.device-pack/', 'node_modules/', 'test-results/', 'scratch/', 'public/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node, ...globals.worker } },
    rules: {
      // tsc (noUnusedLocals / noUnusedParameters) already reports these, with the same exceptions.
      '@typescript-eslint/no-unused-vars': 'off',
      // Non-null assertions follow checks the compiler cannot see (typed-array indices, maps filled above).
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // The pure math and data modules import no engine, trainer, worker, page, experiment or CLI.
  boundary(
    ['src/circuit/**', 'src/data/**', 'src/util/**'],
    ['**/engines/**', '**/training/**', '**/worker/**', '**/ui/**', '**/experiments/**', '**/cli/**'],
    `the circuit, data and util modules are pure: this import ${BELOW_ENGINES}`,
  ),
  // Engines implement the Engine interface; they never reach up into training, workers or the page.
  boundary(['src/engines/**'], ['**/training/**', '**/worker/**', '**/ui/**', '**/experiments/**', '**/cli/**'], `an engine ${BELOW_ENGINES}`),
  boundary(['src/training/**'], ['**/worker/**', '**/ui/**', '**/experiments/**', '**/cli/**'], `training ${BELOW_ENGINES}`),
  boundary(['src/experiments/**'], ['**/worker/**', '**/ui/**', '**/cli/**'], `an experiment ${BELOW_ENGINES}`),
  boundary(['src/worker/**'], ['**/cli/**'], `the worker ${BELOW_ENGINES}`),
  // The page never trains: it may read types and pure settings, never an engine or the trainer itself.
  // (src/ui/bench.ts is the benchmark page, whose whole point is to run the engines in the page.)
  {
    ...boundary(
      ['src/ui/**'],
      [
        '**/engines/cpu/**',
        '**/engines/gpu/engine.ts',
        '**/engines/gpu/fallback.ts',
        '**/engines/create-*.ts',
        '**/training/trainer.ts',
        '**/engines/em.ts',
        '**/worker/session.ts',
      ],
      'the page never trains: only the training worker (src/worker/) runs engines and the trainer',
      true,
    ),
    ignores: ['src/ui/bench.ts'],
  },
);
