import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts", "plugins/*/tests/**/*.test.ts", "host-sim/**/*.test.ts", "sdk/**/*.test.ts", "converter/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    // Two cores in CI: keep workers to the machine.
    pool: "forks",
  },
});
