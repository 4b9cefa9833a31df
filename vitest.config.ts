import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/build.ts"],
    // Separate processes: a runaway or crashing suite cannot take the others down.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
