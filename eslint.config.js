// Lint rules of the house: strict TypeScript, no floating promises, no any, no non-null assertions.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'test-results/**', '**/*.svelte', 'bin/bouquet.js', 'server/placement/thread-boot.mjs', 'eslint.config.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Every throw in source carries a code (core/errors): no bare Error/TypeError/RangeError.
  {
    files: ['core/**/*.ts', 'sim/**/*.ts', 'worker/**/*.ts', 'server/**/*.ts', 'web/**/*.ts', 'tools/**/*.ts', 'bin/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ThrowStatement > NewExpression[callee.name=/^(Error|TypeError|RangeError)$/]',
          message: 'Throw a BouquetError (or a subclass) with a code from core/errors/codes.ts.',
        },
      ],
    },
  },
);
