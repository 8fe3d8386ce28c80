// Lint for every package: ESLint's and typescript-eslint's recommended rules, and one rule of our
// own making a structural promise: no file reaches into another package by a relative path
// (`../../backend-docker/dist/...`), so every dependency between packages is declared in a
// package.json, where pnpm and turbo see it.
import { existsSync } from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** The folder of the nearest package.json at or above `dir`. */
function packageRoot(dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return null;
  }
}

/** Relative imports (and re-exports, dynamic imports) must stay inside the importing file's package. */
const noRelativePackages = {
  meta: { type: 'problem', messages: { out: '"{{spec}}" reaches into {{target}} by a relative path; depend on that package in package.json and import it by name' } },
  create(context) {
    const from = packageRoot(path.dirname(context.filename));
    const check = (node) => {
      const spec = node?.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = path.resolve(path.dirname(context.filename), spec);
      const to = packageRoot(existsSync(target) ? target : path.dirname(target));
      if (from && to && to !== from) context.report({ node, messageId: 'out', data: { spec, target: path.relative(path.dirname(from), to) } });
    };
    return {
      ImportDeclaration: (n) => check(n.source),
      ExportNamedDeclaration: (n) => check(n.source),
      ExportAllDeclaration: (n) => check(n.source),
      ImportExpression: (n) => check(n.source),
    };
  },
};

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.tools/**', '**/oclif.manifest.json', '.turbo/**', '**/.turbo/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { 'bot-bottle': { rules: { 'no-relative-packages': noRelativePackages } } },
    rules: {
      'bot-bottle/no-relative-packages': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `catch {}` and empty callbacks are deliberate where an error has nowhere better to go.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Validators match control characters on purpose (refusing them in names, paths, refs).
      'no-control-regex': 'off',
      // `ProvisionerDefinition<any>` is how the registry and runner hold definitions whose option
      // types differ; everything from outside is `unknown` and checked with valibot.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
