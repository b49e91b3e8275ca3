// Lint: promises that nobody awaits, and the layer rules of the README's Layout section.
// Formatting is prettier's job (`npm run lint` runs both); eslint-config-prettier turns off the
// stylistic rules that would fight it.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** Top-level folders, lowest layer first (see README, Layout). */
const LAYERS = ['core', 'platform', 'db', 'activities', 'workflows', 'api', 'workers', 'simulators', 'launcher', 'bin'];

/** A pattern matching a relative import of one of `folders`, from any depth below the root. */
function layerPattern(folders, message, extra = {}) {
  return { regex: `^(\\.\\./)+(${folders.join('|')})(/|$)`, message, ...extra };
}

const NODE_BUILTINS = {
  regex: `^(node:.*|(${builtinModules.filter((m) => !m.startsWith('_')).join('|')})(/.*)?)$`,
  message: 'core/ is shared with workflows, which run in a sandbox: no Node built-ins.',
};

/** `folder/` may import only from `allowed` (and itself); anything else is an upward import. */
function layerRule(folder, allowed, message, extra = []) {
  const forbidden = LAYERS.filter((l) => l !== folder && !allowed.includes(l)).concat('test', 'bench');
  return {
    files: [`${folder}/**/*.ts`],
    rules: {
      '@typescript-eslint/no-restricted-imports': ['error', { patterns: [layerPattern(forbidden, message), ...extra] }],
    },
  };
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', 'test/fixtures/workflow-bundles/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true },
      globals: { console: 'readonly', process: 'readonly', require: 'readonly', module: 'writable' },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // Casts at library seams (Koa, knex, gateway SDKs) and in tests are deliberate.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
  {
    // A function reads at once or is split into named steps. Tests (one behaviour per test, long
    // scenario builders) and migrations (declarative schema) are exempt.
    files: ['**/*.ts'],
    ignores: ['test/**', 'db/migrations/**'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  layerRule('core', [], 'core/ is pure shared code: it imports no other layer.', [NODE_BUILTINS]),
  {
    // Workflows are bundled into Temporal's sandbox: at run time they may load only the workflow
    // SDK, core/ and each other. Types (erased when bundled) may come from anywhere.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!@temporalio/workflow$|\\./|(\\.\\./)+core(/|$))',
              allowTypeImports: true,
              message:
                'workflows/ import only @temporalio/workflow, core/ and other workflows (types may come from anywhere).',
            },
          ],
        },
      ],
    },
  },
  layerRule('platform', ['core'], 'platform/ is the base (config, logging, processes): it imports only core/.'),
  layerRule(
    'db',
    ['core', 'platform'],
    'db/ knows nothing of HTTP or activities: it imports only core/ and platform/.',
  ),
  layerRule('activities', ['core', 'platform', 'db'], 'activities/ import only core/, platform/ and db/.'),
  layerRule(
    'api',
    ['core', 'platform', 'db', 'workflows'],
    'api/ imports only core/, platform/, db/ and workflows/ (for their types); shared definitions live in core/ or db/.',
  ),
  layerRule(
    'workers',
    ['core', 'platform', 'db', 'activities', 'workflows'],
    'workers/ import only core/, platform/, db/, activities/ and workflows/.',
  ),
  layerRule(
    'simulators',
    ['core'],
    'simulators/ depend only on the wire formats they imitate (and core/): no adapters, no platform.',
  ),
  layerRule(
    'launcher',
    ['core', 'platform', 'db', 'activities', 'workflows', 'api', 'workers', 'simulators'],
    'launcher/ is the composition root: everything but bin/, test/ and bench/.',
  ),
  prettier,
);
