/**
 * Connect: one simulator serves the platform and its connected accounts. A request with the
 * `Stripe-Account` header (the SDK's `stripeAccount` option) sees that account's own sessions,
 * events and list pages; Connect webhook endpoints receive the connected accounts' events with
 * `account`, ordinary endpoints the platform's only. All through the official SDK over HTTP.
 */
import { spawn } from "node:child_process"
import path from "node:path"
import { fc, test } from "@fast-check/vitest"
import Stripe from "stripe"
import { afterEach, describe, expect, it } from "vitest"
import { Simulator } from "../src/index.ts"
import { failure, type Harness, KEY, type RawBody, startHarness } from "./support/harness.ts"
import { type Receiver, startReceiver } from "./support/receiver.ts"
import { expectConforms, repoRoot } from "./support/schemas.ts"

const A = "acct_1ConnectedAaaaaa"
const B = "acct_1ConnectedBbbbbb"
const verifier = new Stripe("sk_test_unused", { apiVersion: "2026-07-29.dahlia" as Stripe.LatestApiVersion })

const open: Array<{ close: () => Promise<void> }> = []
const harnesses: Harness[] = []
afterEach(async () => {
  const violations = harnesses.splice(0).flatMap((h) => h.violations())
  await Promise.all(open.splice(0).map((x) => x.close()))
  expect(violations).toEqual([])
})

const setup = async (options: Parameters<typeof startHarness>[0] = {}): Promise<Harness> => {
  const h = await startHarness({
    seed: 13,
    connectedAccounts: [A, B],
    webhookRetry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  })
  open.push(h)
  harnesses.push(h)
  return h
}

const receiver = async (): Promise<Receiver> => {
  const r = await startReceiver()
  open.push(r)
  return r
}

/** An SDK client acting as connected account `account` (the client-wide `stripeAccount` option). */
const as = (h: Harness, account: string): Stripe => h.client(KEY, { stripeAccount: account })

const ids = (list: { data: Array<{ id: string }> }): string[] => list.data.map((x) => x.id)

describe("sessions per account", () => {
  it("lists only the account's own sessions: platform, A and B each see theirs, and no id is shared", async () => {
    const h = await setup({ sessions: 4, connectedSessions: 3 })
    const made = {
      platform: await h.stripe.identity.verificationSessions.create({ type: "document" }),
      A: await as(h, A).identity.verificationSessions.create({ type: "document" }),
      B: await as(h, B).identity.verificationSessions.create({ type: "id_number" }),
    }
    const platform = await h.stripe.identity.verificationSessions.list({ limit: 100 })
    const a = await as(h, A).identity.verificationSessions.list({ limit: 100 })
    const b = await as(h, B).identity.verificationSessions.list({ limit: 100 })
    expect(platform.data).toHaveLength(5)
    expect(a.data).toHaveLength(4)
    expect(b.data).toHaveLength(4)
    expect(ids(platform)).toContain(made.platform.id)
    expect(ids(a)).toContain(made.A.id)
    expect(ids(b)).toContain(made.B.id)
    // Generated histories of the same size and index still get distinct ids in each account.
    const all = [...ids(platform), ...ids(a), ...ids(b)]
    expect(new Set(all).size).toBe(all.length)
  })

  it("answers 404 resource_missing when an account retrieves, updates or cancels another account's session", async () => {
    const h = await setup()
    const s = await as(h, A).identity.verificationSessions.create({ type: "document" })
    await expect(as(h, A).identity.verificationSessions.retrieve(s.id)).resolves.toMatchObject({ id: s.id })
    for (const other of [h.stripe, as(h, B)]) {
      const e = await failure(other.identity.verificationSessions.retrieve(s.id))
      expect(e).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError)
      expect(e.statusCode).toBe(404)
      expect(e.code).toBe("resource_missing")
      const c = await failure(other.identity.verificationSessions.cancel(s.id))
      expect(c.statusCode).toBe(404)
    }
    // The per-request option reaches the same account as the client-wide one.
    const viaOption = await h.stripe.identity.verificationSessions.retrieve(s.id, {}, { stripeAccount: A })
    expect(viaOption.status).toBe("requires_input")
    expect((await as(h, A).identity.verificationSessions.retrieve(s.id)).status).toBe("requires_input")
  })

  it("drives a connected account's session through the control API by its id alone", async () => {
    const h = await setup()
    const s = await as(h, B).identity.verificationSessions.create({ type: "document" })
    h.sim.control.submit(s.id)
    h.sim.control.pass(s.id)
    expect((await as(h, B).identity.verificationSessions.retrieve(s.id)).status).toBe("verified")
    expect(h.sim.control.stats(B)).toMatchObject({ account: B, sessions: 1, events: 3 })
    expect(h.sim.control.stats(A)).toMatchObject({ account: A, sessions: 0, events: 0 })
    expect(h.sim.control.stats()).toMatchObject({ account: null, sessions: 0, events: 0 })
    // The platform's own id names the platform here too, as the Stripe-Account header takes it.
    expect(h.sim.control.stats(h.sim.control.platformAccountId)).toMatchObject({
      account: null,
      sessions: 0,
      events: 0,
    })
  })
})

describe("isolation law (in process)", () => {
  const op = fc.record({
    account: fc.nat({ max: 3 }), // 0 = the platform, 1–3 = connected accounts
    cancel: fc.boolean(),
    generate: fc.nat({ max: 3 }),
  })
  test.prop([fc.integer({ min: 1, max: 2 ** 31 }), fc.array(op, { maxLength: 30 })], { numRuns: 100 })(
    "for any seed and any mix of creates, cancels and generation over accounts, each account lists exactly its own sessions and events, and every id is found in its own account only",
    (seed, ops) => {
      const platform = new Simulator({ seed, frozenClock: true, startTime: 1_800_000_000 })
      const accounts = [
        platform,
        ...["acct_1P", "acct_1Q", "acct_1R"].map((id) => platform.addConnectedAccount(id)),
      ]
      const mine = accounts.map(() => new Set<string>())
      for (const o of ops) {
        const a = accounts[o.account]!
        const made = a.generate(o.generate, { spanDays: 1 })
        if (made.first !== null)
          for (let i = a.findSession(made.first); i < a.sessions.size; i++)
            mine[o.account]!.add(a.sessionIds.encode(i))
        const i = a.createSession(() => {}, "document")
        if (o.cancel) a.act(i, { kind: "cancel" })
        mine[o.account]!.add(a.sessionIds.encode(i))
      }
      accounts.forEach((a, k) => {
        const listed = a.listSessions({ limit: 100 }).data.map((x) => x.id as string)
        expect(new Set(listed)).toEqual(new Set([...mine[k]!].slice(-100)))
        for (const e of a.listEvents({ limit: 100 }).data) {
          expect(mine[k]!.has((e.data as { object: { id: string } }).object.id)).toBe(true)
          expect(e.account).toBe(k === 0 ? undefined : a.accountId)
        }
        for (const id of mine[k]!) {
          expect(platform.locateSession(id).account).toBe(a)
          accounts.forEach((other, j) => {
            if (j !== k) expect(() => other.findSession(id)).toThrow(/No such verification_session/)
          })
        }
      })
    },
  )
})

describe("events per account", () => {
  it("lists each account's own events; a connected account's carry account, the platform's none", async () => {
    const h = await setup()
    await h.stripe.identity.verificationSessions.create({ type: "document" })
    const sa = await as(h, A).identity.verificationSessions.create({ type: "document" })
    await as(h, A).identity.verificationSessions.cancel(sa.id)
    const platform = await h.stripe.events.list({ limit: 100 })
    const a = await as(h, A).events.list({ limit: 100 })
    const b = await as(h, B).events.list({ limit: 100 })
    expect(platform.data.map((e) => e.type)).toEqual(["identity.verification_session.created"])
    expect(platform.data[0]).not.toHaveProperty("account")
    expect(a.data.map((e) => e.type)).toEqual([
      "identity.verification_session.canceled",
      "identity.verification_session.created",
    ])
    for (const e of a.data) {
      expect(e.account).toBe(A)
      expect((e.data.object as { id: string }).id).toBe(sa.id)
    }
    expect(b.data).toEqual([])
    const e = await failure(h.stripe.events.retrieve(a.data[0]!.id))
    expect(e.statusCode).toBe(404)
    expect((await as(h, A).events.retrieve(a.data[0]!.id)).account).toBe(A)
  })

  it("expires a connected account's events after 30 days on the platform's shared clock", async () => {
    const h = await setup({ connectedSessions: 0 })
    await as(h, A).identity.verificationSessions.create({ type: "document" })
    expect((await as(h, A).events.list()).data).toHaveLength(1)
    expect((await h.stripe.events.list()).data).toHaveLength(0)
    h.sim.control.advanceClock(31 * 86_400)
    expect((await as(h, A).events.list()).data).toHaveLength(0)
    expect(h.sim.control.stats(A).liveEvents).toBe(0)
  })
})

describe("Connect webhooks", () => {
  it("sends connected accounts' events (with account) to the Connect endpoint and platform events to the ordinary one", async () => {
    const h = await setup()
    const ordinary = await receiver()
    const connect = await receiver()
    const plain = h.sim.control.addWebhookEndpoint({ url: ordinary.url })
    const connected = h.sim.control.addWebhookEndpoint({ url: connect.url, connect: true })
    expect(plain.connect).toBe(false)
    expect(connected.connect).toBe(true)
    const p = await h.stripe.identity.verificationSessions.create({ type: "document" })
    const a = await as(h, A).identity.verificationSessions.create({ type: "document" })
    const b = await as(h, B).identity.verificationSessions.create({ type: "document" })
    h.sim.control.submit(a.id)
    h.sim.control.pass(a.id)
    await as(h, B).identity.verificationSessions.cancel(b.id)
    await h.sim.control.flushWebhooks()

    const platformEvents = ordinary.received.map((x) =>
      verifier.webhooks.constructEvent(x.body, x.signature!, plain.secret),
    )
    expect(platformEvents.map((e) => (e.data.object as { id: string }).id)).toEqual([p.id])
    expect(platformEvents[0]).not.toHaveProperty("account")

    const connectEvents = connect.received.map((x) =>
      verifier.webhooks.constructEvent(x.body, x.signature!, connected.secret),
    )
    for (const e of connectEvents) expectConforms("event", e)
    const seen = connectEvents.map((e) => `${e.account} ${(e.data.object as { id: string }).id} ${e.type}`)
    expect(seen.sort()).toEqual(
      [
        `${A} ${a.id} identity.verification_session.created`,
        `${A} ${a.id} identity.verification_session.processing`,
        `${A} ${a.id} identity.verification_session.verified`,
        `${B} ${b.id} identity.verification_session.created`,
        `${B} ${b.id} identity.verification_session.canceled`,
      ].sort(),
    )
    // Signed with the Connect endpoint's own secret, not the ordinary one's.
    const x = connect.received[0]!
    expect(() => verifier.webhooks.constructEvent(x.body, x.signature!, plain.secret)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    )
    // Each account's events were acknowledged by the one endpoint of their kind.
    for (const [client, n] of [
      [h.stripe, 1],
      [as(h, A), 3],
      [as(h, B), 2],
    ] as const) {
      const events = await client.events.list({ limit: 100 })
      expect(events.data).toHaveLength(n)
      expect(events.data.every((e) => e.pending_webhooks === 0)).toBe(true)
    }
    expect(h.sim.control.stats().webhooks.delivered).toBe(1)
    expect(h.sim.control.stats(A).webhooks.delivered).toBe(3)
    expect(h.sim.control.stats(B).webhooks.delivered).toBe(2)
  })

  it("retries and duplicates a connected account's deliveries like the platform's", async () => {
    const h = await setup()
    const connect = await receiver()
    connect.respond = (_body, attempt) => (attempt === 1 ? 500 : 200)
    h.sim.control.addWebhookEndpoint({ url: connect.url, connect: true })
    h.sim.control.setWebhookFaults({ duplicateRate: 1 })
    await as(h, A).identity.verificationSessions.create({ type: "document" })
    await h.sim.control.flushWebhooks()
    const stats = h.sim.control.stats(A).webhooks
    expect(stats).toMatchObject({ duplicated: 1, delivered: 2, failed: 0 })
    expect(stats.retried).toBeGreaterThanOrEqual(1)
    expect(new Set(connect.received.map((x) => x.body)).size).toBe(1)
    expect(connect.received.filter((x) => JSON.parse(x.body).account === A).length).toBe(
      connect.received.length,
    )
    expect(h.sim.control.stats().webhooks.attempts).toBe(0)
  })
})

describe("GET /v1/accounts", () => {
  it("lists the connected accounts newest first and paginates with limit, starting_after and has_more", async () => {
    const h = await setup({ connectedAccounts: [] })
    const made: string[] = []
    for (let i = 0; i < 23; i++) made.push(h.sim.control.addConnectedAccount().id as string)
    expect(new Set(made).size).toBe(23)
    const first = await h.stripe.accounts.list({ limit: 10 })
    expect(first.has_more).toBe(true)
    expect(ids(first)).toEqual(made.slice(-10).reverse())
    const second = await h.stripe.accounts.list({ limit: 10, starting_after: first.data.at(-1)!.id })
    expect(ids(second)).toEqual(made.slice(3, 13).reverse())
    const third = await h.stripe.accounts.list({ limit: 10, starting_after: second.data.at(-1)!.id })
    expect(third.has_more).toBe(false)
    expect(ids(third)).toEqual(made.slice(0, 3).reverse())
    const all = await h.stripe.accounts.list({ limit: 7 }).autoPagingToArray({ limit: 100 })
    expect(all.map((x) => x.id)).toEqual([...made].reverse())
    for (const x of all) expect(x).toMatchObject({ object: "account", charges_enabled: true })
    const back = await h.stripe.accounts.list({ limit: 5, ending_before: made[10]! })
    expect(ids(back)).toEqual(made.slice(11, 16).reverse())
  })

  it("retrieves a connected account by id, the request's own account without one, and 404s an unknown id", async () => {
    const h = await setup()
    expect((await h.stripe.accounts.retrieve(A)).id).toBe(A)
    expect((await h.stripe.accounts.retrieveCurrent()).id).toBe(h.sim.control.platformAccountId)
    expect((await as(h, B).accounts.retrieveCurrent()).id).toBe(B)
    const e = await failure(h.stripe.accounts.retrieve("acct_1NotConnected"))
    expect(e.statusCode).toBe(404)
    expect(e.code).toBe("resource_missing")
    // A connected account has no connected accounts of its own.
    expect((await as(h, A).accounts.list()).data).toEqual([])
  })
})

describe("an account the platform cannot act as", () => {
  it("refuses an unknown Stripe-Account with 403 account_invalid (StripePermissionError) and writes nothing", async () => {
    const h = await setup()
    // Counts only: `now` moves with the wall clock.
    const counts = (account?: string) => {
      const { now: _now, ...rest } = h.sim.control.stats(account)
      return rest
    }
    const before = counts()
    const stranger = as(h, "acct_1Unknown00000000")
    for (const call of [
      stranger.identity.verificationSessions.create({ type: "document" }),
      stranger.identity.verificationSessions.list(),
      stranger.events.list(),
    ]) {
      const e = await failure(call)
      expect(e).toBeInstanceOf(Stripe.errors.StripePermissionError)
      expect(e.statusCode).toBe(403)
      expect(e.code).toBe("account_invalid")
      expect(e.message).toMatch(/does not have access to account 'acct_1Unknown00000000'/)
      expect(e.message).not.toContain(KEY)
    }
    expect(counts()).toEqual(before)
    for (const account of [A, B]) expect(counts(account)).toMatchObject({ sessions: 0, events: 0 })
  })

  it("refuses an empty Stripe-Account header too, and accepts the platform's own id as the platform", async () => {
    const h = await setup()
    const empty = await h.raw("GET", "/v1/identity/verification_sessions", {
      headers: { "stripe-account": "" },
    })
    expect(empty.status).toBe(403)
    expect((empty.body as RawBody).error.code).toBe("account_invalid")
    const own = await h.raw("POST", "/v1/identity/verification_sessions", {
      body: "type=document",
      headers: { "stripe-account": h.sim.control.platformAccountId },
    })
    expect(own.status).toBe(200)
    expect(h.sim.control.stats().sessions).toBe(1)
  })
})

describe("limits and idempotency per account", () => {
  it("keeps a separate rate-limit budget for each account", async () => {
    const h = await setup({ rateLimit: 3 })
    const get = (account?: string) =>
      h.raw("GET", "/v1/events", account === undefined ? {} : { headers: { "stripe-account": account } })
    // Spend the platform's budget until it answers 429 (timing-proof: keep asking).
    let refused = false
    for (let i = 0; i < 50 && !refused; i++) refused = (await get()).status === 429
    expect(refused).toBe(true)
    // Right after, connected account A still has its whole budget.
    const a = await Promise.all([get(A), get(A), get(A)])
    expect(a.map((r) => r.status)).toEqual([200, 200, 200])
  })

  it("scopes an Idempotency-Key to the account: the same key creates one session in each", async () => {
    const h = await setup()
    const key = "same-key-everywhere"
    const a1 = await as(h, A).identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: key },
    )
    const b1 = await as(h, B).identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: key },
    )
    const a2 = await as(h, A).identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: key },
    )
    expect(a1.id).not.toBe(b1.id)
    expect(a2.id).toBe(a1.id)
    expect(a2.lastResponse.headers["idempotent-replayed"]).toBe("true")
    expect(h.sim.control.stats(A).sessions).toBe(1)
    expect(h.sim.control.stats(B).sessions).toBe(1)
  })
})

describe("control API for accounts", () => {
  const control = async (h: Harness, method: string, route: string, body?: unknown) => {
    const res = await fetch(`${h.sim.url}/_sim${route}`, {
      method,
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    })
    return { status: res.status, body: (await res.json()) as RawBody }
  }

  it("adds accounts, generates and counts per account, and registers Connect endpoints over HTTP", async () => {
    const h = await setup({ connectedAccounts: [] })
    const added = await control(h, "POST", "/accounts", { id: "acct_1ViaControl" })
    expect(added.status).toBe(200)
    expect(added.body).toMatchObject({ id: "acct_1ViaControl", object: "account" })
    const minted = await control(h, "POST", "/accounts", {})
    expect(minted.body.id).toMatch(/^acct_1[A-Za-z0-9]{15}$/)
    expect((await control(h, "GET", "/accounts")).body.data.map((a: RawBody) => a.id)).toEqual([
      "acct_1ViaControl",
      minted.body.id,
    ])
    const gen = await control(h, "POST", "/generate", { count: 40, account: "acct_1ViaControl" })
    expect(gen.body.total).toBe(40)
    const stats = await control(h, "GET", "/stats?account=acct_1ViaControl")
    expect(stats.body).toMatchObject({ account: "acct_1ViaControl", sessions: 40 })
    expect((await control(h, "GET", "/stats")).body).toMatchObject({ account: null, sessions: 0 })
    const listed = await as(h, "acct_1ViaControl").identity.verificationSessions.list({ limit: 100 })
    expect(listed.data).toHaveLength(40)
    expect(ids(listed)).toContain(gen.body.first)
    const endpoint = await control(h, "POST", "/webhook_endpoints", {
      url: "http://127.0.0.1:9/x",
      connect: true,
    })
    expect(endpoint.body.connect).toBe(true)
  })

  it("refuses a malformed or duplicate account id (400) and an unknown account (404), changing nothing", async () => {
    const h = await setup()
    for (const id of ["acct_", "acct_has space", "cus_123", A]) {
      const r = await control(h, "POST", "/accounts", { id })
      expect(r.status).toBe(400)
      expect(r.body.error.type).toBe("invalid_request_error")
    }
    expect(h.sim.control.connectedAccounts()).toEqual([A, B])
    const gen = await control(h, "POST", "/generate", { count: 5, account: "acct_1Nobody" })
    expect(gen.status).toBe(404)
    expect(gen.body.error.code).toBe("resource_missing")
    expect((await control(h, "GET", "/stats?account=acct_1Nobody")).status).toBe(404)
    const connect = await control(h, "POST", "/webhook_endpoints", {
      url: "http://127.0.0.1:9/x",
      connect: "yes",
    })
    expect(connect.status).toBe(400)
    expect(h.sim.control.webhookEndpoints()).toEqual([])
  })
})

describe("CLI", () => {
  const cli = path.join(repoRoot, "packages/simulator/src/cli.ts")
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string; child: ReturnType<typeof spawn> }>(
      (resolve) => {
        const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (c) => {
          stdout += c
          if (/http:\/\/\S+\n/.test(stdout)) resolve({ code: null, stdout, stderr, child })
        })
        child.stderr.on("data", (c) => {
          stderr += c
        })
        child.on("exit", (code) => resolve({ code, stdout, stderr, child }))
      },
    )

  it("serves connected accounts given by --connected-account with --connected-sessions each", async () => {
    const { stdout, child } = await run([
      "--port",
      "0",
      "--connected-account",
      "acct_1CliOne",
      "--connected-account",
      "acct_1CliTwo",
      "--connected-sessions",
      "7",
      "--connect-webhook",
      "http://127.0.0.1:9/hook",
    ])
    try {
      expect(stdout).toMatch(/connected account acct_1CliOne: 7 sessions/)
      expect(stdout).toMatch(/Connect webhook we_\S+ → http:\/\/127\.0\.0\.1:9\/hook \(secret whsec_/)
      const port = Number(new URL(stdout.match(/(http:\/\/\S+)\n/)![1]!).port)
      const stripe = new Stripe("sk_test_cli", {
        apiVersion: "2026-07-29.dahlia" as Stripe.LatestApiVersion,
        host: "127.0.0.1",
        port,
        protocol: "http",
        maxNetworkRetries: 0,
      })
      expect(ids(await stripe.accounts.list())).toEqual(["acct_1CliTwo", "acct_1CliOne"])
      const two = await stripe.identity.verificationSessions.list(
        { limit: 100 },
        { stripeAccount: "acct_1CliTwo" },
      )
      expect(two.data).toHaveLength(7)
      expect((await stripe.identity.verificationSessions.list()).data).toHaveLength(0)
    } finally {
      child.kill("SIGTERM")
    }
  })

  it.each([
    [["--connected-account", "nope"], /--connected-account must be acct_/],
    [["--connected-account", "acct_1X", "--connected-account", "acct_1X"], /twice/],
    [["--connected-sessions", "x"], /--connected-sessions must be an integer/],
    [["--connect-webhook", "nope"], /--connect-webhook must be a URL/],
    [["--connected-sessions", "5"], /--connected-sessions needs at least one --connected-account/],
  ])("exits 2 with a clear message for %j", async (args, message) => {
    const { code, stderr } = await run(args)
    expect(code).toBe(2)
    expect(stderr).toMatch(message)
  })
})
