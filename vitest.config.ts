import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests that spawn the CLI build it first; keep output readable on 2 cores.
    fileParallelism: true,
  },
});
