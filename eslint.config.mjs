// ESLint (flat config): typescript-eslint's recommended rules for the TypeScript, Vue's for the views. Formatting is
// Prettier's (.prettierrc.json), not ESLint's. `npm run lint` runs it with the layering check.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';

export default tseslint.config(
  { ignores: ['dist/**', 'release/**', 'node_modules/**', 'test-results/**', 'tests/fixtures/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
  },
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    rules: {
      // Names are the TypeScript compiler's to check (it knows DOM and Node types, which no-undef does not).
      'no-undef': 'off',
      // Unused names are the TypeScript compiler's to report (noUnusedLocals / noUnusedParameters), with its `_` rule.
      '@typescript-eslint/no-unused-vars': 'off',
      // The engine and the tests load optional or late packages with require() on purpose (onnxruntime-node, h5wasm).
      '@typescript-eslint/no-require-imports': 'off',
      // Layout of templates is Prettier's.
      'vue/max-attributes-per-line': 'off',
      'vue/singleline-html-element-content-newline': 'off',
      'vue/multiline-html-element-content-newline': 'off',
      'vue/html-self-closing': 'off',
      'vue/html-indent': 'off',
      'vue/html-closing-bracket-newline': 'off',
    },
  },
);
