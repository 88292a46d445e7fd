/** The idempotency-key store on its own: replay, mismatch, in-progress, release and expiry. */
import { describe, expect, it } from "vitest"
import { IdempotencyStore } from "../src/idempotency.ts"

describe("IdempotencyStore", () => {
  it("reserves a new key, replays the saved response, and refuses other parameters", () => {
    const store = new IdempotencyStore()
    expect(store.begin("sk", "k", "A", 0)).toEqual({ kind: "new" })
    expect(store.begin("sk", "k", "A", 1)).toEqual({ kind: "in_progress" })
    store.save("sk", "k", { status: 200, body: "{}" })
    expect(store.begin("sk", "k", "A", 2)).toEqual({ kind: "replay", response: { status: 200, body: "{}" } })
    expect(store.begin("sk", "k", "B", 3)).toEqual({ kind: "mismatch" })
    expect(store.begin("other", "k", "B", 3)).toEqual({ kind: "new" })
  })

  it("forgets a released reservation but never a saved response", () => {
    const store = new IdempotencyStore()
    store.begin("sk", "k", "A", 0)
    store.release("sk", "k")
    expect(store.begin("sk", "k", "B", 1)).toEqual({ kind: "new" })
    store.save("sk", "k", { status: 400, body: "{}" })
    store.release("sk", "k")
    expect(store.begin("sk", "k", "B", 2).kind).toBe("replay")
  })

  it("drops keys 24 hours old as new requests arrive, so memory stays bounded", () => {
    const store = new IdempotencyStore()
    for (let i = 0; i < 100; i++) store.begin("sk", `k${i}`, "A", i)
    expect(store.size).toBe(100)
    store.begin("sk", "late", "A", 24 * 3600 + 50)
    expect(store.size).toBe(50)
    expect(store.begin("sk", "k10", "B", 24 * 3600 + 51)).toEqual({ kind: "new" })
  })
})
