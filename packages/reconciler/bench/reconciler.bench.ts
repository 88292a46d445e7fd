/**
 * Reconciler benchmark (`pnpm bench`; not part of `pnpm test`), against the simulator in process
 * and the store on Postgres (`DATABASE_URL`, default the CI database), in a schema of its own.
 *
 * - A sweep of `BENCH_SESSIONS` (default 100,000) generated sessions with the rate limit off:
 *   requests (⌈N/100⌉ lists), wall time, peak heap above the baseline measured before it.
 * - Incremental runs 10 minutes apart after 0, 100 and 1,000 changes: requests beside the budget
 *   (the Events API pages + one read per change + ⌈1 % of the open sessions⌉) and wall time, as a
 *   ratio to the 0-change run's.
 *
 * Prints a table and writes `<repoRoot>/bench-results/reconciler.json`.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { startSimulator } from "@idtrail/simulator"
import { openTemporaryStore } from "@idtrail/store/testing"
import { type Report, reconcile, stripeApi } from "../src/index.ts"

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 100_000)
const KEY = "sk_test_bench"
const databaseUrl = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/idtrail_ci"

const repoRoot = (() => {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir
    if (path.dirname(dir) === dir) throw new Error("cannot find the repository root (pnpm-workspace.yaml)")
  }
})()

const sim = await startSimulator({
  seed: 3,
  sessions: SESSIONS,
  spanDays: 60,
  rateLimit: false,
  frozenClock: true,
})
// The generated history is left behind the Events API's 30 days: the incremental runs measured
// see only the changes made here.
sim.control.advanceClock(31 * 86_400)
const store = await openTemporaryStore({ databaseUrl })
const api = stripeApi({ apiKey: KEY, baseUrl: sim.url, maxRequestsPerSecond: 1_000_000, maxRetries: 0 })

/** Runs `f`, sampling the heap every 20 ms: wall time and the peak above the heap before it. */
const measured = async (f: () => Promise<Report>) => {
  global.gc?.()
  const baseline = process.memoryUsage().heapUsed
  let peak = baseline
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed)
  }, 20)
  const t = performance.now()
  const report = await f()
  const ms = performance.now() - t
  clearInterval(sampler)
  return { report, ms, baselineMb: baseline / 1e6, peakAboveBaselineMb: (peak - baseline) / 1e6 }
}

const sweep = await measured(() => reconcile(store, api, { mode: "sweep" }))
console.error(`sweep of ${SESSIONS}: ${sweep.report.requests} requests, ${(sweep.ms / 1000).toFixed(1)} s`)
// The first incremental run saves the cursor; not measured.
await reconcile(store, api, { mode: "incremental" })
const open = (await store.audit.countsByStatus())
  .filter((c) => c.status !== "verified" && c.status !== "canceled")
  .reduce((n, c) => n + c.sessions, 0)

/** `k` changes at Stripe: open sessions submitted. */
const change = async (k: number) => {
  let changed = 0
  for await (const id of (async function* () {
    let startingAfter: string | undefined
    for (;;) {
      const page = sim.control.simulator.listSessions({
        limit: 100,
        status: "requires_input",
        ...(startingAfter === undefined ? {} : { starting_after: startingAfter }),
      }) as unknown as { data: Array<{ id: string }>; has_more: boolean }
      for (const s of page.data) yield s.id
      if (!page.has_more) return
      startingAfter = page.data.at(-1)!.id
    }
  })()) {
    if (changed === k) break
    try {
      sim.control.submit(id)
      changed++
    } catch {}
  }
  return changed
}

const incremental = []
for (const k of [0, 100, 1000]) {
  const changed = await change(k)
  sim.control.advanceClock(600)
  const run = await measured(() => reconcile(store, api, { mode: "incremental" }))
  const budget = Math.ceil(Math.max(1, run.report.eventsRead) / 100) + changed + Math.ceil(open / 100)
  incremental.push({
    changes: changed,
    requests: run.report.requests,
    budget,
    requestsOverBudget: run.report.requests / budget,
    eventsRead: run.report.eventsRead,
    scheduled: run.report.scheduled,
    ms: Math.round(run.ms),
  })
  console.error(
    `incremental after ${changed} changes: ${run.report.requests} requests (budget ${budget}), ${Math.round(run.ms)} ms`,
  )
}
const quietMs = incremental[0]!.ms
const results = {
  machine: `${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ""}, Node ${process.version}`,
  sessions: SESSIONS,
  open,
  sweep: {
    requests: sweep.report.requests,
    expectedLists: Math.ceil(SESSIONS / 100),
    repairsAndStarts: sweep.report.started + sweep.report.repaired,
    seconds: sweep.ms / 1000,
    heapBaselineMb: sweep.baselineMb,
    peakHeapAboveBaselineMb: sweep.peakAboveBaselineMb,
  },
  incremental: incremental.map((r) => ({ ...r, msOverQuietRun: r.ms / quietMs })),
}
console.table(incremental)
console.log(JSON.stringify(results, null, 2))
const outDir = path.join(repoRoot, "bench-results")
mkdirSync(outDir, { recursive: true })
writeFileSync(path.join(outDir, "reconciler.json"), `${JSON.stringify(results, null, 2)}\n`)
await store.dispose()
await sim.close()
