/**
 * Whatever makes one session fail, the job goes on: the session is quarantined with its error,
 * the events cursor moves past it, later runs retry it, and the first that records it releases
 * it. Failures are injected by decorating the services the run is given (the store refusing one
 * session, Stripe answering 500 for one session), which is what the Effect-native API is for.
 */
import { EventStore, type EventStoreService, StoreFailure } from "@idtrail/store"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  type ReconcileOptions,
  reconcileEffect,
  renderReport,
  StripeApi,
  type StripeApiService,
  StripeReadFailed,
} from "../src/index.ts"
import { backends, openWorld, type World } from "./fixtures.ts"

/** A store that refuses to record `id`, as a store refusal would. */
const refusing = (store: EventStoreService, id: string): EventStoreService => ({
  ...store,
  handle: (streamId, command, context, options) =>
    streamId === id
      ? Effect.fail(
          new StoreFailure({ operation: "append", message: `refused ${id} (injected)`, cause: null }),
        )
      : store.handle(streamId, command, context, options),
})

/** Stripe answering 500 for `id` (after the retries). */
const failingFor = (stripe: StripeApiService, id: string): StripeApiService => ({
  ...stripe,
  retrieve: (sessionId) =>
    sessionId === id
      ? Effect.fail(
          new StripeReadFailed({
            operation: `retrieve ${id}`,
            status: 500,
            retryable: true,
            message: `retrieve ${id} failed (HTTP 500): api_error (injected)`,
          }),
        )
      : stripe.retrieve(sessionId),
})

const injections = [
  { name: "the store refuses it", tag: "StoreFailure", store: refusing, stripe: undefined },
  { name: "Stripe answers 500 for it", tag: "StripeReadFailed", store: undefined, stripe: failingFor },
] as const

describe.each(backends)("quarantine on $name", ({ databaseUrl }) => {
  let w: World
  let bad: string
  beforeEach(async () => {
    // Sessions made now, so the Events API still names every one of them.
    w = await openWorld(databaseUrl, 0)
    for (let i = 0; i < 20; i++) await w.stripe.identity.verificationSessions.create({ type: "document" })
    bad = (await w.stripe.identity.verificationSessions.list({ limit: 1 })).data[0]!.id
  })
  afterEach(async () => {
    await w?.dispose()
  })

  const run = (options: ReconcileOptions, injection?: (typeof injections)[number]) =>
    Effect.runPromise(
      reconcileEffect(options).pipe(
        Effect.provideService(
          EventStore,
          injection?.store ? injection.store(w.store.service, bad) : w.store.service,
        ),
        Effect.provideService(StripeApi, injection?.stripe ? injection.stripe(w.api(), bad) : w.api()),
      ),
    )

  it.each(injections)(
    "a session that fails because $name is quarantined, the events cursor moves past it, and a later run records and releases it",
    async (injection) => {
      const first = await run({ mode: "incremental" }, injection)
      expect(first).toMatchObject({ complete: false, stoppedBy: null, started: 19, released: 0 })
      expect(first.errors).toEqual([
        { sessionId: bad, tag: injection.tag, message: expect.stringContaining("injected") },
      ])
      expect(first.quarantined).toEqual([
        expect.objectContaining({ sessionId: bad, errorTag: injection.tag, attempts: 1 }),
      ])
      expect(renderReport(first)).toMatch(
        new RegExp(`1 session in quarantine[\\s\\S]*${bad}: ${injection.tag}, 1 attempt`),
      )
      expect(await w.store.runState.loadCursor("default", "events")).not.toBeNull()
      expect((await w.store.runState.quarantined("default")).map((q) => q.sessionId)).toEqual([bad])

      // The cursor moved: no event is read again, but the quarantined session is retried.
      const second = await run({ mode: "incremental" }, injection)
      expect(second).toMatchObject({ complete: false, eventsRead: 0, quarantinedCount: 1 })
      expect(second.quarantined[0]).toMatchObject({ sessionId: bad, attempts: 2 })

      const third = await run({ mode: "incremental" })
      expect(third).toMatchObject({
        complete: true,
        eventsRead: 0,
        started: 1,
        released: 1,
        quarantinedCount: 0,
      })
      expect((await w.store.state(bad)).version).toBeGreaterThan(0)
      expect(await w.store.runState.quarantined("default")).toEqual([])
    },
  )

  it("a sweep quarantines the session the store refuses, goes through every page, and the next sweep releases it", async () => {
    const sweep = await run({ mode: "sweep" }, injections[0])
    expect(sweep).toMatchObject({ complete: false, examined: 20, started: 19, quarantinedCount: 1 })
    expect(await w.store.runState.loadCursor("default", "sweep")).toBeNull()
    const next = await run({ mode: "sweep" })
    expect(next).toMatchObject({ complete: true, started: 1, released: 1, quarantinedCount: 0 })
  })

  it("a dry run quarantines nothing", async () => {
    const dry = await run({ mode: "sweep", dryRun: true }, injections[0])
    expect(dry).toMatchObject({ complete: false, quarantinedCount: 0 })
    expect(dry.errors.map((e) => e.sessionId)).toEqual([bad])
    expect(await w.store.runState.quarantined("default")).toEqual([])
  })

  it("a session with secret-shaped merchant values is recorded with them masked, and the run is complete", async () => {
    const raw = { pi: "pi_123_secret_abc" }
    const created = await w.stripe.identity.verificationSessions.create({
      type: "document",
      metadata: raw,
      client_reference_id: "order_42_secret_x",
    })
    const report = await run({ mode: "incremental" })
    expect(report).toMatchObject({ complete: true, errors: [], quarantinedCount: 0 })
    const state = await w.store.state(created.id)
    expect(state.version).toBeGreaterThan(0)
    expect(Object.keys(state.facts?.metadata ?? {})).toEqual(["pi"])
    const log = JSON.stringify(await w.store.readStream(created.id), (_, v) =>
      typeof v === "bigint" ? `${v}` : v,
    )
    expect(log).not.toContain("pi_123_secret_abc")
    expect(log).not.toContain("order_42_secret_x")
  })
})
