import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const src = 'packages/*/src/**/*.ts';
const pkg = (path) => `packages/${path}`;
const lib = (path) => `packages/baton-auth/src/${path}`;
const srv = (path) => `packages/baton-auth-server/src/${path}`;

// Size limits (issue #23): a source file at most 300 lines, a function at most 60. Every line counts — blank lines and
// comments included — so the rule measures what `wc -l` and a reader's screen show; TSDoc sits above a function, not in
// it, so documenting an export never pushes a function over. The one list of exceptions, each with its reason:
// [files, reason, ...rules] with rules among 'file' (max-lines) and 'function' (max-lines-per-function).
const sizeExceptions = [
  // Being restructured on other #23 branches at the same time; the lead trims these after merging.
  [[lib('remote/**')], 'being split in #23 (branch toolkit)', 'file', 'function'],
  [[lib('core/verify.ts'), lib('core/resource.ts')], 'being split in #23 (branch toolkit)', 'file', 'function'],
  [[lib('http/bearer.ts'), lib('http/dpop.ts'), lib('http/context.ts'), lib('core/dpop.ts'), lib('core/issue.ts')], 'being split in #23 (branch dpop)', 'file', 'function'],
  [[pkg('baton-auth-client/src/**')], 'being split in #23 (branch client)', 'file', 'function'],
  [[srv('server/config.ts'), lib('http/respond.ts'), lib('http/clients.ts'), lib('http/rate-limit.ts'), lib('http/login-protection.ts')], 'being split in #23 (branch errors)', 'file', 'function'],
  // Not split yet (branch limits ran out of time before reaching them).
  [[srv('cli/main.ts'), srv('server/custody.ts'), lib('core/baton.ts'), lib('core/store.ts'), lib('stores/postgres-schema.ts'), lib('stores/postgres.ts'), lib('stores/redis-scripts.ts'), lib('stores/redis.ts'), lib('stores/sqlite.ts')], 'not split yet', 'file'],
  [[srv('server/app.ts'), srv('server/workers.ts'), lib('ws/server.ts'), lib('stores/conformance/sessions.ts')], 'not split yet', 'file', 'function'],
  [[srv('server/cluster.ts'), srv('server/ops.ts'), srv('server/storage-health.ts'), lib('core/options.ts'), lib('core/refresh.ts'), lib('core/revoke.ts'), lib('http/auto-refresh.ts'), lib('http/handler.ts'), lib('http/routes/*.ts'), lib('stores/conformance/*.ts')], 'not split yet', 'function'],
];

const sizeRules = { file: 'max-lines', function: 'max-lines-per-function' };

export default tseslint.config(
  { ignores: ['**/dist/', 'node_modules/', 'coverage/', '.tmp/', 'packages/baton-auth-server/web/client.js'] },
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
  ...sizeExceptions.map(([files, , ...rules]) => ({ files, rules: Object.fromEntries(rules.map((rule) => [sizeRules[rule], 'off'])) })),
  { files: ['bench/**', 'scripts/**', 'packages/*/scripts/**', 'packages/baton-auth-server/src/cli/**'], rules: { 'no-console': 'off' } },
  {
    files: ['packages/baton-auth-server/web/**/*.js'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly', fetch: 'readonly', setInterval: 'readonly', setTimeout: 'readonly', console: 'readonly', BroadcastChannel: 'readonly', navigator: 'readonly', localStorage: 'readonly' } },
  },
);
