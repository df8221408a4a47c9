import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-postgres.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests start real servers and databases: two cores, so keep it to two.
    maxWorkers: 2,
  },
});
