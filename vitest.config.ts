import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    globalSetup: ["./scripts/node-guard.ts", "./scripts/ensure-database.ts"],
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Vitest's default on 2 cores is one worker (cores − 1), but most of a file's time is spent
    // waiting on Postgres, HTTP and spawned CLI processes: 3 workers took the suite from 692 s to
    // 469 s here, with every test passing.
    maxWorkers: 3,
  },
})
