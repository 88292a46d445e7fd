/**
 * The pool's part of the reconciler benchmark (`pnpm --filter @idtrail/reconciler bench pool`; also
 * run by `pnpm bench`): `BENCH_POOL_ACCOUNTS` connected accounts (default 100) of
 * `BENCH_POOL_SESSIONS` sessions each (default 1,000), swept by a pool of 1, 2 and 4 workers
 * (`BENCH_POOL_WORKERS`) in this process into a fresh schema each on Postgres (`DATABASE_URL`,
 * default the CI database), the rate limit off. The simulator runs in a process of its own, so its
 * work does not share this process's thread with the workers'.
 *
 * Prints a table (wall time, sessions a second, speed-up to 1 worker) and the JSON, and writes
 * `<repoRoot>/bench-results/reconciler-pool.json`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { EventStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Effect } from "effect"
import { runPool } from "../src/pool.ts"
import { makeSharedLimit } from "../src/postgres-limit.ts"
import { makeRateLimit } from "../src/request-policy.ts"
import { makeStripeApi } from "../src/stripe-api.ts"

const ACCOUNTS = Number(process.env.BENCH_POOL_ACCOUNTS ?? 100)
const SESSIONS = Number(process.env.BENCH_POOL_SESSIONS ?? 1_000)
const WORKERS = (process.env.BENCH_POOL_WORKERS ?? "1,2,4").split(",").map(Number)
const KEY = "sk_test_bench_pool"
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/idtrail_ci"

const repoRoot = (() => {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir
    if (path.dirname(dir) === dir) throw new Error("cannot find the repository root (pnpm-workspace.yaml)")
  }
})()

const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `acct_bench${String(i + 1).padStart(4, "0")}`)

/** The simulator CLI in a child process; resolves with its URL once it listens. */
const startSimulatorProcess = () =>
  new Promise<{ url: string; child: ChildProcess }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(repoRoot, "packages/simulator/src/cli.ts"),
        "--port",
        "0",
        "--seed",
        "21",
        "--rate-limit",
        "0",
        "--connected-sessions",
        String(SESSIONS),
        ...accounts.flatMap((a) => ["--connected-account", a]),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    )
    let out = ""
    child.stdout!.on("data", (d) => {
      out += d
      const url = /^(http:\/\/\S+)$/m.exec(out)?.[1]
      if (url !== undefined) resolve({ url, child })
    })
    child.on("exit", (code) => reject(new Error(`the simulator exited (${code}) before listening`)))
  })

/**
 * What the shared rate limit costs a request: `LIMIT_CALLS` turns taken at a rate never reached
 * (no waiting), one at a time and 8 at once, through Postgres and through the in-process limit.
 */
const LIMIT_CALLS = Number(process.env.BENCH_POOL_LIMIT_CALLS ?? 2_000)
const limitCost = async () => {
  const store = await openTemporaryStore({ databaseUrl })
  try {
    const shared = makeSharedLimit(store.service, "acct_bench_limit", 1e9)
    const memory = makeRateLimit(1e9)
    const perCall = async (
      limit: (e: Effect.Effect<void>) => Effect.Effect<void, unknown>,
      concurrency: number,
    ) => {
      const t = performance.now()
      await Effect.runPromise(
        Effect.all(
          Array.from({ length: LIMIT_CALLS }, () => limit(Effect.void)),
          { concurrency, discard: true },
        ),
      )
      return Number((((performance.now() - t) / LIMIT_CALLS) * 1000).toFixed(1))
    }
    await perCall(shared, 8) // warm up
    return {
      calls: LIMIT_CALLS,
      microsecondsPerRequest: {
        postgresOneAtATime: await perCall(shared, 1),
        postgres8AtOnce: await perCall(shared, 8),
        inProcessOneAtATime: await perCall(memory, 1),
      },
    }
  } finally {
    await store.dispose()
  }
}
const sharedLimit = await limitCost()
console.error(`shared rate limit: ${JSON.stringify(sharedLimit.microsecondsPerRequest)} µs a request`)

const t0 = performance.now()
const sim = await startSimulatorProcess()
console.error(
  `simulator: ${ACCOUNTS} accounts × ${SESSIONS} sessions at ${sim.url} (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
)

const stripeFor = (account: string) =>
  makeStripeApi({
    apiKey: KEY,
    baseUrl: sim.url,
    maxRequestsPerSecond: 1e9,
    maxRetries: 2,
    stripeAccount: account,
  })

const rows: Array<{ workers: number; seconds: number; sessionsPerSecond: number; speedUp: number }> = []
for (const workers of WORKERS) {
  const store = await openTemporaryStore({ databaseUrl })
  try {
    const t = performance.now()
    const result = await Effect.runPromise(
      runPool({ accounts, workers, mode: "sweep", stripeFor }).pipe(
        Effect.provideService(EventStore, store.service),
      ),
    )
    const seconds = (performance.now() - t) / 1000
    const started = result.reports.reduce((n, r) => n + r.started, 0)
    if (!result.complete || started !== ACCOUNTS * SESSIONS)
      throw new Error(`the pool of ${workers} recorded ${started} of ${ACCOUNTS * SESSIONS} sessions`)
    const base = rows[0]?.seconds ?? seconds
    rows.push({
      workers,
      seconds: Number(seconds.toFixed(1)),
      sessionsPerSecond: Math.round(started / seconds),
      speedUp: Number((base / seconds).toFixed(2)),
    })
    console.error(`${workers} workers: ${seconds.toFixed(1)} s`)
  } finally {
    await store.dispose()
  }
}
sim.child.kill("SIGTERM")

const results = {
  machine: `${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ""}, Node ${process.version}, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
  accounts: ACCOUNTS,
  sessionsPerAccount: SESSIONS,
  rateLimit: "off",
  pools: rows,
  sharedLimit,
}
console.table(rows)
console.log(JSON.stringify(results, null, 2))
const outDir = path.join(repoRoot, "bench-results")
mkdirSync(outDir, { recursive: true })
writeFileSync(path.join(outDir, "reconciler-pool.json"), `${JSON.stringify(results, null, 2)}\n`)
