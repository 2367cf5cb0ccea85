import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/', 'node_modules/', 'coverage/', '.tmp/', 'packages/baton-auth-server/web/client.js', 'docs/api/', 'docs/.vitepress/cache/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['info', 'warn', 'error'] }],
    },
  },
  { files: ['bench/**', 'scripts/**', 'packages/*/scripts/**', 'packages/baton-auth-server/src/cli/**'], rules: { 'no-console': 'off' } },
  {
    files: ['packages/baton-auth-server/web/**/*.js'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly', fetch: 'readonly', setInterval: 'readonly', setTimeout: 'readonly', console: 'readonly', BroadcastChannel: 'readonly', navigator: 'readonly', localStorage: 'readonly' } },
  },
);
