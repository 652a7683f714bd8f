import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // packages/sdk/template/ holds {{placeholders}}: tests/scaffold builds and tests what it becomes.
  // assembly/, plugins/*/*.ts and tests/as/ are AssemblyScript, which this TypeScript config misreads.
  { ignores: ["node_modules/", "build/", "dist/", "assembly/", "packages/sdk/template/", "packages/sdk/index.ts", "plugins/*/*.ts", "**/*.wasm", "tests/as/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: "readonly", console: "readonly", Buffer: "readonly", URL: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", performance: "readonly", TextDecoder: "readonly", TextEncoder: "readonly", WebAssembly: "readonly", fetch: "readonly", AbortController: "readonly", queueMicrotask: "readonly", setImmediate: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  // CommonJS files (an app the Pinpoint Node agent instruments must be CommonJS).
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", module: "writable", __dirname: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
