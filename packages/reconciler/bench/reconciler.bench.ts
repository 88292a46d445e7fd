/**
 * Reconciler benchmark (`pnpm bench`; not part of `pnpm test`), against the simulator in process
 * and the store on Postgres (`DATABASE_URL`, default the CI database), in a schema of its own.
 *
 * - A sweep's throughput one session at a time against `concurrency` sessions of a page at once
 *   (`BENCH_CONCURRENCY_SESSIONS`, default 2,000, into a fresh schema each time; rounds
 *   alternating which goes first, `BENCH_ROUNDS`, default 3): sessions per second, and the ratio
 *   in each round. The same on PGlite for its default (`BENCH_PGLITE_SESSIONS`, default 500; 0
 *   skips it): 1, 2 and 4 at once.
 * - A sweep of `BENCH_SESSIONS` (default 100,000) generated sessions with the rate limit off, at
 *   the default concurrency: requests (⌈N/100⌉ lists), wall time, peak heap above the baseline
 *   measured before it, and the process's peak RSS.
 * - Incremental runs 10 minutes apart after 0, 100 and 1,000 changes: requests beside the budget
 *   (the Events API pages + one read per change + ⌈1 % of the open sessions⌉) and wall time, as a
 *   ratio to the 0-change run's.
 *
 * Prints a table and writes `<repoRoot>/bench-results/reconciler.json`.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { type StartedSimulator, startSimulator } from "@idtrail/simulator"
import { openTemporaryStore } from "@idtrail/store/testing"
import { type Report, reconcile, stripeApi } from "../src/index.ts"

// `bench pool`: the pool's part alone (pool.bench.ts); without an argument every part runs, the pool's last.
if (process.argv[2] === "pool") {
  await import("./pool.bench.ts")
  process.exit(0)
}

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 100_000)
const CONCURRENCY_SESSIONS = Number(process.env.BENCH_CONCURRENCY_SESSIONS ?? 2_000)
const PGLITE_SESSIONS = Number(process.env.BENCH_PGLITE_SESSIONS ?? 500)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
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
  let peakRss = process.memoryUsage.rss()
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed)
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
  }, 20)
  const t = performance.now()
  const report = await f()
  const ms = performance.now() - t
  clearInterval(sampler)
  return {
    report,
    ms,
    baselineMb: baseline / 1e6,
    peakAboveBaselineMb: (peak - baseline) / 1e6,
    peakRssMb: peakRss / 1e6,
  }
}

/**
 * Sessions per second of a first sweep (every session recorded) into a fresh schema, `concurrency`
 * sessions of a page at once.
 */
const sweepRate = async (
  target: StartedSimulator,
  url: string | undefined,
  n: number,
  concurrency: number,
) => {
  const fresh = await openTemporaryStore({ databaseUrl: url })
  try {
    const reader = stripeApi({ apiKey: KEY, baseUrl: target.url, maxRequestsPerSecond: 1e6, maxRetries: 0 })
    const t = performance.now()
    const report = await reconcile(fresh, reader, { mode: "sweep", concurrency })
    if (!report.complete || report.started !== n)
      throw new Error(`the sweep at ${concurrency} did not record all`)
    return n / ((performance.now() - t) / 1000)
  } finally {
    await fresh.dispose()
  }
}

/** Rounds of sweeps at each concurrency, the order turned each round; rates and ratios to the first. */
const concurrencyLadder = async (url: string | undefined, n: number, levels: ReadonlyArray<number>) => {
  const target = await startSimulator({
    seed: 5,
    sessions: n,
    spanDays: 60,
    rateLimit: false,
    frozenClock: true,
  })
  const rounds: Array<Record<number, number>> = []
  for (let round = 0; round < ROUNDS; round++) {
    const rates: Record<number, number> = {}
    for (const c of round % 2 === 0 ? levels : [...levels].reverse())
      rates[c] = await sweepRate(target, url, n, c)
    rounds.push(rates)
    console.error(
      `${url === undefined ? "PGlite" : "Postgres"} sweep of ${n}, round ${round + 1}: ` +
        levels.map((c) => `${c} at once ${rates[c]!.toFixed(0)}/s`).join(", "),
    )
  }
  await target.close()
  const base = levels[0]!
  return levels.map((c) => {
    const ratios = rounds.map((r) => r[c]! / r[base]!)
    return {
      concurrency: c,
      sessionsPerSecond: rounds.map((r) => Math.round(r[c]!)),
      ratioToOneAtATime: { min: Math.min(...ratios), max: Math.max(...ratios) },
    }
  })
}

const concurrency = {
  postgres: await concurrencyLadder(databaseUrl, CONCURRENCY_SESSIONS, [1, 8, 64]),
  pglite: PGLITE_SESSIONS > 0 ? await concurrencyLadder(undefined, PGLITE_SESSIONS, [1, 4, 64]) : [],
}

const sweep = await measured(() => reconcile(store, api, { mode: "sweep" }))
console.error(
  `sweep of ${SESSIONS}: ${sweep.report.requests} requests, ${(sweep.ms / 1000).toFixed(1)} s, ` +
    `peak RSS ${sweep.peakRssMb.toFixed(0)} MB`,
)
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
    peakRssMb: sweep.peakRssMb,
  },
  concurrency,
  incremental: incremental.map((r) => ({ ...r, msOverQuietRun: r.ms / quietMs })),
}
console.table(incremental)
for (const [backend, ladder] of Object.entries(concurrency))
  if (ladder.length > 0)
    console.table(
      ladder.map((l) => ({
        backend,
        ...l,
        ratioToOneAtATime: `${l.ratioToOneAtATime.min.toFixed(2)}–${l.ratioToOneAtATime.max.toFixed(2)}`,
      })),
    )
console.log(JSON.stringify(results, null, 2))
const outDir = path.join(repoRoot, "bench-results")
mkdirSync(outDir, { recursive: true })
writeFileSync(path.join(outDir, "reconciler.json"), `${JSON.stringify(results, null, 2)}\n`)
await store.dispose()
await sim.close()

await import("./pool.bench.ts")
