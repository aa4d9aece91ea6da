// One linter for the tree: typescript-eslint with type information (no-floating-promises), the
// inward dependency rule for domain/, and no focused or skipped tests.
import tseslint from 'typescript-eslint';

const focusedOrSkipped = ['it', 'test', 'describe'].flatMap((fn) =>
  ['only', 'skip'].map((m) => ({
    selector: `CallExpression[callee.type='MemberExpression'][callee.object.name='${fn}'][callee.property.name='${m}']`,
    message: `${fn}.${m} leaves tests out of the run`,
  })),
);

export default tseslint.config(
  { ignores: ['node_modules/**', '.serverless/**', '.esbuild/**', '.local/**', 'coverage/**', '**/*.js', '**/*.mjs', '**/*.generated.ts'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', ...focusedOrSkipped, { selector: 'CallExpression[callee.name=/^x(it|describe|test)$/]', message: 'skipped test' }],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@aws-sdk/*', '@smithy/*', '@middy/*', 'aws-lambda', '@aws-lambda-powertools/*'],
              message: 'domain/ is pure: no SDK, middy or Lambda types',
            },
            { group: ['**/infra/**', '**/handlers/**'], message: 'dependencies point inward: domain/ imports neither infra/ nor handlers/' },
          ],
        },
      ],
    },
  },
);
