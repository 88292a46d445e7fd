/**
 * Many Stripe accounts in one store (issue 13, item 1 and its first test): two platform accounts
 * (two simulators, each with its own key and webhook secret: `default` and `second`) and one
 * connected account of `default` (`acct_…`, read with the Stripe-Account header, its events sent
 * to a Connect endpoint), all over real HTTP into ONE store. Webhooks, sweeps and incremental runs
 * of each account see only that account's sessions: "missing at Stripe" is 0 for each, the
 * incremental run of `second` has no 404 and completes, and the audit queries filter by account.
 * (Data recorded before accounts reading as `default`: packages/store/test/accounts.test.ts.)
 *
 * Runs on the embedded PGlite, and on Postgres too when DATABASE_URL is set.
 */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { type Report, reconcile, stripeApi } from "@idtrail/reconciler"
import { type StartedSimulator, startSimulator } from "@idtrail/simulator"
import { EventStore, type PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { nodeWebhookHandler } from "@idtrail/webhooks"
import { Effect } from "effect"
import Stripe from "stripe"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { reportData } from "../packages/audit/src/report-data.ts"

const backends = [
  { name: "pglite", databaseUrl: undefined },
  ...(process.env.DATABASE_URL ? [{ name: "postgres", databaseUrl: process.env.DATABASE_URL }] : []),
]

const CONNECTED = "acct_1IdtrailConn"
const counts = { default: 40, second: 30, [CONNECTED]: 25 } as const
type Account = keyof typeof counts
const accounts = Object.keys(counts) as ReadonlyArray<Account>
const always = { from: new Date(0), to: new Date(Date.UTC(2100, 0, 1)) }

const sdk = (sim: StartedSimulator, stripeAccount?: string) =>
  new Stripe("sk_test_accounts", {
    apiVersion: "2026-07-29.dahlia",
    host: "127.0.0.1",
    port: sim.port,
    protocol: "http",
    maxNetworkRetries: 0,
    ...(stripeAccount === undefined ? {} : { stripeAccount }),
  })

describe.each(backends)("accounts in one store ($name)", ({ databaseUrl }) => {
  let platform: StartedSimulator // default, with the connected account
  let second: StartedSimulator
  let store: PromiseStore & { readonly dispose: () => Promise<void> }
  const servers: Array<Server> = []
  const refused: Array<string> = []

  const simOf = (account: Account) => (account === "second" ? second : platform)
  const apiOf = (account: Account) =>
    stripeApi({
      apiKey: "sk_test_accounts",
      baseUrl: simOf(account).url,
      maxRequestsPerSecond: 10_000,
      ...(account === CONNECTED ? { stripeAccount: CONNECTED } : {}),
    })
  const run = (account: Account, mode: "sweep" | "incremental") =>
    reconcile(store, apiOf(account), { mode, account })
  const sessionsOf = async (account: Account) =>
    (await store.sessions.createdBetween({ from: 0, to: null, limit: 1000, account })).map((s) => s.id).sort()
  const stripeSessionsOf = async (account: Account) =>
    (
      await sdk(simOf(account), account === CONNECTED ? CONNECTED : undefined)
        .identity.verificationSessions.list({ limit: 100 })
        .autoPagingToArray({ limit: 10_000 })
    )
      .map((s) => s.id)
      .sort()

  /** A webhook endpoint recording into the store; `account` is the platform account of its secret. */
  const endpoint = async (sim: StartedSimulator, account: string, connect: boolean) => {
    let secret = ""
    const server = createServer((req, res) =>
      nodeWebhookHandler({
        store,
        secrets: secret,
        account,
        now: () => sim.control.now(),
        onError: (error, status) => refused.push(`${status}: ${(error as Error).message}`),
      })(req, res),
    )
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    servers.push(server)
    const { port } = server.address() as AddressInfo
    secret = sim.control.addWebhookEndpoint({ url: `http://127.0.0.1:${port}/webhooks`, connect }).secret
  }

  beforeAll(async () => {
    platform = await startSimulator({
      seed: 21,
      sessions: counts.default,
      connectedAccounts: [CONNECTED],
      connectedSessions: counts[CONNECTED],
      rateLimit: false,
    })
    second = await startSimulator({ seed: 22, sessions: counts.second, rateLimit: false })
    store = await openTemporaryStore({ databaseUrl })
    await endpoint(platform, "default", false)
    await endpoint(platform, "default", true) // Stripe's Connect endpoint: the connected accounts' events
    await endpoint(second, "second", false)
  }, 120_000)

  afterAll(async () => {
    for (const server of servers) await new Promise<void>((resolve) => server.close(() => resolve()))
    await platform?.close()
    await second?.close()
    await store?.dispose()
  })

  const sweeps: Partial<Record<Account, Report>> = {}

  it("a sweep of each account records exactly its own sessions, and finds none missing at Stripe", async () => {
    for (const account of accounts) {
      const report = await run(account, "sweep")
      sweeps[account] = report
      expect(report).toMatchObject({
        account,
        complete: true,
        examined: counts[account],
        started: counts[account],
        missingRemotelyCount: 0,
      })
      expect(report.errors).toEqual([])
    }
    for (const account of accounts) expect(await sessionsOf(account)).toEqual(await stripeSessionsOf(account))
    expect(await sessionsOf("default")).toHaveLength(counts.default)
  }, 120_000)

  it("webhooks of each account (platform endpoints and the Connect endpoint) record under their account", async () => {
    const created: Partial<Record<Account, string>> = {}
    for (const account of accounts) {
      const client = sdk(simOf(account), account === CONNECTED ? CONNECTED : undefined)
      const session = await client.identity.verificationSessions.create({ type: "document" })
      created[account] = session.id
      simOf(account).control.advanceClock(1)
      simOf(account).control.submit(session.id)
      simOf(account).control.advanceClock(1)
      simOf(account).control.pass(session.id)
    }
    await platform.control.flushWebhooks()
    await second.control.flushWebhooks()
    expect(refused).toEqual([])
    for (const account of accounts) {
      const id = created[account]!
      const state = await store.state(id)
      expect(state.account).toBe(account)
      expect(state.facts?.status).toBe("verified")
      const events = await store.readStream(id)
      expect(events.map((e) => [e.metadata.source, e.metadata.account])).toEqual(
        events.map(() => ["webhook", account]),
      )
      expect(await sessionsOf(account)).toContain(id)
    }
  }, 60_000)

  it("an incremental run of each account reads only its own events and open sessions: no 404, complete, and its cursor moves on", async () => {
    for (const account of accounts) {
      const first = await run(account, "incremental")
      expect(first).toMatchObject({ account, complete: true, missingRemotelyCount: 0 })
      expect(first.errors).toEqual([]) // no 404 on another account's sessions
      expect(first.quarantinedCount).toBe(0)
      const again = await run(account, "incremental")
      expect(again).toMatchObject({ complete: true, eventsRead: 0, started: 0, repaired: 0 })
      expect(again.errors).toEqual([])
    }
  }, 120_000)

  it("a sweep of each account afterwards: nothing missing at Stripe, nothing to repair", async () => {
    for (const account of accounts) {
      const report = await run(account, "sweep")
      expect(report).toMatchObject({
        complete: true,
        examined: counts[account] + 1,
        started: 0,
        repaired: 0,
        missingRemotelyCount: 0,
      })
    }
  }, 120_000)

  it("the audit queries filter by account: counts, sessions created, transitions, runs and the report's data", async () => {
    const total = (rows: ReadonlyArray<{ sessions: number }>) => rows.reduce((n, r) => n + r.sessions, 0)
    expect(total(await store.audit.countsByStatus())).toBe(
      counts.default + counts.second + counts[CONNECTED] + 3,
    )
    for (const account of accounts) {
      expect(total(await store.audit.countsByStatus({ account }))).toBe(counts[account] + 1)
      const created = await store.audit.sessionsCreated(always, { after: null, limit: 1000 }, { account })
      expect(created.map((s) => s.sessionId).sort()).toEqual(await sessionsOf(account))
      expect(created.every((s) => s.account === account)).toBe(true)
      // Each account's webhook session went requires_input → processing → verified.
      const transitions = await store.audit.transitions(always, { account })
      expect(
        transitions.find((t) => t.toStatus === "verified" && t.fromStatus === "processing")?.count,
      ).toBeGreaterThan(0)
      const runs = await store.audit.runs(always, { account })
      expect(runs.map((r) => r.account)).toEqual(runs.map(() => account))
      expect(runs).toHaveLength(4) // two sweeps, two incremental runs
    }
    expect(await store.audit.countsByStatus({ account: "nobody" })).toEqual([])
    expect(total(await store.audit.countsByStatus({ livemode: true }))).toBe(0)
    const data = await Effect.runPromise(
      reportData(always, { maxSessions: 1000, filter: { account: CONNECTED } }).pipe(
        Effect.provideService(EventStore, store.service),
      ),
    )
    expect(data.funnel.created).toBe(counts[CONNECTED] + 1)
    expect(data.sessions.map((s) => s.row.account)).toEqual(data.sessions.map(() => CONNECTED))
    expect(data.runs.map((r) => r.account)).toEqual(data.runs.map(() => CONNECTED))
  }, 60_000)
})
