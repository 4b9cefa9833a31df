// ESLint flat config: typescript-eslint's recommended rules over the TypeScript
// sources and tests; generated and vendored files are ignored.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["dist/", "node_modules/", ".portcullis/", "coverage/", ".ci/*.json"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: "module",
      globals: {
        process: "readonly",
        console: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        performance: "readonly",
      },
    },
    rules: {
      // `_`-prefixed parameters and variables are deliberately unused.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" },
      ],
      // Interpreter code legitimately loops with `while (true)`.
      "no-constant-condition": ["error", { checkLoops: false }],
      // Lexers test control characters in regular expressions on purpose.
      "no-control-regex": "off",
      // Walking a parent chain starts from `this` (`for (let s = this; s; s = s.parent)`).
      "@typescript-eslint/no-this-alias": "off",
    },
  },
);
