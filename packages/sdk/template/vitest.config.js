import { defineConfig } from "vitest/config";

// Vitest runs the replay tests; assembly/__tests__ holds as-pect's specs (they run in Wasm).
export default defineConfig({ test: { include: ["tests/**/*.test.ts"] } });
