import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Migrations and the migrator work on a schema frozen in time, not on the app's types.
    files: ['migrations/**', 'src/platform/migrate.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
