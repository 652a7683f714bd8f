// The SDK's one door for a plugin: `import { Parser, ... } from "deepflow-wasm-sdk";`
// (AssemblyScript resolves a package to its index.ts). The functions the agent calls come
// from `export * from "deepflow-wasm-sdk/assembly/exports";` in the plugin's entry file.
export * from "./assembly/index";
