/**
 * Simulator benchmark (`pnpm bench`; not part of `pnpm test`).
 *
 * With 1,000,000 generated sessions it measures:
 * - generation time and heap;
 * - the first list page against a page past the 900,000th session (limit 100), in process and
 *   over HTTP, and their ratio — cursors are decoded, not searched, so the ratio should be ~1;
 * - retrieve and list requests per second over loopback (keep-alive, bounded loops).
 *
 * Prints a table and writes `<repoRoot>/bench-results/simulator.json`.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import { Agent, request } from "node:http"
import os from "node:os"
import path from "node:path"
import { startSimulator } from "../src/index.ts"

const SESSIONS = 1_000_000
const KEY = "sk_test_bench"

const repoRoot = (() => {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir
    if (path.dirname(dir) === dir) throw new Error("cannot find the repository root (pnpm-workspace.yaml)")
  }
})()

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

const t0 = performance.now()
const sim = await startSimulator({ seed: 1, sessions: SESSIONS, rateLimit: false })
const generateMs = performance.now() - t0
global.gc?.()
const heapMb = process.memoryUsage().heapUsed / 1e6
const core = sim.control.simulator
const deepCursor = core.sessionIds.encode(SESSIONS - 900_001) // 900,000 sessions newer than it

/** In-process: the list algorithm and rendering, no HTTP. */
const inProcess = (params: Parameters<typeof core.listSessions>[0], reps: number): number => {
  const times: number[] = []
  for (let i = 0; i < reps; i++) {
    const t = performance.now()
    core.listSessions(params)
    times.push(performance.now() - t)
  }
  return median(times)
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 })
const get = (p: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request(
      { host: sim.host, port: sim.port, path: p, agent, headers: { authorization: `Bearer ${KEY}` } },
      (res) => {
        res.resume()
        res.on("end", () => resolve(res.statusCode ?? 0))
      },
    )
    req.on("error", reject)
    req.end()
  })

const overHttp = async (p: string, reps: number): Promise<number> => {
  const times: number[] = []
  for (let i = 0; i < reps; i++) {
    const t = performance.now()
    const status = await get(p)
    if (status !== 200) throw new Error(`${p} answered ${status}`)
    times.push(performance.now() - t)
  }
  return median(times)
}

/** Requests per second with `concurrency` requests in flight, for `total` requests. */
const throughput = async (
  paths: (i: number) => string,
  total: number,
  concurrency: number,
): Promise<number> => {
  let next = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const status = await get(paths(next++))
        if (status !== 200) throw new Error(`answered ${status}`)
      }
    }),
  )
  return total / ((performance.now() - t) / 1000)
}

const LIST = "/v1/identity/verification_sessions"
// Warm up the JIT on both paths.
inProcess({ limit: 100 }, 50)
inProcess({ limit: 100, starting_after: deepCursor }, 50)
await overHttp(`${LIST}?limit=100`, 50)

const firstPageMs = inProcess({ limit: 100 }, 200)
const deepPageMs = inProcess({ limit: 100, starting_after: deepCursor }, 200)
const firstFilteredMs = inProcess({ limit: 100, status: "verified" }, 200)
const deepFilteredMs = inProcess({ limit: 100, status: "verified", starting_after: deepCursor }, 200)
const eventsTimes = (params: Parameters<typeof core.listEvents>[0], reps: number): number => {
  const times: number[] = []
  for (let i = 0; i < reps; i++) {
    const t = performance.now()
    core.listEvents(params)
    times.push(performance.now() - t)
  }
  return median(times)
}
const oldestLiveEvent = core.events.floor(core.clock.nowSeconds())
const deepEvent = core.eventIds.encode(oldestLiveEvent + 10_000) // near the far end of the window
eventsTimes({ limit: 100 }, 50)
const eventsFirstMs = eventsTimes({ limit: 100 }, 200)
const eventsDeepMs = eventsTimes({ limit: 100, starting_after: deepEvent }, 200)
const firstPageHttpMs = await overHttp(`${LIST}?limit=100`, 200)
const deepPageHttpMs = await overHttp(`${LIST}?limit=100&starting_after=${deepCursor}`, 200)

const ids = Array.from({ length: 1000 }, (_, i) => core.sessionIds.encode((i * 997) % SESSIONS))
const retrieveRps = await throughput((i) => `${LIST}/${ids[i % ids.length]}`, 20_000, 16)
const listRps = await throughput((i) => `${LIST}?limit=10&starting_after=${ids[i % ids.length]}`, 10_000, 16)
const list100Rps = await throughput(
  (i) => `${LIST}?limit=100&starting_after=${ids[i % ids.length]}`,
  3_000,
  16,
)

agent.destroy()
await sim.close()

const results = {
  environment: {
    node: process.version,
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? "unknown",
    date: new Date().toISOString(),
  },
  sessions: SESSIONS,
  liveEvents: core.events.size - core.events.floor(core.clock.nowSeconds()),
  generateSeconds: generateMs / 1000,
  heapMb,
  listPage100: {
    firstPageMs,
    deepPageMs,
    ratio: deepPageMs / firstPageMs,
    firstFilteredMs,
    deepFilteredMs,
    filteredRatio: deepFilteredMs / firstFilteredMs,
    firstPageHttpMs,
    deepPageHttpMs,
    httpRatio: deepPageHttpMs / firstPageHttpMs,
  },
  eventsPage100: {
    firstPageMs: eventsFirstMs,
    deepPageMs: eventsDeepMs,
    ratio: eventsDeepMs / eventsFirstMs,
  },
  requestsPerSecond: { retrieve: retrieveRps, list10: listRps, list100: list100Rps },
}

const f = (n: number, d = 2) => n.toFixed(d)
const rows: Array<[string, string]> = [
  [
    "sessions generated",
    `${SESSIONS.toLocaleString("en-US")} in ${f(results.generateSeconds)} s, heap ${f(heapMb, 0)} MB`,
  ],
  ["live events (30-day window)", results.liveEvents.toLocaleString("en-US")],
  ["list limit=100, first page (in process)", `${f(firstPageMs, 3)} ms`],
  [
    "list limit=100, past 900,000 (in process)",
    `${f(deepPageMs, 3)} ms  (ratio ${f(results.listPage100.ratio)})`,
  ],
  ["… status=verified, first page", `${f(firstFilteredMs, 3)} ms`],
  [
    "… status=verified, past 900,000",
    `${f(deepFilteredMs, 3)} ms  (ratio ${f(results.listPage100.filteredRatio)})`,
  ],
  ["list limit=100, first page (HTTP)", `${f(firstPageHttpMs, 3)} ms`],
  [
    "list limit=100, past 900,000 (HTTP)",
    `${f(deepPageHttpMs, 3)} ms  (ratio ${f(results.listPage100.httpRatio)})`,
  ],
  ["events limit=100, first page (in process)", `${f(eventsFirstMs, 3)} ms`],
  [
    "events limit=100, oldest live (in process)",
    `${f(eventsDeepMs, 3)} ms  (ratio ${f(results.eventsPage100.ratio)})`,
  ],
  ["retrieve, requests/s (16 in flight)", f(retrieveRps, 0)],
  ["list limit=10, requests/s", f(listRps, 0)],
  ["list limit=100, requests/s", f(list100Rps, 0)],
]
const width = Math.max(...rows.map(([k]) => k.length))
console.log(
  `\nSimulator benchmark (${results.environment.cpus} × ${results.environment.cpu}, Node ${process.version})\n`,
)
for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`)

const outDir = path.join(repoRoot, "bench-results")
mkdirSync(outDir, { recursive: true })
writeFileSync(path.join(outDir, "simulator.json"), `${JSON.stringify(results, null, 2)}\n`)
console.log(`\nwrote ${path.join(outDir, "simulator.json")}`)
