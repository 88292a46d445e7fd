/**
 * The schema checker the other tests rely on: it must accept Stripe's own fixture and reject
 * bodies Stripe would never send, or "every response conforms" would prove nothing.
 */
import { readFileSync } from "node:fs"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { schemaProblems, stripeDir } from "./support/schemas.ts"

const fixture = JSON.parse(readFileSync(path.join(stripeDir, "verification_session.fixture.json"), "utf8"))

describe("the schema checker", () => {
  it("accepts Stripe's own verification_session fixture", () => {
    expect(schemaProblems("session", fixture)).toEqual([])
  })

  it("rejects a field Stripe's schema does not have", () => {
    expect(schemaProblems("session", { ...fixture, secret_sauce: 1 })).not.toEqual([])
  })

  it("rejects a missing required field and a wrong enum value", () => {
    const { url: _url, ...noUrl } = fixture
    expect(schemaProblems("session", noUrl)).not.toEqual([])
    expect(schemaProblems("session", { ...fixture, status: "done" })).not.toEqual([])
  })

  it("accepts null where the spec says nullable, and rejects null where it does not", () => {
    expect(schemaProblems("session", { ...fixture, redaction: null, last_error: null })).toEqual([])
    expect(schemaProblems("session", { ...fixture, metadata: null })).not.toEqual([])
  })

  it("checks an event's envelope and, separately, its data.object", () => {
    const event = {
      id: "evt_1",
      object: "event",
      api_version: "2026-07-29.dahlia",
      created: 1,
      data: { object: fixture },
      livemode: false,
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      type: "identity.verification_session.verified",
    }
    expect(schemaProblems("event", event)).toEqual([])
    expect(schemaProblems("event", { ...event, data: { object: { ...fixture, status: 3 } } })).not.toEqual([])
    expect(schemaProblems("event", { ...event, pending_webhooks: "0" })).not.toEqual([])
  })

  it("checks error bodies, including the code enum", () => {
    expect(
      schemaProblems("error", { error: { type: "invalid_request_error", code: "resource_missing" } }),
    ).toEqual([])
    expect(
      schemaProblems("error", { error: { type: "invalid_request_error", code: "no_such_code" } }),
    ).not.toEqual([])
    expect(schemaProblems("error", { error: { type: "oops" } })).not.toEqual([])
  })
})
