import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // packages/sdk/template/ holds {{placeholders}}: tests/scaffold builds and tests what it becomes.
  { ignores: ["node_modules/", "build/", "dist/", "packages/sdk/template/", "**/*.wasm"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", performance: "readonly", TextDecoder: "readonly", TextEncoder: "readonly", WebAssembly: "readonly", fetch: "readonly", AbortController: "readonly", queueMicrotask: "readonly", setImmediate: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  // AssemblyScript (the SDK, the codec library, the plugins, the test harnesses; typed by assembly/tsconfig.json):
  // decorators on functions (@inline, @external) are valid there; u64 literals are exact; a
  // hook a plugin does not need keeps its parameters.
  {
    files: ["assembly/**/*.ts", "protocols/**/*.ts", "plugins/*/*.ts", "plugins/*/tests/**/*.spec.ts", "tests/as/**/*.ts", "packages/sdk/index.ts"],
    languageOptions: { parserOptions: { allowInvalidAST: true } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { args: "none", varsIgnorePattern: "^_" }],
      "no-loss-of-precision": "off",
    },
  },
  // CommonJS files (an app the Pinpoint Node agent instruments must be CommonJS).
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable", __dirname: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
