import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    globalSetup: ["./scripts/node-guard.ts", "./scripts/ensure-database.ts"],
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // One file at a time on 2 cores (vitest's default, cores − 1). 3 workers took the suite from
    // 692 s to 469 s, but some files read the global order, which stops at any open transaction
    // in the cluster (heldBack): another file's transaction then hides their events. Those reads
    // must wait out `heldBack` (reconciler tests' `everyEvent` does) before files run in parallel.
  },
})
