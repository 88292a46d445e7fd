import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { reconcile } from "../src/index.ts"
import { backends, openWorld, type World } from "./fixtures.ts"

/** The re-read schedule with no threshold and no cap: every open session is due (as before issue 12). */
const everyOpenSession = { rereadFraction: 0, rereadShare: 1 } as const

/** Stripe's truth for a session, as the simulator holds it. */
const truth = (w: World, id: string) =>
  w.sim.control.session(id) as {
    status: string
    metadata: Record<string, string>
    redaction: { status: string } | null
  }

const expectLocalEqualsStripe = async (w: World, id: string) => {
  const state = await w.store.state(id)
  const t = truth(w, id)
  expect({
    id,
    status: state.facts?.status,
    metadata: state.facts?.metadata,
    redaction: state.facts?.redactionStatus,
  }).toEqual({
    id,
    status: t.status,
    metadata: t.metadata,
    redaction: t.redaction?.status ?? null,
  })
}

describe.each(backends)("the reconciler on $name, against the simulator over HTTP", ({ databaseUrl }) => {
  let w: World
  beforeEach(async () => {
    // 150 sessions with random legal histories: two pages of a sweep.
    w = await openWorld(databaseUrl, 150)
  })
  afterEach(async () => {
    await w?.dispose()
  })

  it("a sweep records every session Stripe has, as Stripe has it; a second sweep right after changes nothing", async () => {
    const first = await reconcile(w.store, w.api(), { mode: "sweep" })
    expect(first).toMatchObject({ complete: true, examined: 150, started: 150, repaired: 0, errors: [] })
    const ids = (await w.stripe.identity.verificationSessions.list({ limit: 100 })).data.map((s) => s.id)
    for (const id of ids.slice(0, 25)) await expectLocalEqualsStripe(w, id)
    const events = await w.eventCount()

    const second = await reconcile(w.store, w.api(), { mode: "sweep" })
    expect(second).toMatchObject({ complete: true, examined: 150, started: 0, repaired: 0, unchanged: 150 })
    expect(second.missingRemotelyCount).toBe(0)
    expect(await w.eventCount()).toBe(events)
  })

  it("drift is repaired with ordinary events carrying the run's id: a status Stripe moved, metadata changed through the API (no webhook), a redaction", async () => {
    const created = await Promise.all(
      [1, 2, 3].map(() => w.stripe.identity.verificationSessions.create({ type: "document" })),
    )
    const [a, b, c] = created.map((s) => s.id) as [string, string, string]
    await reconcile(w.store, w.api(), { mode: "incremental" })
    w.sim.control.advanceClock(5)
    w.sim.control.submit(a)
    w.sim.control.pass(a)
    await w.stripe.identity.verificationSessions.update(b, { metadata: { order: "42" } })
    await w.stripe.identity.verificationSessions.redact(c)
    w.sim.control.advanceClock(5)

    // Every open session re-read (the schedule's cap lifted): b's update emitted no event.
    const run = await reconcile(w.store, w.api(), {
      mode: "incremental",
      runId: "recon_test_drift",
      ...everyOpenSession,
    })
    expect(run.complete).toBe(true)
    expect(run.repaired).toBeGreaterThanOrEqual(3)
    expect(run.repairs.map((r) => r.sessionId)).toEqual(expect.arrayContaining([a, b, c]))
    for (const id of [a, b, c]) await expectLocalEqualsStripe(w, id)
    const history = await w.store.readStream(b)
    const repair = history.at(-1)!
    expect(repair.event._tag).toBe("SessionUpdated")
    expect(repair.metadata).toMatchObject({
      source: "reconciler",
      actor: { kind: "reconciler", id: "recon_test_drift" },
      correlationId: "recon_test_drift",
    })
    expect((await reconcile(w.store, w.api(), { mode: "incremental" })).repaired).toBe(0)
  })

  it("a dry run reports the repairs a run would make and writes nothing", async () => {
    await reconcile(w.store, w.api(), { mode: "sweep" })
    const created = await w.stripe.identity.verificationSessions.create({ type: "document" })
    const open = (await w.stripe.identity.verificationSessions.list({ limit: 100, status: "requires_input" }))
      .data
    const moved = open.find((s) => s.id !== created.id && s.redaction === null)!
    w.sim.control.advanceClock(3)
    w.sim.control.submit(moved.id)
    w.sim.control.advanceClock(3)
    const events = await w.eventCount()

    const dry = await reconcile(w.store, w.api(), { mode: "sweep", dryRun: true })
    expect(dry).toMatchObject({ dryRun: true, complete: true, started: 1, repaired: 1 })
    expect(dry.repairs.map((r) => r.sessionId).sort()).toEqual([created.id, moved.id].sort())
    expect(await w.eventCount()).toBe(events)
    expect((await w.store.state(created.id)).version).toBe(0)

    const real = await reconcile(w.store, w.api(), { mode: "sweep" })
    expect(real).toMatchObject({ started: 1, repaired: 1, eventsByType: dry.eventsByType })
  })

  it("local sessions Stripe does not list are reported and left as they are", async () => {
    await reconcile(w.store, w.api(), { mode: "sweep" })
    const known = (await w.stripe.identity.verificationSessions.list({ limit: 1 })).data[0]!
    // A session of another account (or a deleted one) in the local record, inside the listed time range.
    const stray = { ...known, id: "vs_stray_not_at_stripe", created: known.created - 1 }
    await w.store.handle(
      stray.id,
      { _tag: "Observe", session: stray as never, source: "api", observedAt: known.created },
      { actor: { kind: "service", id: "tests" } },
    )
    const before = await w.store.readStream(stray.id)
    const sweep = await reconcile(w.store, w.api(), { mode: "sweep" })
    expect(sweep).toMatchObject({ complete: true, missingRemotelyCount: 1, missingRemotely: [stray.id] })
    expect(await w.store.readStream(stray.id)).toEqual(before)
  })

  it("when Stripe lists no session at all, every local session is reported missing there, once, read a page at a time", async () => {
    await reconcile(w.store, w.api(), { mode: "sweep" })
    const local = (
      await w.stripe.identity.verificationSessions.list({ limit: 100 }).autoPagingToArray({ limit: 1000 })
    )
      .map((s) => s.id)
      .sort()
    const empty = await openWorld(databaseUrl, 0)
    try {
      // The same account, whose Stripe now lists nothing (another account's sweep would see none of these).
      const sweep = await reconcile(w.store, empty.api(), { mode: "sweep", localPageSize: 7 })
      expect(sweep).toMatchObject({ complete: true, examined: 0, missingRemotelyCount: 150 })
      expect([...sweep.missingRemotely].sort()).toEqual(local)
    } finally {
      await empty.dispose()
    }
  })

  it("an incremental run reads only the events after its cursor: a second run reads none", async () => {
    const first = await reconcile(w.store, w.api(), { mode: "incremental" })
    expect(first.complete).toBe(true)
    expect(first.eventsRead).toBeGreaterThan(0)
    expect(first.warnings.join()).toMatch(/no saved cursor/)
    const second = await reconcile(w.store, w.api(), { mode: "incremental" })
    expect(second).toMatchObject({ complete: true, eventsRead: 0, started: 0, repaired: 0, warnings: [] })
    const created = await w.stripe.identity.verificationSessions.create({ type: "document" })
    const third = await reconcile(w.store, w.api(), { mode: "incremental" })
    expect(third).toMatchObject({ eventsRead: 1, started: 1 })
    expect((await w.store.state(created.id)).facts?.status).toBe("requires_input")
  })

  it("an incremental run re-reads every open session exactly once, a page of ids at a time", async () => {
    await reconcile(w.store, w.api(), { mode: "sweep" })
    await reconcile(w.store, w.api(), { mode: "incremental" })
    const open = (await w.store.audit.countsByStatus())
      .filter((c) => c.status !== "verified" && c.status !== "canceled")
      .reduce((n, c) => n + c.sessions, 0)
    expect(open).toBeGreaterThan(7)
    const paged = await reconcile(w.store, w.api(), {
      mode: "incremental",
      localPageSize: 7,
      ...everyOpenSession,
    })
    expect(paged).toMatchObject({ complete: true, eventsRead: 0, examined: open, unchanged: open })
  })

  it("an incremental run whose cursor is older than the Events API's 30 days says a sweep is needed", async () => {
    await reconcile(w.store, w.api(), { mode: "incremental" })
    w.sim.control.advanceClock(31 * 86_400)
    const late = await reconcile(w.store, w.api(), { mode: "incremental" })
    expect(late.warnings.join()).toMatch(/older than the Events API's 30 days[\s\S]*run a sweep/)
  })

  it("a run whose reads fail is incomplete, says why, and does not move its cursor", async () => {
    await reconcile(w.store, w.api(), { mode: "incremental" })
    await w.stripe.identity.verificationSessions.create({ type: "document" })
    w.sim.control.setApiFaults({ serverErrorRate: 1, serverErrorStatus: 503 })
    const failed = await reconcile(w.store, w.api(), { mode: "incremental" })
    expect(failed.complete).toBe(false)
    expect(failed.errors[0]!.message).toMatch(/HTTP 503/)
    w.sim.control.setApiFaults({ serverErrorRate: 0 })
    const again = await reconcile(w.store, w.api(), { mode: "incremental" })
    expect(again).toMatchObject({ complete: true, eventsRead: 1, started: 1 })
  })

  it("429s and 5xx answers are retried with backoff: the run completes", async () => {
    w.sim.control.setApiFaults({ forceRateLimitNext: 2, serverErrorRate: 0.2, serverErrorStatus: 502 })
    const run = await reconcile(w.store, w.api({ maxRetries: 6 }), { mode: "sweep" })
    expect(run).toMatchObject({ complete: true, started: 150 })
  })

  it.each([0, 10_001, 2.5])(
    "a local page size of %s is refused with InvalidConfig before anything runs",
    async (size) => {
      await expect(reconcile(w.store, w.api(), { mode: "sweep", localPageSize: size })).rejects.toMatchObject(
        {
          _tag: "InvalidConfig",
          setting: "localPageSize",
        },
      )
      expect(await w.store.readAll({ after: null, limit: 1 })).toMatchObject({ events: [] })
    },
  )

  it("one run per account: while another run holds the lease, a run is refused with RunInProgress", async () => {
    await w.store.runState.acquireLease("default", "recon_other", 60)
    await expect(reconcile(w.store, w.api(), { mode: "sweep" })).rejects.toMatchObject({
      _tag: "RunInProgress",
      message: expect.stringMatching(/recon_other/),
    })
    expect(await w.eventCount()).toBe(0)
    // Another account is not blocked.
    expect((await reconcile(w.store, w.api(), { mode: "sweep", account: "eu" })).complete).toBe(true)
  })

  it("two runs of one account started at once: one runs, the other is refused with RunInProgress", async () => {
    const settled = await Promise.allSettled([
      reconcile(w.store, w.api(), { mode: "sweep", runId: "recon_a" }),
      reconcile(w.store, w.api(), { mode: "sweep", runId: "recon_b" }),
    ])
    expect(settled.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"])
    const refused = settled.find((r) => r.status === "rejected") as PromiseRejectedResult
    expect(refused.reason).toMatchObject({ _tag: "RunInProgress" })
    const done = settled.find((r) => r.status === "fulfilled") as PromiseFulfilledResult<{ started: number }>
    expect(done.value.started).toBe(150)
  })

  it("a sweep that crashed resumes after its last finished page", async () => {
    const firstPage = await w.stripe.identity.verificationSessions.list({ limit: 100 })
    await w.store.runState.saveCursor("default", "sweep", {
      startingAfter: firstPage.data.at(-1)!.id,
      windowUpper: firstPage.data.at(-1)!.created,
      runId: "recon_crashed",
    })
    const resumed = await reconcile(w.store, w.api(), { mode: "sweep" })
    expect(resumed).toMatchObject({ complete: true, examined: 50, started: 50 })
    expect(resumed.warnings.join()).toMatch(/resumed the sweep of run recon_crashed/)
    // The next sweep starts from the top again.
    expect((await reconcile(w.store, w.api(), { mode: "sweep" })).examined).toBe(150)
  })
})
