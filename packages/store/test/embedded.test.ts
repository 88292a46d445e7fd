import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { EventStore, openStore } from "../src/index.ts"
import { actor, freshSchema, observation, snapshot } from "./fixtures.ts"

// The Effect API: the service from a layer, the embedded PGlite (the default with no DATABASE_URL).
layer(EventStore.layerPglite({ schema: freshSchema() }), { excludeTestServices: true })(
  "EventStore layer on PGlite",
  (it) => {
    it.effect("handles a command and reads the session back", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        assert.strictEqual(store.kind, "pglite")
        const result = yield* store.handle(
          "vs_e1",
          observation(snapshot("vs_e1", "processing"), 100, "api"),
          { actor },
        )
        assert.strictEqual(result._tag, "EventsAppended")
        const state = yield* store.state("vs_e1")
        assert.strictEqual(state.facts?.status, "processing")
        const counts = yield* store.audit.countsByStatus()
        assert.deepStrictEqual(counts, [{ status: "processing", sessions: 1 }])
      }),
    )

    it.effect("a refused command is a typed failure in the error channel", () =>
      Effect.gen(function* () {
        const store = yield* EventStore
        const error = yield* Effect.flip(
          store.handle("vs_e2", { _tag: "RequestRedact", sessionId: "vs_e2", requestedAt: 1 }, { actor }),
        )
        assert.strictEqual(error._tag, "SessionNotFound")
      }),
    )
  },
)

describe("PGlite in a data directory", () => {
  const dir = mkdtempSync(join(tmpdir(), "idtrail-store-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("keeps the log across restarts, and migrating again changes nothing", async () => {
    const first = await openStore({ dataDir: dir })
    expect(first.kind).toBe("pglite")
    expect(first.schema).toBe("idtrail")
    await first.handle("vs_d1", observation(snapshot("vs_d1", "requires_input"), 100, "api"), { actor })
    await first.close()

    const second = await openStore({ dataDir: dir })
    expect((await second.readStream("vs_d1")).map((e) => e.event._tag)).toEqual(["SessionStarted"])
    expect((await second.state("vs_d1")).facts?.status).toBe("requires_input")
    await second.close()
  })
})
