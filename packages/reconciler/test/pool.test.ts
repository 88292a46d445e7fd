/**
 * The pool over several accounts, in this process: each account reconciled once per round by
 * whichever worker of whichever pool (two pools here stand for two processes) claims it, never two
 * runs of one account at once, a dead claim taken over once its lease expires, and the rate limit
 * shared through the store. Accounts are separate simulators (platform accounts), each read with
 * its own reader, so the pool's work is real HTTP and real appends.
 */

import { randomBytes } from "node:crypto"
import { type StartedSimulator, startSimulator } from "@idtrail/simulator"
import { EventStore, localKeyEncryption, type PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { listConnectedAccounts, parseAccounts } from "../src/accounts.ts"
import { type PoolOptions, type PoolReport, poolName, runPool } from "../src/pool.ts"
import { makeSharedLimit } from "../src/postgres-limit.ts"
import type { ReconcileReport } from "../src/reconcile.ts"
import { stripeApi } from "../src/stripe-api.ts"
import { binPath, runBin } from "./cli-harness.ts"
import { backends, everyEvent, KEY } from "./fixtures.ts"

const ACCOUNTS = ["a01", "a02", "a03", "a04", "a05", "a06"]
const SESSIONS = 120

let sims: ReadonlyArray<StartedSimulator> = []
beforeAll(async () => {
  sims = await Promise.all(
    ACCOUNTS.map((_, i) => startSimulator({ sessions: SESSIONS, seed: 101 + i, rateLimit: false })),
  )
})
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()))
})

const stripeFor = (account: string) =>
  Effect.sync(() =>
    stripeApi({
      apiKey: KEY,
      baseUrl: sims[ACCOUNTS.indexOf(account)]!.url,
      maxRequestsPerSecond: 1000,
      maxRetries: 0,
    }),
  )

const pool = (store: PromiseStore, options: Partial<PoolOptions> = {}) =>
  Effect.runPromise(
    runPool({ accounts: ACCOUNTS, workers: 2, mode: "sweep", stripeFor, ...options }).pipe(
      Effect.provideService(EventStore, store.service),
    ),
  )

const runsOf = async (store: PromiseStore) =>
  store.audit.runs({ from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000) })

/** Per account: no two recorded runs overlap in time. */
const overlaps = (runs: ReadonlyArray<{ account: string; startedAt: Date; finishedAt: Date }>) => {
  const found: Array<string> = []
  for (const account of new Set(runs.map((r) => r.account))) {
    const mine = runs.filter((r) => r.account === account).sort((a, b) => +a.startedAt - +b.startedAt)
    for (let i = 1; i < mine.length; i++)
      if (mine[i]!.startedAt < mine[i - 1]!.finishedAt) found.push(account)
  }
  return found
}

describe.each(backends)("a pool of workers ($name)", ({ databaseUrl }) => {
  it("two pools of 2 workers sharing a round: every account reconciled exactly once, never two runs of one at once, every session recorded", async () => {
    const store = await openTemporaryStore({ databaseUrl })
    try {
      const [first, second] = await Promise.all([pool(store), pool(store)])
      expect(first.round).toBe(second.round)
      const runs = await runsOf(store)
      expect(runs.map((r) => r.account).sort()).toEqual(ACCOUNTS)
      expect(overlaps(runs)).toEqual([])
      expect(runs.every((r) => r.complete && r.started === SESSIONS)).toBe(true)
      expect(first.reports.length + second.reports.length).toBe(ACCOUNTS.length)
      for (const r of [first, second]) {
        expect(r.complete).toBe(true)
        expect(r.accounts).toBe(ACCOUNTS.length)
      }
      // The round closed: the next pool opens round 2 and runs each account again, finding nothing to repair.
      const next = await pool(store, { workers: 3 })
      expect(next.round).toBe(first.round + 1)
      expect(next.reports.map((r) => r.account).sort()).toEqual(ACCOUNTS)
      expect(next.reports.every((r) => r.started === 0 && r.repaired === 0)).toBe(true)
    } finally {
      await store.dispose()
    }
  })

  it("an account claimed by a run that died is taken over once its lease expires, and the round completes", async () => {
    const store = await openTemporaryStore({ databaseUrl })
    try {
      const name = "sweep:takeover"
      const round = await Effect.runPromise(store.service.runState.joinRound(name, ACCOUNTS))
      const dead = await Effect.runPromise(store.service.runState.claimAccount(name, round, "recon_dead", 2))
      expect(dead).toBe("a01")
      const t = Date.now()
      const result: PoolReport = await pool(store, { pool: name, workers: 3, leaseSeconds: 2 })
      expect(result.round).toBe(round)
      expect(result.complete).toBe(true)
      const runs = await runsOf(store)
      expect(runs.map((r) => r.account).sort()).toEqual(ACCOUNTS)
      const taken = runs.find((r) => r.account === "a01")!
      expect(+taken.startedAt - t).toBeGreaterThanOrEqual(1500)
    } finally {
      await store.dispose()
    }
  })

  it("a pool whose every account another run holds waits, runs none, and says so (heldByOthers)", async () => {
    const store = await openTemporaryStore({ databaseUrl })
    try {
      const name = "sweep:held"
      const round = await Effect.runPromise(store.service.runState.joinRound(name, ["a02"]))
      expect(
        await Effect.runPromise(store.service.runState.claimAccount(name, round, "recon_other", 60)),
      ).toBe("a02")
      // The other run ends (recorded) while the pool waits.
      setTimeout(() => {
        void Effect.runPromise(
          store.service.runState.recordRun({
            runId: "recon_other",
            account: "a02",
            mode: "sweep",
            dryRun: false,
            startedAt: new Date().toISOString(),
            finishedAt: new Date().toISOString(),
            complete: true,
            stoppedBy: null,
            examined: 0,
            started: 0,
            repaired: 0,
            unchanged: 0,
            missingRemotelyCount: 0,
            quarantinedCount: 0,
            errors: [],
            eventsByType: {},
          }),
        ).then(() => Effect.runPromise(store.service.runState.releaseLease("a02", "recon_other")))
      }, 300)
      const result = await pool(store, { pool: name, accounts: ["a02"], leaseSeconds: 60, pollMillis: 50 })
      expect(result.heldByOthers).toBe(true)
      expect(result.reports).toEqual([])
      expect(result.complete).toBe(true)
    } finally {
      await store.dispose()
    }
  })

  it("a round left open with every account done (its process stopped before closing it) is closed, and the next round runs", async () => {
    const store = await openTemporaryStore({ databaseUrl })
    try {
      const name = "sweep:left-open"
      const state = store.service.runState
      const round = await Effect.runPromise(state.joinRound(name, ["a03"]))
      await Effect.runPromise(state.claimAccount(name, round, "recon_gone", 60))
      await Effect.runPromise(state.finishAccount(name, round, "a03", "recon_gone", true))
      await Effect.runPromise(state.releaseLease("a03", "recon_gone"))
      const result = await pool(store, { pool: name, accounts: ["a03"] })
      expect(result.round).toBe(round + 1)
      expect(result.reports.map((r) => r.account)).toEqual(["a03"])
      expect(result.heldByOthers).toBe(false)
      expect(result.complete).toBe(true)
    } finally {
      await store.dispose()
    }
  })

  it("the rate limit is shared through the store: two limits of one key (two processes) together keep to its rate", async () => {
    const store = await openTemporaryStore({ databaseUrl })
    try {
      const perSecond = 20
      const [one, two] = [
        makeSharedLimit(store.service, "acct_shared", perSecond),
        makeSharedLimit(store.service, "acct_shared", perSecond),
      ]
      const t = performance.now()
      await Effect.runPromise(
        Effect.all(
          Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? one : two)(Effect.void)),
          { concurrency: "unbounded" },
        ),
      )
      // A bucket of 20 at start, then 40 more at 20 a second: 2 s; each process alone would take 1 s.
      const seconds = (performance.now() - t) / 1000
      expect(seconds).toBeGreaterThan(1.8)
      expect(seconds).toBeLessThan(4)
    } finally {
      await store.dispose()
    }
  })
})

describe("a pool with the vault on (PGlite, encrypted)", () => {
  it("every account's run keeps its verified sessions' outputs once; the next round reads none again", async () => {
    const store = await openTemporaryStore({
      encryption: { keyEncryption: localKeyEncryption(randomBytes(32)) },
    })
    try {
      const accounts = ACCOUNTS.slice(0, 2)
      const vault = { retention: "30 days" as const }
      const first = await pool(store, { accounts, vault })
      const summaries = first.reports.map((r) => (r as ReconcileReport).vault)
      expect(summaries).toHaveLength(2)
      for (const v of summaries) expect(v?.kept).toBeGreaterThan(0)
      const kept = summaries.reduce((n, v) => n + (v?.kept ?? 0), 0)
      const events = await everyEvent(store)
      expect(events.filter((e) => e.event._tag === "VerifiedOutputsVaulted")).toHaveLength(kept)
      const next = await pool(store, { accounts, vault })
      expect(next.reports.map((r) => (r as ReconcileReport).vault?.vaulted)).toEqual([0, 0])
    } finally {
      await store.dispose()
    }
  })
})

describe("--accounts", () => {
  it("refuses what is not an account list, with the reason", async () => {
    const refused = async (raw: string) =>
      Effect.runPromise(Effect.flip(parseAccounts(raw, "default"))).then((e) => e.message)
    expect(await refused("")).toMatch(/all or a comma list/)
    expect(await refused("acct_1,,acct_2")).toMatch(/all or a comma list/)
    expect(await refused("acct_!")).toMatch(/not a connected account id/)
    expect(await refused("second")).toMatch(/platform account/)
    expect(await Effect.runPromise(parseAccounts("default, acct_1,acct_1", "default"))).toEqual({
      all: false,
      accounts: ["default", "acct_1"],
    })
  })

  it("takes every platform name --account takes (a colon too), so a pool of it is never refused", async () => {
    expect(await Effect.runPromise(parseAccounts("eu:main,acct_1", "eu:main"))).toEqual({
      all: false,
      accounts: ["eu:main", "acct_1"],
    })
  })

  it("all lists every connected account, every page of GET /v1/accounts", async () => {
    const ids = Array.from({ length: 130 }, (_, i) => `acct_pool${String(i).padStart(3, "0")}`)
    const sim = await startSimulator({ sessions: 0, seed: 9, rateLimit: false, connectedAccounts: ids })
    try {
      const listed = await Effect.runPromise(
        listConnectedAccounts({ apiKey: KEY, baseUrl: sim.url, maxRetries: 0 }),
      )
      expect([...listed].sort()).toEqual(ids)
    } finally {
      await sim.close()
    }
  })

  it("names a pool by its mode and accounts, in any order; a long list by its digest", () => {
    expect(poolName("sweep", ["acct_2", "default", "acct_1"])).toBe(
      poolName("sweep", ["acct_1", "acct_2", "default"]),
    )
    expect(poolName("sweep", ["acct_1"])).not.toBe(poolName("incremental", ["acct_1"]))
    expect(poolName("incremental", "all", "default")).toBe("incremental:default:all")
    const many = Array.from({ length: 300 }, (_, i) => `acct_${i}`)
    expect(poolName("sweep", many)).toMatch(/^sweep:sha256:[0-9a-f]{64}$/)
  })

  it("reconcile --help lists the pool's flags", async () => {
    const { code, stdout } = await runBin(binPath("idtrail.ts"))(["reconcile", "--help"])
    expect(code).toBe(0)
    for (const flag of ["--accounts", "--workers", "--lease-seconds"]) expect(stdout).toContain(flag)
  })

  it("the command refuses what a pool cannot do before opening anything: exit 2 with the reason", async () => {
    const run = runBin(binPath("idtrail.ts"))
    const env = { STRIPE_API_KEY: KEY, DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" }
    const dry = await run(["reconcile", "--accounts", "acct_1", "--dry-run"], env)
    expect(dry.code).toBe(2)
    expect(dry.stderr).toMatch(/--dry-run .* not --accounts or --workers/)
    const workers = await run(["reconcile", "--accounts", "acct_1", "--workers", "0"], env)
    expect(workers.code).toBe(2)
    expect(workers.stderr).toMatch(/--workers must be an integer from 1 to 64/)
    const other = await run(["reconcile", "--accounts", "second,acct_1"], env)
    expect(other.code).toBe(2)
    expect(other.stderr).toMatch(/"second" is a platform account/)
    const base = await run(["reconcile", "--accounts", "all", "--workers", "2"], {
      ...env,
      STRIPE_API_BASE: "not a url",
    })
    expect(base.code).toBe(2)
    expect(base.stderr).toMatch(/STRIPE_API_BASE must be an http\(s\) URL/)
  })
})
