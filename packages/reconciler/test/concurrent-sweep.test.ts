/**
 * A sweep observes a page's sessions several at a time (`concurrency`), so their appends share the
 * store's commits. What the user sees must not change: the same report, in the same order, and the
 * same events as a sweep one session at a time; and the saved place never passes a session that
 * is not done. The store is decorated so that some sessions take longer than others: appends then
 * finish out of the page's order.
 */
import {
  EventStore,
  type EventStoreService,
  type PromiseStore,
  StoreFailure,
  StoreUnavailable,
} from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Cause, Effect, Exit } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import {
  type ReconcileOptions,
  type Report,
  reconcileEffect,
  StripeApi,
  type StripeApiService,
} from "../src/index.ts"
import { backends, everyEvent, openWorld, type World } from "./fixtures.ts"

const sessions = 150 // two pages of Stripe's list

/** The store, with every third session slowed down and the most sessions at the store at once counted. */
const uneven = (store: EventStoreService, refused: string) => {
  let atOnce = 0
  const seen = { most: 0, calls: 0 }
  const service: EventStoreService = {
    ...store,
    handle: (streamId, command, context, options) =>
      Effect.suspend(() => {
        const slow = seen.calls++ % 3 === 0
        atOnce++
        seen.most = Math.max(seen.most, atOnce)
        const work =
          streamId === refused
            ? Effect.fail(
                new StoreFailure({ operation: "append", message: "refused (injected)", cause: null }),
              )
            : store.handle(streamId, command, context, options)
        return (slow ? Effect.delay(work, "15 millis") : work).pipe(
          Effect.ensuring(Effect.sync(() => atOnce--)),
        )
      }),
  }
  return { service, seen }
}

const run = (store: EventStoreService, stripe: StripeApiService, options: ReconcileOptions) =>
  Effect.runPromiseExit(
    reconcileEffect(options).pipe(
      Effect.provideService(EventStore, store),
      Effect.provideService(StripeApi, stripe),
    ),
  )

/** Everything of a report but its clock times. */
const comparable = (r: Report) => ({
  ...r,
  startedAt: null,
  finishedAt: null,
  quarantined: r.quarantined.map((q) => ({ ...q, firstAt: null, lastAt: null })),
})

/** Every stream's events with their metadata, by stream and version (their global positions differ). */
const events = async (store: PromiseStore) => {
  const all = (await everyEvent(store)).map((e) => ({
    streamId: e.streamId,
    version: e.streamVersion,
    event: e.event as unknown,
    metadata: e.metadata as unknown,
  }))
  return all.sort((a, b) =>
    a.streamId === b.streamId ? a.version - b.version : a.streamId < b.streamId ? -1 : 1,
  )
}

describe.each(backends)("a concurrent sweep on $name", ({ databaseUrl }) => {
  let w: World
  let other: (PromiseStore & { readonly dispose: () => Promise<void> }) | undefined
  let listed: ReadonlyArray<{ id: string }>
  beforeEach(async () => {
    // A frozen clock: Stripe answers both sweeps the same, to the second.
    w = await openWorld(databaseUrl, sessions, { frozenClock: true, startTime: 1_800_000_000 })
    listed = (await w.stripe.identity.verificationSessions.list({ limit: 100 })).data
  })
  afterEach(async () => {
    await other?.dispose()
    other = undefined
    await w?.dispose()
  })

  it("gives the same report, in the same order, and the same events as a serial sweep", async () => {
    other = await openTemporaryStore({ databaseUrl })
    // Both stores start alike: five sessions with drifted metadata, and one Stripe does not list.
    const concurrentStore = other
    for (const store of [w.store, concurrentStore]) {
      for (const s of listed.slice(10, 15))
        await store.handle(
          s.id,
          {
            _tag: "Observe",
            session: { ...s, metadata: { drifted: "yes" } } as never,
            source: "api",
            observedAt: 1_700_000_000,
          },
          { actor: { kind: "service", id: "tests" } },
        )
      await store.handle(
        "vs_stray",
        {
          _tag: "Observe",
          session: { ...listed[0]!, id: "vs_stray" } as never,
          source: "api",
          observedAt: 1,
        },
        { actor: { kind: "service", id: "tests" } },
      )
    }
    const refused = listed[40]!.id
    const serial = uneven(w.store.service, refused)
    const concurrent = uneven(concurrentStore.service, refused)
    const options = { mode: "sweep", runId: "recon_same" } as const
    const one = await run(serial.service, w.api(), { ...options, concurrency: 1 })
    const eight = await run(concurrent.service, w.api(), { ...options, concurrency: 8 })
    if (!Exit.isSuccess(one) || !Exit.isSuccess(eight)) throw new Error("a sweep failed")

    expect(serial.seen.most).toBe(1)
    expect(concurrent.seen.most).toBeGreaterThan(1)
    expect(one.value).toMatchObject({
      examined: sessions,
      started: sessions - 6,
      repaired: 5,
      missingRemotely: ["vs_stray"],
      errors: [{ sessionId: refused, tag: "StoreFailure" }],
    })
    expect(comparable(eight.value)).toEqual(comparable(one.value))
    expect(await events(concurrentStore)).toEqual(await events(w.store))
  }, 150_000) // two stores, two sweeps: a second PGlite takes a while to start on a busy machine

  it("a session whose failure ends its page keeps the saved place before that page; the next sweep resumes there", async () => {
    const page2 = (
      await w.stripe.identity.verificationSessions.list({ limit: 100, starting_after: listed.at(-1)!.id })
    ).data
    const broken = page2[20]!.id
    const gone = new StoreUnavailable({ message: "the database went away (injected)", cause: null })
    // The store fails one session of the second page, and cannot quarantine it either.
    const store: EventStoreService = {
      ...w.store.service,
      handle: (streamId, command, context, options) =>
        streamId === broken ? Effect.fail(gone) : w.store.service.handle(streamId, command, context, options),
      runState: { ...w.store.service.runState, quarantine: () => Effect.fail(gone) },
    }
    const crashed = await run(store, w.api(), { mode: "sweep", concurrency: 8 })
    expect(Exit.isFailure(crashed)).toBe(true)
    expect(await w.store.runState.loadCursor("default", "sweep")).toMatchObject({
      startingAfter: listed.at(-1)!.id,
    })

    const resumed = await run(w.store.service, w.api(), { mode: "sweep", concurrency: 8 })
    if (!Exit.isSuccess(resumed)) throw new Error("the resumed sweep failed")
    expect(resumed.value).toMatchObject({ complete: true, examined: sessions - 100, errors: [] })
    expect(resumed.value.warnings.join()).toMatch(/resumed the sweep/)
    expect((await w.store.state(broken)).version).toBeGreaterThan(0)
    expect(await w.store.runState.loadCursor("default", "sweep")).toBeNull()
  })
})

/** A service that must not be used: any use is a defect the test sees. */
const untouched = <A extends object>(fields: Partial<A>): A =>
  new Proxy(fields as A, {
    get: (target, key) => {
      if (key in target) return target[key as keyof A]
      throw new Error(`${String(key)} was used`)
    },
  })

it("a concurrency that is not an integer from 1 to 100 is refused before the store or Stripe is used", async () => {
  for (const concurrency of [0, 101, 1.5]) {
    const exit = await run(
      untouched<EventStoreService>({ kind: "postgres" }),
      untouched<StripeApiService>({}),
      { mode: "sweep", concurrency },
    )
    expect(Exit.isFailure(exit) && Cause.squash(exit.cause)).toMatchObject({
      _tag: "InvalidConfig",
      setting: "concurrency",
      message: expect.stringMatching(/concurrency must be an integer from 1 to 100/),
    })
  }
})
