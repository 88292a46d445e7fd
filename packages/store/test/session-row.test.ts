import { decide, fold, initialState, type SessionState } from "@idtrail/domain"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { sessionRowOf, stateJson } from "../src/session-row.ts"
import { observation, snapshot } from "./fixtures.ts"

/** A session's state after Stripe's observations, folded by the domain. */
const stateAfter = (...steps: ReadonlyArray<Parameters<typeof observation>>): SessionState =>
  steps.reduce((state, step) => {
    const events = decide(observation(...step), state)
    if (Result.isFailure(events)) throw new Error(String(events.failure))
    return fold(events.success, state)
  }, initialState)

describe("the session row an append writes", () => {
  const state = stateAfter(
    [snapshot("vs_r1", "processing", { metadata: { order: "7" } }), 100, "api"],
    [
      snapshot("vs_r1", "requires_input", {
        metadata: { order: "7" },
        last_error: { code: "selfie_face_mismatch", reason: "The faces do not match." },
      }),
      110,
      "webhook",
      "evt_r1",
    ],
  )

  it("holds the very state, with the fields an append changes first and the stable ones last", () => {
    const json = stateJson(state)
    expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(state)))
    const parsed = JSON.parse(json) as Record<string, Record<string, unknown>>
    expect(Object.keys(parsed).slice(0, 4)).toEqual(["version", "lastChangeAt", "needsRefresh", "facts"])
    expect(Object.keys(parsed.facts!).slice(0, 4)).toEqual([
      "status",
      "redactionStatus",
      "lastError",
      "metadata",
    ])
    expect(Object.keys(parsed).sort()).toEqual(Object.keys(state).sort())
    expect(Object.keys(parsed.facts!).sort()).toEqual(Object.keys(state.facts!).sort())
  })

  it("projects the columns from the state", () => {
    expect(sessionRowOf(state)).toMatchObject({
      status: "requires_input",
      redactionStatus: null,
      lastErrorCode: "selfie_face_mismatch",
      type: "document",
      livemode: false,
      created: 1_760_000_000,
      metadata: JSON.stringify({ order: "7" }),
      needsRefresh: false,
      lastChangeAt: 110,
    })
    expect(sessionRowOf(initialState)).toMatchObject({ status: null, metadata: "{}", lastChangeAt: null })
  })
})
