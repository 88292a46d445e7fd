import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    globalSetup: ["./scripts/node-guard.ts", "./scripts/ensure-database.ts"],
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})
