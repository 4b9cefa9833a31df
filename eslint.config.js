// ESLint flat config: typescript-eslint's recommended rules over the TypeScript
// sources and tests; generated and vendored files are ignored.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["dist/", "node_modules/", ".portcullis/", "coverage/", ".ci/*.json", ".tmp*/"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: "module",
      // Node's globals, for the plain .js/.mjs files (TypeScript files get them from @types/node).
      globals: Object.fromEntries(
        [
          "process",
          "console",
          "Buffer",
          "URL",
          "URLSearchParams",
          "TextEncoder",
          "TextDecoder",
          "AbortController",
          "fetch",
          "performance",
          "structuredClone",
          "queueMicrotask",
          "setTimeout",
          "clearTimeout",
          "setInterval",
          "clearInterval",
          "setImmediate",
          "clearImmediate",
        ].map((name) => [name, "readonly"]),
      ),
    },
    rules: {
      // `_`-prefixed parameters and variables are deliberately unused.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_" },
      ],
      // Interpreter code legitimately loops with `while (true)`.
      "no-constant-condition": ["error", { checkLoops: false }],
      // Walking a parent chain starts from `this` (`for (let s = this; s; s = s.parent)`).
      "@typescript-eslint/no-this-alias": "off",
    },
  },
);
