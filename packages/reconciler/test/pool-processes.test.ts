/**
 * The pool as operators run it: `idtrail reconcile --accounts … --workers 2` in two processes at
 * once (the real CLI entry), over 20 connected accounts of one simulator, on one Postgres database.
 * Postgres only (two processes cannot share an embedded PGlite): skipped without DATABASE_URL.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { type StartedSimulator, startSimulator } from "@idtrail/simulator"
import { openStore, type PromiseStore } from "@idtrail/store"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { binPath } from "./cli-harness.ts"
import { everyEvent, KEY } from "./fixtures.ts"

const databaseUrl = process.env.DATABASE_URL
const idtrail = binPath("idtrail.ts")
const ACCOUNTS = Array.from({ length: 20 }, (_, i) => `acct_pool${String(i + 1).padStart(2, "0")}`)
const SESSIONS = 250

// The test makes a database of its own (the CLI's schema is always `idtrail`), through the store's `pg`.
const pg = createRequire(new URL("../../store/package.json", import.meta.url))("pg") as {
  Client: new (
    url: string,
  ) => { connect(): Promise<void>; query(text: string): Promise<unknown>; end(): Promise<void> }
}
const admin = async (text: string) => {
  const client = new pg.Client(databaseUrl!)
  await client.connect()
  try {
    await client.query(text)
  } finally {
    await client.end()
  }
}

interface Child {
  readonly process: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exited: Promise<number | null>
}

const start = (url: string, sim: StartedSimulator, args: ReadonlyArray<string>): Child => {
  const child = spawn(process.execPath, [idtrail, "reconcile", ...args], {
    env: {
      PATH: process.env.PATH ?? "",
      STRIPE_API_KEY: KEY,
      STRIPE_API_BASE: sim.url,
      DATABASE_URL: url,
      RECONCILE_MAX_RPS: "1000",
      RECONCILE_MAX_RETRIES: "2",
    },
  })
  let out = ""
  let err = ""
  child.stdout.on("data", (d) => {
    out += d
  })
  child.stderr.on("data", (d) => {
    err += d
  })
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  }
}

const runsOf = (store: PromiseStore) =>
  store.audit.runs({ from: new Date(Date.now() - 3_600_000), to: new Date(Date.now() + 3_600_000) })

/** Accounts with two recorded runs whose intervals overlap. */
const overlapping = (runs: ReadonlyArray<{ account: string; startedAt: Date; finishedAt: Date }>) =>
  [...new Set(runs.map((r) => r.account))].filter((account) => {
    const mine = runs.filter((r) => r.account === account).sort((a, b) => +a.startedAt - +b.startedAt)
    return mine.some((r, i) => i > 0 && r.startedAt < mine[i - 1]!.finishedAt)
  })

/** Streams holding the same event twice (a repair appended again) or more than one start. */
const duplicated = async (store: PromiseStore) => {
  const byStream = new Map<string, Array<string>>()
  for (const e of await everyEvent(store)) {
    const list = byStream.get(e.streamId) ?? []
    list.push(JSON.stringify(e.event))
    byStream.set(e.streamId, list)
  }
  const bad: Array<string> = []
  for (const [stream, events] of byStream)
    if (
      new Set(events).size !== events.length ||
      events.filter((e) => e.includes('"SessionStarted"')).length !== 1
    )
      bad.push(stream)
  return { streams: byStream.size, bad }
}

describe.runIf(databaseUrl)("idtrail reconcile --accounts … --workers 2, two processes on Postgres", () => {
  let sim: StartedSimulator
  beforeAll(async () => {
    sim = await startSimulator({
      sessions: 0,
      seed: 13,
      rateLimit: false,
      connectedAccounts: ACCOUNTS,
      connectedSessions: SESSIONS,
    })
  })
  afterAll(async () => {
    await sim?.close()
  })

  const withDatabase = async (f: (url: string) => Promise<void>) => {
    const name = `idtrail_pool_${Math.random().toString(36).slice(2, 10)}`
    await admin(`create database ${name}`)
    const url = new URL(databaseUrl!)
    url.pathname = `/${name}`
    try {
      await f(url.toString())
    } finally {
      await admin(`drop database if exists ${name} with (force)`)
    }
  }

  const args = ["--mode", "sweep", "--accounts", ACCOUNTS.join(","), "--workers", "2", "--json"]

  it("every account is reconciled exactly once in the round, never two runs of one at once; both exit 0", async () => {
    await withDatabase(async (url) => {
      // Migrated first, so the two processes race on the pool, not on the migration.
      const store = await openStore({ databaseUrl: url })
      try {
        const [a, b] = [start(url, sim, args), start(url, sim, args)]
        const codes = await Promise.all([a.exited, b.exited])
        expect(codes, `${a.stderr()}\n${b.stderr()}`).toEqual([0, 0])
        const runs = await runsOf(store)
        expect(runs.map((r) => r.account).sort()).toEqual(ACCOUNTS)
        expect(overlapping(runs)).toEqual([])
        expect(runs.every((r) => r.complete && r.started === SESSIONS)).toBe(true)
        // Each printed one JSON report a line, for the accounts it ran.
        const printed = [a, b].flatMap((c) =>
          c
            .stdout()
            .trim()
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => JSON.parse(l).account as string),
        )
        expect(printed.sort()).toEqual(ACCOUNTS)
        // Both processes took part.
        expect(b.stdout().trim()).not.toBe("")
        expect(a.stdout().trim()).not.toBe("")
        expect((await duplicated(store)).streams).toBe(ACCOUNTS.length * SESSIONS)
      } finally {
        await store.close()
      }
    })
  }, 240_000)

  it("a process killed mid-run (SIGKILL): its accounts are taken over once their leases expire and finish with 0 duplicate repairs", async () => {
    await withDatabase(async (url) => {
      const store = await openStore({ databaseUrl: url })
      try {
        const lease = ["--lease-seconds", "3"]
        const doomed = start(url, sim, [...args, ...lease])
        // Killed once it has started runs of its own (and is in the middle of them).
        for (let i = 0; i < 600 && (doomed.stderr().match(/run recon_\S+ starts/g) ?? []).length < 3; i++)
          await new Promise((resolve) => setTimeout(resolve, 50))
        const survivor = start(url, sim, [...args, ...lease])
        await new Promise((resolve) => setTimeout(resolve, 300))
        const killedAt = Date.now()
        doomed.process.kill("SIGKILL")
        await doomed.exited
        expect(await survivor.exited, survivor.stderr()).toBe(0)
        const runs = await runsOf(store)
        // Recorded runs: one per account (the killed process recorded none of the runs it was in).
        expect(runs.map((r) => r.account).sort()).toEqual(ACCOUNTS)
        expect(overlapping(runs)).toEqual([])
        expect(runs.every((r) => r.complete && r.repaired === 0)).toBe(true)
        // What the killed runs had written stands; the takeover recorded only the rest (every
        // session exactly once: `duplicated` below).
        const taken = runs.filter((r) => r.started < SESSIONS)
        expect(taken.length).toBeGreaterThan(0)
        for (const r of taken) {
          // Not before the dead run's lease ran out: renewed every second, it lasted 3 s.
          expect(r.startedAt.getTime()).toBeGreaterThanOrEqual(killedAt + 1_500)
          // It resumed after the dead run's last finished page (its cursor), or from the start:
          // whole pages of 100 were the dead run's, the rest the takeover's.
          expect(r.started + r.unchanged).toBe(r.examined)
          expect((SESSIONS - r.examined) % 100).toBe(0)
          expect(r.examined).toBeGreaterThan(0)
        }
        const { streams, bad } = await duplicated(store)
        expect(streams).toBe(ACCOUNTS.length * SESSIONS)
        expect(bad).toEqual([])
      } finally {
        await store.close()
      }
    })
  }, 240_000)

  it("exits 1 when an account of the round ends incomplete (Stripe refuses it), naming it; the others complete", async () => {
    await withDatabase(async (url) => {
      const store = await openStore({ databaseUrl: url })
      try {
        const list = [...ACCOUNTS.slice(0, 3), "acct_unknown"]
        const child = start(url, sim, [
          "--mode",
          "sweep",
          "--accounts",
          list.join(","),
          "--workers",
          "2",
          "--json",
        ])
        expect(await child.exited, child.stderr()).toBe(1)
        expect(child.stderr()).toMatch(/1 of 4 accounts incomplete \(acct_unknown\)/)
        const runs = await runsOf(store)
        expect(
          runs
            .filter((r) => r.complete)
            .map((r) => r.account)
            .sort(),
        ).toEqual(ACCOUNTS.slice(0, 3))
        expect(runs.find((r) => r.account === "acct_unknown")?.stoppedBy).toBe("StripeAuthRefused")
      } finally {
        await store.close()
      }
    })
  }, 120_000)

  it("--accounts all: the platform account and every connected account Stripe lists, each once", async () => {
    await withDatabase(async (url) => {
      const store = await openStore({ databaseUrl: url })
      try {
        const child = start(url, sim, ["--mode", "sweep", "--accounts", "all", "--workers", "4", "--json"])
        expect(await child.exited, child.stderr()).toBe(0)
        expect(child.stderr()).toMatch(/pool sweep:default:all: 21 accounts, 4 workers/)
        const runs = await runsOf(store)
        expect(runs.map((r) => r.account).sort()).toEqual(["default", ...ACCOUNTS].sort())
        expect(overlapping(runs)).toEqual([])
      } finally {
        await store.close()
      }
    })
  }, 180_000)

  it("SIGTERM: the process releases its accounts' leases (exit 143), and the other process finishes them at once, not after the lease", async () => {
    await withDatabase(async (url) => {
      const store = await openStore({ databaseUrl: url })
      try {
        // A lease far longer than the test: only a release lets the other process have those accounts.
        const long = [...args, "--lease-seconds", "600"]
        const stopped = start(url, sim, long)
        for (let i = 0; i < 600 && (stopped.stderr().match(/run recon_\S+ starts/g) ?? []).length < 3; i++)
          await new Promise((resolve) => setTimeout(resolve, 50))
        const other = start(url, sim, long)
        await new Promise((resolve) => setTimeout(resolve, 300))
        stopped.process.kill("SIGTERM")
        expect(await stopped.exited).toBe(143)
        expect(await other.exited, other.stderr()).toBe(0)
        const runs = await runsOf(store)
        const finished = runs.filter((r) => r.stoppedBy === null)
        expect(finished.map((r) => r.account).sort()).toEqual(ACCOUNTS)
        expect(finished.every((r) => r.complete)).toBe(true)
        // The interrupted runs were recorded as such, and no run of an account overlaps another.
        const interrupted = runs.filter((r) => r.stoppedBy !== null)
        expect(interrupted.length).toBeGreaterThan(0)
        expect(interrupted.every((r) => r.stoppedBy === "interrupted" && !r.complete)).toBe(true)
        expect(overlapping(runs)).toEqual([])
        expect((await duplicated(store)).bad).toEqual([])
      } finally {
        await store.close()
      }
    })
  }, 180_000)

  it("--every: a round after another, each account once a round, until SIGTERM (exit 143, no lease left)", async () => {
    await withDatabase(async (url) => {
      const store = await openStore({ databaseUrl: url })
      try {
        const two = ACCOUNTS.slice(0, 2)
        const child = start(url, sim, [
          "--mode",
          "incremental",
          "--accounts",
          two.join(","),
          "--workers",
          "2",
          "--every",
          "1s",
          "--json",
        ])
        for (let i = 0; i < 1200 && (child.stdout().match(/\n/g) ?? []).length < 6; i++)
          await new Promise((resolve) => setTimeout(resolve, 50))
        child.process.kill("SIGTERM")
        expect(await child.exited, child.stderr()).toBe(143)
        const runs = (await runsOf(store)).filter((r) => r.stoppedBy === null)
        expect(runs.length).toBeGreaterThanOrEqual(6)
        for (const account of two)
          expect(runs.filter((r) => r.account === account).length).toBeGreaterThanOrEqual(3)
        expect(overlapping(runs)).toEqual([])
        // A third process of the same pool now runs at once: nothing holds a lease.
        const next = start(url, sim, [
          "--mode",
          "incremental",
          "--accounts",
          two.join(","),
          "--lease-seconds",
          "600",
        ])
        expect(await next.exited, next.stderr()).toBe(0)
      } finally {
        await store.close()
      }
    })
  }, 180_000)
})
