/**
 * The domain's VerificationSession schema against Stripe's own: every object and every webhook
 * event that Stripe's JSON schema (API 2026-07-29.dahlia, `vendor/stripe/`) allows must decode,
 * and encoding the decoded value must give back every field Stripe documents. Stripe's enums
 * are open and Stripe adds fields without notice, so generated objects carry undocumented enum
 * values and undocumented fields at every depth.
 */
import { fc, test } from "@fast-check/vitest"
import { Result, Schema } from "effect"
import { describe, expect } from "vitest"
import {
  decodeSession,
  decodeStripeEvent,
  type ForeignEvent,
  knownSessionStatuses,
  type StripeEvent,
  sessionEventPrefix,
  VerificationSession,
} from "../src/index.ts"
import { opaqueInTheDomain } from "./support/domain-departures.ts"
import { jsonSchemaArbitraries, type Sample } from "./support/json-schema-arbitrary.ts"
import { expectSameJson } from "./support/same-json.ts"
import { eventSchemas, sessionFixture, sessionSchemas } from "./support/stripe-schema-files.ts"

const sessionDoc = sessionSchemas()
const asStripeSendsIt = { unknownEnumValues: true, extraFields: true, opaqueRefs: opaqueInTheDomain }
const stripe = jsonSchemaArbitraries(sessionDoc, asStripeSendsIt)
const stripeEvents = jsonSchemaArbitraries(eventSchemas(), asStripeSendsIt)

const sessions = stripe.sample("identity.verification_session")
const encodeSession = Schema.encodeSync(VerificationSession)

/** The success of a decode, or a test failure that says where and why it failed. */
const decoded = <A>(result: Result.Result<A, { readonly path: string; readonly message: string }>): A => {
  if (Result.isFailure(result)) {
    throw new Error(
      `expected the payload to decode, got InvalidPayload at ${result.failure.path}: ${result.failure.message}`,
    )
  }
  return result.success
}

/** A decode result as plain JSON, to compare two of them. */
const outcome = (result: Result.Result<unknown, { readonly path: string; readonly message: string }>) =>
  Result.isSuccess(result)
    ? { decoded: result.success }
    : { invalid: { path: result.failure.path, message: result.failure.message } }

const isForeign = (event: StripeEvent | ForeignEvent): event is ForeignEvent => "_tag" in event

/** A plain object with `fields` replaced or added, keeping every other own key (`__proto__` too). */
const withFields = (base: unknown, fields: Readonly<Record<string, unknown>>): Record<string, unknown> =>
  Object.fromEntries([
    ...Object.entries(base as Record<string, unknown>).filter(([k]) => !Object.hasOwn(fields, k)),
    ...Object.entries(fields),
  ])

describe("Stripe's fixture session", () => {
  const fixture = sessionFixture()

  test("decodes", () => {
    const session = decoded(decodeSession(fixture))
    expect(session.id).toBe("vs_1Pgc76B7WZ01zgkWBdQi8PTU")
    expect(session.status).toBe("verified")
    expect(session.redaction).toEqual({ status: "processing" })
  })

  test("encode(decode(fixture)) equals the fixture on every field", () => {
    // Every field of the fixture is one the domain models, so nothing may be lost or added.
    expectSameJson(encodeSession(decoded(decodeSession(fixture))), fixture)
  })
})

describe("every VerificationSession Stripe's schema allows", () => {
  test.prop([sessions], { numRuns: 1000 })(
    "every object Stripe's schema allows decodes, unknown enum values and extra fields included",
    (sample) => {
      decoded(decodeSession(sample.wire))
    },
  )

  test.prop([sessions], { numRuns: 1000 })(
    "encode(decode(x)) is x without its undocumented fields: every documented field is kept",
    (sample) => {
      expectSameJson(encodeSession(decoded(decodeSession(sample.wire))), sample.documented)
    },
  )

  test.prop([sessions], { numRuns: 300 })(
    "undocumented fields change nothing: x and x without them decode to the same session",
    (sample) => {
      expectSameJson(decoded(decodeSession(sample.wire)), decoded(decodeSession(sample.documented)))
    },
  )

  test("options.id_number, an empty object in Stripe's schema, drops undocumented fields like every other struct", () => {
    // Stripe documents `gelato_session_id_number_options` as `{ type: object, properties: {} }`.
    const session = { ...sessionFixture(), options: { id_number: { future_field: "anything" } } }
    expectSameJson(encodeSession(decoded(decodeSession(session))).options, { id_number: {} })
  })

  test("the generator reaches what the laws rely on (expanded reports, unknown enum values, extra fields deep down)", () => {
    const samples = fc.sample(sessions, { numRuns: 500, seed: 20260729 })
    const wires = samples.map((s) => s.wire as Record<string, unknown>)
    const report = (w: Record<string, unknown>) => w.last_verification_report
    expect(wires.some((w) => typeof report(w) === "string")).toBe(true)
    expect(wires.some((w) => typeof report(w) === "object" && report(w) !== null)).toBe(true)
    expect(wires.some((w) => report(w) === null)).toBe(true)
    expect(wires.some((w) => !(knownSessionStatuses as ReadonlyArray<unknown>).includes(w.status))).toBe(true)
    expect(wires.some((w) => w.verified_outputs !== undefined && w.verified_outputs !== null)).toBe(true)
    // An undocumented field below the root: the documented view differs from the wire in a sub-object.
    const differsBelowRoot = (s: Sample) =>
      Object.keys(s.documented as object).some(
        (k) =>
          JSON.stringify((s.wire as Record<string, unknown>)[k]) !==
          JSON.stringify((s.documented as Record<string, unknown>)[k]),
      )
    expect(samples.some(differsBelowRoot)).toBe(true)
  })
})

describe("webhook events", () => {
  const envelopes = stripeEvents.sample("event")
  const identityTypes = Object.keys(sessionDoc.components.schemas).filter((name) =>
    name.startsWith(sessionEventPrefix),
  )

  /** An event of one of the six identity types, its `data` from that type's payload schema. */
  const identityEvents = fc.oneof(
    ...identityTypes.map((type) =>
      fc.tuple(envelopes, stripe.sample(type)).map(([envelope, data]) => ({
        type,
        session: (data.wire as { object: unknown }).object,
        documentedSession: (data.documented as { object: unknown }).object,
        wire: withFields(envelope.wire, { type, data: data.wire }),
      })),
    ),
  )

  const foreignTypes = (
    (eventSchemas().components.schemas.event?.properties?.type?.enum ?? []) as ReadonlyArray<string>
  ).filter((t) => !t.startsWith(sessionEventPrefix))

  /** An event of any other type: a documented one, or one Stripe adds later. */
  const foreignEvents = fc
    .tuple(
      envelopes,
      fc.oneof(
        fc.constantFrom(...foreignTypes),
        fc.string({ minLength: 1 }).filter((t) => !t.startsWith(sessionEventPrefix)),
      ),
    )
    .map(([envelope, type]) => ({ type, wire: withFields(envelope.wire, { type }) }))

  test("the schema files name six identity.verification_session.* event types and many foreign ones", () => {
    expect(identityTypes.sort()).toEqual(
      ["canceled", "created", "processing", "redacted", "requires_input", "verified"].map(
        (t) => `${sessionEventPrefix}${t}`,
      ),
    )
    expect(foreignTypes.length).toBeGreaterThan(200)
  })

  test.prop([identityEvents], { numRuns: 1000 })(
    "an identity.verification_session.* event decodes to a StripeEvent whose data.object is its session, decoded",
    (event) => {
      const result = decoded(decodeStripeEvent(event.wire))
      if (isForeign(result)) throw new Error(`${event.type} decoded as a ForeignEvent`)
      const wire = event.wire as { id: unknown; created: unknown; livemode: unknown }
      expect(result.type).toBe(event.type)
      expect(result.id).toBe(wire.id)
      expect(result.created).toBe(wire.created)
      expect(result.livemode).toBe(wire.livemode)
      expectSameJson(result.data.object, decoded(decodeSession(event.session)))
      expectSameJson(encodeSession(result.data.object), event.documentedSession)
    },
  )

  test.prop([foreignEvents], { numRuns: 1000 })(
    "an event of any other type decodes as a ForeignEvent carrying its id and type, whatever its data.object",
    (event) => {
      const wire = event.wire as { id: unknown }
      expectSameJson(decoded(decodeStripeEvent(event.wire)), {
        _tag: "ForeignEvent",
        id: wire.id,
        type: event.type,
      })
    },
  )

  test.prop([fc.oneof(identityEvents, foreignEvents)], { numRuns: 300 })(
    "a webhook body decodes the same from its raw JSON text as from the parsed value",
    (event) => {
      const text = JSON.stringify(event.wire)
      expectSameJson(outcome(decodeStripeEvent(text)), outcome(decodeStripeEvent(JSON.parse(text))))
    },
  )
})
