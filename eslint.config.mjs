// The lint gate (scripts/test runs it after tsc): @eslint/js and typescript-eslint recommended, the promise rules
// with type information, the module boundaries between apps, and eslint-config-prettier last so formatting is
// Prettier's alone. Inline eslint-disable comments are not honoured: fix the code instead.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { defineConfig } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const ROOT = import.meta.dirname;
const SOURCES = '{ts,js,mjs,cjs}';

const subfolders = (dir) =>
  readdirSync(path.join(ROOT, dir), { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'node_modules')
    .map((e) => e.name);

/** How many folders deep the tree under `dir` goes (0: files only). */
const depthOf = (dir) => Math.max(0, ...subfolders(dir).map((d) => 1 + depthOf(path.join(dir, d))));

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Module boundaries: code under apps/<x>/ never imports another app, and libs never import an app; what two apps
 * share goes to libs/ (path alias @platform/<lib>). The core rule matches import strings, not resolved paths, so
 * one block per folder depth spells out the `../` that reach apps/ from there: `../../invoker/src/x` is another
 * app from apps/gateway/src/main.ts, but gateway's own folder from apps/gateway/src/proxy/x.ts. Also caught:
 * climbing past apps/ (`../../../apps/invoker`) and the baseUrl form (`apps/invoker/...`).
 */
function boundaryBlocks() {
  const apps = subfolders('apps');
  const blocks = [];
  const block = (owner, depth, patterns) => ({
    name: `boundaries/${owner}/depth-${depth}`,
    files: [`${owner}/${'*/'.repeat(depth)}*.${SOURCES}`],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
  });
  for (const app of apps) {
    for (let depth = 0; depth <= depthOf(`apps/${app}`); depth++) {
      const toApps = escape('../'.repeat(depth + 1));
      const toRoot = escape('../'.repeat(depth + 2));
      const patterns = apps
        .filter((other) => other !== app)
        .map((other) => ({
          regex: `^(\\./)?(${toApps}|${toRoot}apps/|apps/)${escape(other)}(/|$)`,
          message: `apps/${app} must not import apps/${other}: move what both need to a lib under libs/ (@platform/<lib>), or talk to ${other} over RPC/HTTP.`,
        }));
      blocks.push(block(`apps/${app}`, depth, patterns));
    }
  }
  for (const lib of subfolders('libs')) {
    for (let depth = 0; depth <= depthOf(`libs/${lib}`); depth++) {
      const toRoot = escape('../'.repeat(depth + 2));
      blocks.push(
        block(`libs/${lib}`, depth, [
          { regex: `^(\\./)?(${toRoot})?apps(/|$)`, message: `libs/${lib} must not import an app: libs are shared by the apps, never the other way round.` },
        ]),
      );
    }
  }
  return blocks;
}

// Node's globals for the CommonJS scripts (tools/, bench/, the Node shim): those of the Node running ESLint, which
// is the Node that runs them, plus the module wrapper's.
const nodeGlobals = Object.fromEntries(
  [...Object.getOwnPropertyNames(globalThis), 'require', 'module', 'exports', '__dirname', '__filename'].map((name) => [name, 'readonly']),
);

export default defineConfig(
  {
    name: 'ignores',
    // tmp/, .hks/ and .nx/ hold run data; generated/ folders are written by tools, not by hand.
    ignores: ['**/dist/', '**/coverage/', 'tmp/', '.hks/', '.nx/', '**/generated/', '**/*.generated.*'],
  },
  { name: 'no inline disables', linterOptions: { noInlineConfig: true, reportUnusedDisableDirectives: 'off' } },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    name: 'promise rules (type-aware)',
    languageOptions: {
      parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: ROOT },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      'require-await': 'off',
      '@typescript-eslint/require-await': 'error',
      // `return await` inside try/catch/finally, so the catch or finally sees the rejection; plain `return` elsewhere.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/prefer-promise-reject-errors': 'error',
      // Not enabled: promise-function-async. It would add `async` to ~200 pass-through functions and test arrows
      // (`afterAll(() => app.close())`) for a bug class (a synchronous throw from a promise-returning function)
      // that the rules above and the tests already bound.
    },
  },
  {
    name: 'the web console (browser code, its own tsconfig)',
    files: ['apps/console/**/*.{ts,tsx,mts}'],
    languageOptions: {
      parserOptions: { project: './apps/console/tsconfig.json', tsconfigRootDir: ROOT },
      globals: Object.fromEntries(
        [
          'window',
          'document',
          'location',
          'history',
          'sessionStorage',
          'fetch',
          'performance',
          'setTimeout',
          'setInterval',
          'clearInterval',
          'structuredClone',
          'URLSearchParams',
          'TextDecoderStream',
          'PopStateEvent',
          'AbortController',
          'AbortSignal',
          'Response',
          'HTMLDivElement',
          'HTMLPreElement',
          'HTMLAnchorElement',
          'Date',
        ].map((n) => [n, 'readonly']),
      ),
    },
  },
  {
    name: 'unused variables',
    // `const { dropped, ...kept } = value` is how a key is left out of a copy.
    rules: { '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }] },
  },
  {
    name: 'CommonJS scripts',
    files: ['**/*.js', '**/*.cjs'],
    // typescript-eslint's parser takes the module scope of CommonJS from globalReturn, not from sourceType.
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals, parserOptions: { ecmaFeatures: { globalReturn: true } } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    name: 'lazy requires',
    files: ['**/*.ts'],
    rules: {
      // Loaded on first use, synchronously, so the CLI and the invoker do not load them at start-up: the TypeScript
      // compiler (megabytes, for builds only) and cron-parser (for function.yaml schedules only). Every other
      // module is an import; one whose path is known at run time only goes through module.require.
      '@typescript-eslint/no-require-imports': ['error', { allow: ['^typescript$', '^cron-parser$'] }],
    },
  },
  { name: 'ES module scripts', files: ['**/*.mjs'], languageOptions: { sourceType: 'module', globals: nodeGlobals } },
  ...boundaryBlocks(),
  prettier,
);
