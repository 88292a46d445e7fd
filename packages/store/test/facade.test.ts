import { Data, Effect, Layer, Stream } from "effect"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { promised, withPromiseForm } from "../src/facade.ts"
import { EventStore, InvalidStreamId } from "../src/index.ts"
import { temporaryLayer } from "../src/testing.ts"
import { dbOf, openTestStore } from "./fixtures.ts"

class Nope extends Data.TaggedError("Nope")<{ readonly why: string }> {}

const toy = {
  name: "toy",
  limit: 3,
  double: (n: number) => Effect.succeed(n * 2),
  refuse: (why: string) => Effect.fail(new Nope({ why })),
  count: (to: number) => Stream.range(1, to),
  nested: { deeper: { hello: (who: string) => Effect.succeed(`hello ${who}`) }, label: "n" },
  fast: withPromiseForm(
    (_: number) => Effect.die("the facade must call the Promise form, not run this"),
    async (n: number) => n + 1,
  ),
}

describe("deriving a Promise API from an Effect service", () => {
  const facade = promised(toy, Effect.runPromise)

  it("an Effect operation becomes a Promise of its value, under the same name", async () => {
    expect(await facade.double(21)).toBe(42)
    expect(await facade.nested.deeper.hello("ann")).toBe("hello ann")
  })

  it("a failure rejects with the tagged error itself, not a wrapper", async () => {
    const error = await facade.refuse("because").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Nope)
    expect(error).toMatchObject({ _tag: "Nope", why: "because" })
  })

  it("a Stream operation becomes an AsyncIterable; plain values are kept", async () => {
    const seen: Array<number> = []
    for await (const n of facade.count(3)) seen.push(n)
    expect(seen).toEqual([1, 2, 3])
    expect([facade.name, facade.limit, facade.nested.label]).toEqual(["toy", 3, "n"])
  })

  it("an operation with a Promise form is called as that form (the hot path runs no fiber)", async () => {
    expect(await facade.fast(1)).toBe(2)
  })
})

describe("the store's Promise facade is its service, derived", () => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  beforeAll(async () => {
    store = await openTestStore(undefined)
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it("has every operation of the service under the same name, groups included, and no kysely handle", () => {
    const shape = (value: object): unknown =>
      Object.fromEntries(
        Object.entries(value).map(([k, v]) => [k, typeof v === "object" && v !== null ? shape(v) : typeof v]),
      )
    const { service, close: _close, dispose: _dispose, ...facade } = store
    expect(shape(facade)).toEqual(shape(service))
    expect(Object.keys(store.runState).sort()).toEqual(
      [
        "acquireLease",
        "claimAccount",
        "clearCursor",
        "finishAccount",
        "finishRound",
        "joinRound",
        "loadCursor",
        "quarantine",
        "quarantined",
        "recordRun",
        "release",
        "releaseLease",
        "renewLease",
        "roundStatus",
        "saveCursor",
        "takeTokens",
      ].sort(),
    )
    expect("db" in store.service).toBe(false)
    expect("ingestWebhook" in store).toBe(false)
  })

  it("the append is its Promise form, not the service's Effect run each time (the hot path)", () => {
    const promiseForm = (store.service.appendToStream as unknown as Record<symbol, unknown>)[
      Symbol.for("@idtrail/store/promiseForm")
    ]
    expect(typeof promiseForm).toBe("function")
    expect(store.appendToStream).toBe(promiseForm)
  })

  it("resolves to what the service's Effect gives, and rejects with the same tagged error class", async () => {
    expect(await store.audit.countsByStatus()).toEqual(
      await Effect.runPromise(store.service.audit.countsByStatus()),
    )
    const viaPromise = await store.readStream("not a stream id").catch((e: unknown) => e)
    expect(viaPromise).toBeInstanceOf(InvalidStreamId)
    const viaEffect = await Effect.runPromise(Effect.flip(store.service.readStream("not a stream id")))
    expect(viaEffect).toBeInstanceOf(InvalidStreamId)
  })
})

describe("@idtrail/store/testing", () => {
  it("temporaryLayer opens the store in a schema of its own and drops it when released", async () => {
    const schema = await Effect.runPromise(
      Effect.provide(
        Effect.gen(function* () {
          const store = yield* EventStore
          return store.schema
        }),
        Layer.fresh(temporaryLayer({ databaseUrl: process.env.DATABASE_URL })),
      ),
    )
    expect(schema).toMatch(/^idtrail_t_/)
    if (process.env.DATABASE_URL === undefined) return // an embedded PGlite is gone with its layer
    const other = await openTestStore(process.env.DATABASE_URL)
    try {
      const found = await sql<{ n: string }>`
        select count(*) as n from information_schema.schemata where schema_name = ${schema}`.execute(
        dbOf(other),
      )
      expect(found.rows[0]?.n).toBe("0")
    } finally {
      await other.dispose()
    }
  })
})
