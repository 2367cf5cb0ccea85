import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const src = 'packages/*/src/**/*.ts';
const pkg = (path) => `packages/${path}`;
const lib = (path) => `packages/baton-auth/src/${path}`;

// Size limits (issue #23): a source file at most 300 lines, a function at most 60. Every line counts — blank lines and
// comments included — so the rule measures what `wc -l` and a reader's screen show; TSDoc sits above a function, not in
// it, so documenting an export never pushes a function over.
// The one list of exceptions: [files, limits lifted ('file' = max-lines, 'function' = max-lines-per-function), reason].
const sizeExceptions = [
  // Kept whole on purpose.
  [lib('stores/conformance/*.ts'), 'function', 'a conformance suite is one function of t.it cases over one harness, each case its own closure'],
  [lib('core/baton.ts'), 'file', 'the public facade: one documented one-line delegation per method, read as one class in the API reference'],
  // Pushed past a limit by the formatter's first run (Prettier at 160 columns, 2026-12-07), which wraps long calls and
  // object literals; each is within 10 % of it: the next change to the file splits it.
  [pkg('baton-auth-client/src/browser.ts'), 'function', 'formatted: browserStorage 63 lines'],
  [pkg('baton-auth-client/src/client.ts'), 'file', 'formatted: 328 lines'],
  [pkg('baton-auth-client/src/websocket.ts'), 'function', 'formatted: authenticatedSocket 68 lines'],
  [pkg('baton-auth-server/src/server/config.ts'), 'function', 'formatted: loadConfig 65 lines'],
  [pkg('baton-auth-server/src/server/settings.ts'), 'file', 'formatted: the settings table, 368 lines of one entry per setting'],
  [pkg('baton-auth-server/src/server/store.ts'), 'function', 'formatted: outageAware 66 lines'],
  [lib('core/options.ts'), 'file', 'formatted: 308 lines'],
  [lib('remote/issuer.ts'), 'file function', 'formatted: remoteIssuer 90 lines of option checks and wiring, the file 319'],
  [lib('stores/memory.ts'), 'file', 'formatted: 301 lines'],
];

const sizeRules = { file: 'max-lines', function: 'max-lines-per-function' };

export default tseslint.config(
  {
    ignores: [
      '**/dist/',
      'node_modules/',
      'coverage/',
      '.tmp/',
      'packages/baton-auth-server/web/client.js',
      'docs/api/',
      'docs/.vitepress/cache/',
      '**/.next/',
      '**/.next-*/',
      '**/next-env.d.ts',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['info', 'warn', 'error'] }],
    },
  },
  {
    files: [src],
    rules: {
      'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: false, skipComments: false, IIFEs: true }],
    },
  },
  ...sizeExceptions.map(([files, limits]) => ({ files: [files], rules: Object.fromEntries(limits.split(' ').map((limit) => [sizeRules[limit], 'off'])) })),
  { files: ['bench/**', 'scripts/**', 'packages/*/scripts/**', 'packages/baton-auth-server/src/cli/**'], rules: { 'no-console': 'off' } },
  {
    files: ['packages/baton-auth-server/web/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        window: 'readonly',
        fetch: 'readonly',
        setInterval: 'readonly',
        setTimeout: 'readonly',
        console: 'readonly',
        BroadcastChannel: 'readonly',
        navigator: 'readonly',
        localStorage: 'readonly',
      },
    },
  },
);
