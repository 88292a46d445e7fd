import * as net from "node:net"
import { Effect } from "effect"
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { EventStore, openStore } from "../src/index.ts"
import { actor, backends, dbOf, metadata, observation, openTestStore, snapshot } from "./fixtures.ts"

const updated = (sessionId: string, to: unknown): unknown => ({
  _tag: "SessionUpdated",
  sessionId,
  at: 100,
  changes: [{ field: "options", from: null, to }],
})

describe.each(backends)("bad input on $name: a typed error, and nothing written", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  let before: string
  const snapshotOfLog = async () =>
    JSON.stringify(
      (
        await sql`select (select count(*) from ${sql.raw(`"${store.schema}".events`)}) as events,
                         (select coalesce(sum(version), 0) from ${sql.raw(`"${store.schema}".verification_sessions`)}) as versions,
                         (select count(*) from ${sql.raw(`"${store.schema}".verification_sessions`)}) as sessions`.execute(
          dbOf(store),
        )
      ).rows,
    )
  const failsWith = async (promise: Promise<unknown>, tag: string, message: RegExp) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ _tag: tag })
    expect((error as Error).message).toMatch(message)
    expect(await snapshotOfLog()).toBe(before)
  }

  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
    await store.handle("vs_ok", observation(snapshot("vs_ok", "verified"), 100, "api"), { actor })
    before = await snapshotOfLog()
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it.each([
    ["an empty string", ""],
    ["whitespace", "vs 1"],
    ["a control character", "vs_\n1"],
    ["non-ASCII", "vs_é"],
    ["256 characters", "v".repeat(256)],
    ["not a string", 42],
  ])("an invalid stream id (%s) is InvalidStreamId", async (_, streamId) => {
    await failsWith(
      store.appendToStream(streamId as string, [{ _tag: "SessionSubmitted", sessionId: "x", at: 1 }], {
        expectedVersion: 0,
        metadata: metadata(),
      }),
      "InvalidStreamId",
      /stream id/,
    )
    await failsWith(
      store.handle(streamId as string, observation(snapshot("vs_x", "requires_input"), 1), { actor }),
      "InvalidStreamId",
      /stream id/,
    )
  })

  it("an event that is not a SessionEvent is InvalidEvent naming its index", async () => {
    await failsWith(
      store.appendToStream(
        "vs_bad",
        [{ _tag: "SessionSubmitted", sessionId: "vs_bad", at: 1 }, { _tag: "Nope", at: 2 } as never],
        { expectedVersion: 0, metadata: metadata() },
      ),
      "InvalidEvent",
      /event 1 is not a SessionEvent/,
    )
  })

  it.each([
    ["a BigInt", { document: { n: 10n } }],
    ["a function", { document: { f: () => 1 } }],
    ["NaN", { document: { n: Number.NaN } }],
    ["a Date", { document: { d: new Date(0) } }],
  ])("non-JSON data (%s) is InvalidEvent", async (_, to) => {
    await failsWith(
      store.appendToStream("vs_bad", [updated("vs_bad", to) as never], {
        expectedVersion: 0,
        metadata: metadata(),
      }),
      "InvalidEvent",
      /not JSON/,
    )
  })

  it.each([
    ["client_secret", { client_secret: "x" }],
    ["url", { nested: { url: "https://verify.stripe.com/x" } }],
    ["verified_outputs", { verified_outputs: { first_name: "Jenny" } }],
    ["provided_details", { provided_details: { email: "a@b.c" } }],
    ["a client secret as a value", { document: { note: "vs_123_secret_abc" } }],
    // Any case style, and every secret shape (issue 10 item 5).
    ["ClientSecret", { ClientSecret: "x" }],
    ["CLIENT_SECRET", { CLIENT_SECRET: "x" }],
    ["client-secret", { "client-secret": "x" }],
    ["URL", { nested: { URL: "https://verify.stripe.com/x" } }],
    ["Url", { Url: "https://verify.stripe.com/x" }],
    ["VerifiedOutputs", { VerifiedOutputs: { first_name: "Jenny" } }],
    ["verified-outputs", { "verified-outputs": { first_name: "Jenny" } }],
    ["ProvidedDetails", { ProvidedDetails: { email: "a@b.c" } }],
    ["PROVIDED_DETAILS", { list: [{ PROVIDED_DETAILS: { email: "a@b.c" } }] }],
    ["a test-mode client secret as a value", { document: { note: "vs_1Nx2_secret_test_YWNjdF8x" } }],
    ["a live-mode client secret as a value", { document: { note: "vs_1Nx2_secret_live_YWNjdF8x" } }],
    ["a secret API key as a value", { document: { note: "sk_live_51Hx2abc" } }],
    ["a webhook secret as a value", { document: { note: "whsec_abc123def" } }],
  ])("a payload carrying %s is ForbiddenField", async (_, to) => {
    await failsWith(
      store.appendToStream("vs_bad", [updated("vs_bad", to) as never], {
        expectedVersion: 0,
        metadata: metadata(),
      }),
      "ForbiddenField",
      /secret or personal data/,
    )
  })

  it("a NUL character, which Postgres' jsonb cannot store, is refused before sending: in an event, in metadata, in a Stripe event id", async () => {
    await failsWith(
      store.appendToStream("vs_bad", [updated("vs_bad", { document: { note: "a\u0000b" } }) as never], {
        expectedVersion: 0,
        metadata: metadata(),
      }),
      "InvalidEvent",
      /NUL character \(U\+0000\) at \$\.changes\[0\]\.to\.document\.note/,
    )
    await failsWith(
      store.appendToStream("vs_bad", [{ _tag: "SessionSubmitted", sessionId: "vs_bad", at: 1 }], {
        expectedVersion: 0,
        metadata: metadata({ actor: { kind: "user", id: "ann\u0000" } }),
      }),
      "InvalidArgument",
      /metadata holds the NUL character/,
    )
    await failsWith(
      store.appendToStream("vs_bad", [{ _tag: "SessionSubmitted", sessionId: "vs_bad", at: 1 }], {
        expectedVersion: 0,
        stripeEventId: "evt_\u0000",
        metadata: metadata(),
      }),
      "InvalidArgument",
      /stripeEventId must be 1 to 255 printable ASCII/,
    )
  })

  it.each([
    ["a lone high surrogate", "a\ud800b", "InvalidEvent"],
    ["a lone low surrogate", "a\udc00b", "InvalidEvent"],
    ["a high surrogate at the end", "ab\udbff", "InvalidEvent"],
  ])(
    "%s, which Postgres' jsonb cannot store, is refused before sending, naming its path",
    async (_, note, tag) => {
      await failsWith(
        store.appendToStream("vs_bad", [updated("vs_bad", { document: { note } }) as never], {
          expectedVersion: 0,
          metadata: metadata(),
        }),
        tag,
        /lone UTF-16 surrogate at \$\.changes\[0\]\.to\.document\.note/,
      )
    },
  )

  it("a lone surrogate in a key, or in metadata, is refused too; a well-formed pair (an emoji) is stored", async () => {
    await failsWith(
      store.appendToStream("vs_bad", [updated("vs_bad", { document: { "k\ud800": 1 } }) as never], {
        expectedVersion: 0,
        metadata: metadata(),
      }),
      "InvalidEvent",
      /lone UTF-16 surrogate at \$\.changes\[0\]\.to\.document\./,
    )
    await failsWith(
      store.appendToStream("vs_bad", [{ _tag: "SessionSubmitted", sessionId: "vs_bad", at: 1 }], {
        expectedVersion: 0,
        metadata: metadata({ correlationId: "req_\udfff" }),
      }),
      "InvalidArgument",
      /metadata holds a lone UTF-16 surrogate at \$\.correlationId/,
    )
    const result = await store.appendToStream(
      "vs_emoji",
      [updated("vs_emoji", { document: { note: "ok 👍" } }) as never],
      {
        expectedVersion: 0,
        metadata: metadata({ correlationId: "req_👍" }),
      },
    )
    expect(result._tag).toBe("Appended")
    expect((await store.readStream("vs_emoji"))[0]?.metadata.correlationId).toBe("req_👍")
    before = await snapshotOfLog()
  })

  it("a lone surrogate in a webhook's session metadata is refused by handle with a typed error, not a StoreFailure", async () => {
    await failsWith(
      store.handle(
        "vs_sur",
        observation(snapshot("vs_sur", "requires_input", { metadata: { note: "\ud83d" } }), 1),
        {
          actor,
        },
      ),
      "InvalidEvent",
      /lone UTF-16 surrogate/,
    )
  })

  it("event metadata carrying a client secret is ForbiddenField", async () => {
    await failsWith(
      store.appendToStream("vs_bad", [{ _tag: "SessionSubmitted", sessionId: "vs_bad", at: 1 }], {
        expectedVersion: 0,
        metadata: metadata({ correlationId: "vs_123_secret_abc" }),
      }),
      "ForbiddenField",
      /metadata carries a secret/,
    )
  })

  it("merchant metadata may use any key, even url", async () => {
    const result = await store.appendToStream(
      "vs_meta",
      [
        {
          _tag: "SessionUpdated",
          sessionId: "vs_meta",
          at: 1,
          changes: [{ field: "metadata", from: {}, to: { url: "x" } }],
        },
      ],
      { expectedVersion: 0, metadata: metadata() },
    )
    expect(result._tag).toBe("Appended")
    before = await snapshotOfLog()
  })

  it("an event larger than 256 KiB is PayloadTooLarge", async () => {
    await failsWith(
      store.appendToStream(
        "vs_bad",
        [updated("vs_bad", { document: { big: "x".repeat(300 * 1024) } }) as never],
        {
          expectedVersion: 0,
          metadata: metadata(),
        },
      ),
      "PayloadTooLarge",
      /limit is 262144/,
    )
  })

  it("bad arguments are InvalidArgument: expected version, empty batch, metadata", async () => {
    const event = { _tag: "SessionSubmitted", sessionId: "vs_bad", at: 1 } as const
    await failsWith(
      store.appendToStream("vs_bad", [event], { expectedVersion: -1, metadata: metadata() }),
      "InvalidArgument",
      /expectedVersion/,
    )
    await failsWith(
      store.appendToStream("vs_bad", [], { expectedVersion: 0, metadata: metadata() }),
      "InvalidArgument",
      /at least one event/,
    )
    await failsWith(
      store.appendToStream("vs_bad", [event], { expectedVersion: 0, metadata: { source: "email" } as never }),
      "InvalidArgument",
      /metadata/,
    )
    await failsWith(store.readAll({ after: null, limit: 0 }), "InvalidArgument", /limit/)
  })

  it("a command the decider rejects fails with the domain's error", async () => {
    await failsWith(
      store.handle(
        "vs_unknown",
        { _tag: "RequestCancel", sessionId: "vs_unknown", requestedAt: 5 },
        { actor },
      ),
      "SessionNotFound",
      /no session with this id/,
    )
    await failsWith(
      store.handle("vs_ok", { _tag: "RequestCancel", sessionId: "vs_ok", requestedAt: 500 }, { actor }),
      "TransitionNotAllowed",
      /its status is verified/,
    )
    await failsWith(
      store.handle("vs_ok", observation(snapshot("vs_other", "verified"), 500, "api"), { actor }),
      "SessionMismatch",
      /sent to the stream of vs_ok/,
    )
  })

  it.each([
    ["maxInFlight", { maxInFlight: 0 }, /groupCommit.maxInFlight must be a positive integer, got 0/],
    ["maxBatch", { maxBatch: Number.NaN }, /groupCommit.maxBatch must be a positive integer, got NaN/],
  ])(
    "a group commit setting that cannot work (%s) is refused before connecting",
    async (_, groupCommit, message) => {
      const error = await openStore({ databaseUrl, groupCommit }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toMatchObject({ _tag: "InvalidArgument", argument: "groupCommit" })
      expect((error as Error).message).toMatch(message)
    },
  )

  it("a schema name that is not a plain identifier is refused before connecting", async () => {
    await expect(openStore({ databaseUrl, schema: 'x"; drop table y; --' })).rejects.toMatchObject({
      _tag: "InvalidArgument",
      argument: "schema",
    })
  })

  it("opening a schema that was never migrated with migrate: false is refused with what to run", async () => {
    const error = await openStore({ databaseUrl, schema: "never_migrated", migrate: false }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ _tag: "InvalidArgument", argument: "migrate" })
    expect((error as Error).message).toMatch(/schema never_migrated has no event log yet.*idtrail migrate/)
  })
})

describe("a database that is down", () => {
  it("opening a store on a port nobody listens on is StoreUnavailable", async () => {
    const error = await openStore({
      databaseUrl: "postgres://postgres@127.0.0.1:1/nothing",
      connectTimeoutMs: 2000,
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toMatchObject({ _tag: "StoreUnavailable" })
    expect((error as Error).message).toMatch(/database is unavailable/)
  })

  it("a store whose database goes away answers StoreUnavailable (through Effect too), and writes nothing", async () => {
    // The database behind a TCP proxy we can cut, like a network failure or a crashed server.
    const backing = await openStore({ schema: "down_test" })
    const [host, port] = new URL(backing.url).host.split(":")
    const sockets = new Set<net.Socket>()
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(port), host)
      sockets.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      client.on("error", () => upstream.destroy())
      upstream.on("error", () => client.destroy())
    })
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve))
    const proxyUrl = `postgres://postgres@127.0.0.1:${(proxy.address() as net.AddressInfo).port}/postgres`
    const store = await openStore({
      databaseUrl: proxyUrl,
      schema: "down_test",
      poolSize: 1,
      connectTimeoutMs: 1000,
    })
    const event = { _tag: "SessionSubmitted", sessionId: "vs_1", at: 1 } as const
    expect(
      (await store.appendToStream("vs_1", [event], { expectedVersion: 0, metadata: metadata() }))._tag,
    ).toBe("Appended")

    proxy.close()
    for (const socket of sockets) socket.destroy()
    const exit = await Effect.runPromiseExit(
      Effect.flip(
        store.service.appendToStream("vs_1", [event], { expectedVersion: 1, metadata: metadata() }),
      ),
    )
    expect(exit._tag === "Success" && exit.value._tag).toBe("StoreUnavailable")
    expect(exit._tag === "Success" && exit.value.message).toMatch(/database is unavailable/)
    await expect(store.readStream("vs_1")).rejects.toMatchObject({ _tag: "StoreUnavailable" })
    await expect(
      store.appendToStream("vs_1", [event], { expectedVersion: 1, metadata: metadata() }),
    ).rejects.toMatchObject({ _tag: "StoreUnavailable" })
    expect((await backing.readStream("vs_1")).length).toBe(1)
    await store.close()
    await backing.close()
  })

  it("the layer fails with StoreUnavailable rather than starting", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.provide(
          EventStore.use((s) => Effect.succeed(s.kind)),
          EventStore.layerPostgres("postgres://postgres@127.0.0.1:1/nothing", { connectTimeoutMs: 2000 }),
        ),
      ),
    )
    expect(exit._tag).toBe("Failure")
    expect(JSON.stringify(exit)).toContain("StoreUnavailable")
  })
})
