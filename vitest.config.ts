import { configDefaults, defineConfig } from "vitest/config"

// Two groups, one after the other. The files that read the global order (the store's, and the
// cross-package scenarios) run one at a time: that order rightly stops at any open transaction
// in the cluster (heldBack), so another file's transaction would hide their events. The others
// (domain, simulator, webhooks, audit, reconciler: their global-order reads wait heldBack out)
// mostly wait on Postgres, HTTP and child processes, and run 3 files at once on 2 cores.
const shared = {
  globalSetup: ["./scripts/node-guard.ts", "./scripts/ensure-database.ts"],
  testTimeout: 60_000,
  hookTimeout: 120_000,
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: "global-order",
          include: ["packages/store/test/**/*.test.ts", "test/**/*.test.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          ...shared,
          name: "parallel",
          // Every package but the store, so a new package's tests run here without a config change.
          include: ["packages/*/test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "packages/store/**"],
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
})
