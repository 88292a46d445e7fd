/**
 * Connect benchmark (by hand: `pnpm exec node --expose-gc packages/simulator/bench/connect.bench.ts
 * [accounts=100] [sessions=1000]`; not part of `pnpm test` or `pnpm bench`).
 *
 * Starts a simulator with that many connected accounts of that many generated sessions each and
 * measures: start time, memory (heap + array buffers), `accounts.list` paged through the SDK, a
 * `limit=100` session page per account over HTTP, and the control API finding a session's
 * account (ids carry an account tag, so this should not grow with the number of accounts).
 */
import Stripe from "stripe"
import { startSimulator } from "../src/index.ts"

const ACCOUNTS = Number(process.argv[2] ?? 100)
const SESSIONS = Number(process.argv[3] ?? 1000)
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `acct_1Bench${String(i).padStart(6, "0")}`)

const memory = (): number => {
  globalThis.gc?.()
  const m = process.memoryUsage()
  return m.heapUsed + m.arrayBuffers
}

const before = memory()
const t0 = performance.now()
const sim = await startSimulator({
  rateLimit: false,
  connectedAccounts: accounts,
  connectedSessions: SESSIONS,
})
const startMs = performance.now() - t0
const retainedMb = (memory() - before) / 2 ** 20

const stripe = new Stripe("sk_test_bench", {
  host: "127.0.0.1",
  port: sim.port,
  protocol: "http",
  maxNetworkRetries: 0,
})
const t1 = performance.now()
const listed = await stripe.accounts.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 })
const accountsListMs = performance.now() - t1

const sample = accounts.filter((_, i) => i % Math.max(1, Math.floor(ACCOUNTS / 20)) === 0)
const t2 = performance.now()
let sessions = 0
for (const stripeAccount of sample)
  sessions += (await stripe.identity.verificationSessions.list({ limit: 100 }, { stripeAccount })).data.length
const pageMs = (performance.now() - t2) / sample.length

const last = accounts.at(-1)!
const id = (await stripe.identity.verificationSessions.list({ limit: 1 }, { stripeAccount: last })).data[0]!
  .id
const t3 = performance.now()
for (let i = 0; i < 1000; i++) sim.control.session(id)
const locateUs = performance.now() - t3 // 1000 calls: ms total = µs each

console.table({
  accounts: ACCOUNTS,
  "sessions per account": SESSIONS,
  "start (ms)": Math.round(startMs),
  "retained (MB)": Number(retainedMb.toFixed(1)),
  [`accounts.list, ${listed.length} accounts (ms)`]: Math.round(accountsListMs),
  [`session page, limit 100, ${sessions / sample.length} rows (ms)`]: Number(pageMs.toFixed(2)),
  "control.session of the last account (µs)": Number(locateUs.toFixed(1)),
})
await sim.close()
