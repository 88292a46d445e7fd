/**
 * What the domain says about payloads that are not what Stripe sends: an `InvalidPayload` whose
 * `path` names the offending position (`metadata.x`, `data.object.status`, `$` for the whole
 * body) and whose message a person can act on. Nothing malformed decodes, and nothing throws.
 */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect } from "vitest"
import { decodeSession, decodeStripeEvent, type InvalidPayload, sessionEventPrefix } from "../src/index.ts"
import { dotted, type JsonPath, removedAt, replacedAt } from "./support/break-payload.ts"
import { opaqueInTheDomain, toleratedMissing } from "./support/domain-departures.ts"
import { jsonSchemaArbitraries, type Sample, valuesOfOtherTypes } from "./support/json-schema-arbitrary.ts"
import { sessionFixture, sessionSchemas } from "./support/stripe-schema-files.ts"

/** A session with every nested object present, so that any nested path exists. */
const fullSession = {
  ...sessionFixture(),
  status: "requires_input",
  last_error: { code: "document_expired", reason: "The document is expired." },
  metadata: { order: "o_1" },
  options: {
    document: { allowed_types: ["driving_license", "passport"], require_matching_selfie: true },
    email: { require_verification: false },
    id_number: {},
    matching: { dob: "similar", name: "none" },
  },
  provided_details: { email: "someone@example.com" },
  related_person: { account: "acct_1", person: "person_1" },
  verified_outputs: {
    address: null,
    dob: { day: 1, month: 2, year: 1990 },
    email: null,
    first_name: "Jenny",
    id_number_type: null,
    last_name: "Rosen",
    phone: null,
  },
}

/** The `InvalidPayload` a decode failed with, or a test failure saying it decoded. */
const refusal = (result: Result.Result<unknown, InvalidPayload>): InvalidPayload => {
  if (Result.isSuccess(result))
    throw new Error(`expected an InvalidPayload, but it decoded: ${JSON.stringify(result.success)}`)
  return result.failure
}

/** A message a person can act on: it names the path and says what was wrong, in words. */
const expectReadable = (invalid: InvalidPayload): void => {
  expect(invalid.message).toContain(`at ${invalid.path}`)
  expect(invalid.message).toMatch(/^(Expected|Missing)/)
  expect(invalid.message).not.toMatch(/\[object Object\]|undefined/)
}

describe("decodeSession: a body that is not an object", () => {
  test.each([null, 0, 42, -1.5, "vs_123", "", true, [], [sessionFixture()]])(
    "%j is refused at $",
    (input) => {
      const invalid = refusal(decodeSession(input))
      expect(invalid._tag).toBe("InvalidPayload")
      expect(invalid.path).toBe("$")
      expect(invalid.message).toBe("Expected object at $")
    },
  )

  test("undefined is refused at $", () => {
    expect(refusal(decodeSession(undefined)).path).toBe("$")
  })
})

describe("decodeSession: a field missing or of the wrong type", () => {
  test("a session without id is refused at id", () => {
    const invalid = refusal(decodeSession(removedAt(fullSession, ["id"])))
    expect(invalid.path).toBe("id")
    expect(invalid.message).toBe("Missing key at id")
  })

  test.each<[string, JsonPath, unknown]>([
    ["last_error.code as a number", ["last_error", "code"], 5],
    ["a metadata value as a number", ["metadata", "x"], 1],
    ["options.document.allowed_types as a bare string", ["options", "document", "allowed_types"], "passport"],
    ["one allowed type as a number", ["options", "document", "allowed_types", 1], 7],
    ["created as a word", ["created"], "yesterday"],
    ["created as a fraction", ["created"], 1722470400.5],
    ["livemode as a string", ["livemode"], "false"],
    ["status as null", ["status"], null],
    ["redaction.status as a number", ["redaction", "status"], 3],
    ["related_person.account as null", ["related_person", "account"], null],
    ["verified_outputs.dob.day as a fraction", ["verified_outputs", "dob", "day"], 1.5],
    ["options.matching.dob as a boolean", ["options", "matching", "dob"], true],
    ["provided_details.email as a number", ["provided_details", "email"], 42],
    ["metadata as a string", ["metadata"], "order=o_1"],
    ["options.id_number as a string", ["options", "id_number"], "passport"],
    ["options.id_number as an array", ["options", "id_number"], []],
  ])("%s is refused at that path", (_, path, value) => {
    const invalid = refusal(decodeSession(replacedAt(fullSession, path, value)))
    expect(invalid.path).toBe(dotted(path))
    expectReadable(invalid)
  })

  test("a metadata entry under an empty key (Stripe's schema allows any key) keeps its empty segment: metadata.", () => {
    const invalid = refusal(decodeSession(replacedAt(fullSession, ["metadata", ""], 1)))
    expect(invalid.path).toBe("metadata.")
    expectReadable(invalid)
  })

  test("an expanded last_verification_report with a broken field is refused at that field", () => {
    const report = {
      id: "vr_1",
      object: "identity.verification_report",
      created: 1722470400,
      livemode: false,
      client_reference_id: null,
      type: "document",
      verification_session: "vs_1",
    }
    const invalid = refusal(
      decodeSession({ ...fullSession, last_verification_report: { ...report, created: "yesterday" } }),
    )
    expect(invalid.path).toBe("last_verification_report.created")
    expectReadable(invalid)
  })

  test("a last_verification_report that is neither an id nor a report is refused at last_verification_report", () => {
    const invalid = refusal(decodeSession({ ...fullSession, last_verification_report: 42 }))
    expect(invalid.path).toBe("last_verification_report")
    expectReadable(invalid)
  })

  test("an integer JavaScript cannot hold exactly (beyond 2^53) is refused at its path", () => {
    const invalid = refusal(decodeSession({ ...fullSession, created: 2 ** 60 }))
    expect(invalid.path).toBe("created")
    expectReadable(invalid)
  })

  test("several faults: path names the first, the message lists them all", () => {
    const invalid = refusal(decodeSession({ ...fullSession, created: "yesterday", metadata: { x: 1 } }))
    expect(invalid.path).toBe("created")
    expect(invalid.message).toContain("at created")
    expect(invalid.message).toContain("at metadata.x")
  })
})

/**
 * Where a generated break is reported. Inside an expanded report, a broken `object` tag means the
 * value is no longer recognisably a report: the union itself is named.
 */
const expectedPath = (path: JsonPath): string =>
  path[0] === "last_verification_report" && path[1] === "object" ? "last_verification_report" : dotted(path)

describe("decodeSession: every documented position, broken on purpose", () => {
  const stripe = jsonSchemaArbitraries(sessionSchemas(), {
    unknownEnumValues: true,
    opaqueRefs: opaqueInTheDomain,
  })
  const sessions = stripe.sample("identity.verification_session")

  /** A sample with one of its documented fields picked, and a value of a type the schema forbids there. */
  const brokenAtOneField = (select: (f: Sample["fields"][number]) => boolean) =>
    sessions
      .map((sample) => ({ sample, candidates: sample.fields.filter(select) }))
      .filter(({ candidates }) => candidates.length > 0)
      .chain(({ sample, candidates }) =>
        fc
          .constantFrom(...candidates)
          .chain((field) =>
            fc.constantFrom(...valuesOfOtherTypes(field.types)).map((wrong) => ({ sample, field, wrong })),
          ),
      )

  test.prop([brokenAtOneField(() => true)], { numRuns: 1000 })(
    "a value of a type Stripe's schema forbids, at any documented position, is refused at that position",
    ({ sample, field, wrong }) => {
      const invalid = refusal(decodeSession(replacedAt(sample.wire, field.path, wrong)))
      expect(invalid.path).toBe(expectedPath(field.path))
      expectReadable(invalid)
    },
  )

  test.prop([brokenAtOneField((f) => f.kind === "property" && f.required)], { numRuns: 500 })(
    "a field Stripe always sends, when missing, is refused at its path (unless the domain tolerates its absence)",
    ({ sample, field }) => {
      const result = decodeSession(removedAt(sample.wire, field.path))
      if (toleratedMissing.has(dotted(field.path))) {
        expect(Result.isSuccess(result)).toBe(true)
        return
      }
      const invalid = refusal(result)
      expect(invalid.path).toBe(expectedPath(field.path))
      expectReadable(invalid)
    },
  )
})

describe("decodeStripeEvent: a body that is not an event", () => {
  const event = {
    id: "evt_1",
    object: "event",
    api_version: "2026-07-29.dahlia",
    created: 1722470400,
    data: { object: fullSession },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: "identity.verification_session.requires_input",
  }

  test("the well-formed event these cases break decodes", () => {
    expect(Result.isSuccess(decodeStripeEvent(JSON.stringify(event)))).toBe(true)
  })

  test.each(["", " ", "{", "not json", '{"id": "evt_1",}', "[1,]", "NaN", "undefined", "{'id': 'evt_1'}"])(
    "malformed JSON %j is refused at $",
    (text) => {
      const invalid = refusal(decodeStripeEvent(text))
      expect(invalid.path).toBe("$")
      expect(invalid.message).toMatch(/^the body is not JSON: \S/)
    },
  )

  test.prop([fc.string().filter((text) => !isJson(text))], { numRuns: 500 })(
    "any text that is not JSON is refused at $, without throwing",
    (text) => {
      expect(refusal(decodeStripeEvent(text)).path).toBe("$")
    },
  )

  test.each(["null", "42", '"evt_1"', "[]", "true"])(
    "JSON that is not an object, %s, is refused at $",
    (text) => {
      const invalid = refusal(decodeStripeEvent(text))
      expect(invalid.path).toBe("$")
      expectReadable(invalid)
    },
  )

  test.each<[string, JsonPath, unknown]>([
    ["created as a word", ["created"], "yesterday"],
    ["type as a number", ["type"], 7],
    ["data as null", ["data"], null],
    ["request as a string", ["request"], "req_1"],
  ])("an envelope with %s is refused at that path", (_, path, value) => {
    const invalid = refusal(decodeStripeEvent(JSON.stringify(replacedAt(event, path, value))))
    expect(invalid.path).toBe(dotted(path))
    expectReadable(invalid)
  })

  test.each<[string, JsonPath, unknown]>([
    ["a metadata value as a number", ["metadata", "x"], 1],
    ["status as a number", ["status"], 5],
    ["last_error.code as a number", ["last_error", "code"], 5],
    ["options.document.allowed_types as a bare string", ["options", "document", "allowed_types"], "passport"],
  ])("an identity event whose data.object has %s is refused at data.object.<that path>", (_, path, value) => {
    const broken = replacedAt(event, ["data", "object", ...path], value)
    const invalid = refusal(decodeStripeEvent(JSON.stringify(broken)))
    expect(invalid.path).toBe(`data.object.${dotted(path)}`)
    expectReadable(invalid)
  })

  test("an identity event whose data.object lacks id is refused at data.object.id", () => {
    const invalid = refusal(decodeStripeEvent(removedAt(event, ["data", "object", "id"])))
    expect(invalid.path).toBe("data.object.id")
    expect(invalid.message).toBe("Missing key at data.object.id")
  })

  test("an identity event whose data.object is not an object is refused at data.object", () => {
    const invalid = refusal(decodeStripeEvent({ ...event, data: { object: "vs_1" } }))
    expect(invalid.path).toBe("data.object")
    expectReadable(invalid)
  })

  test("an event of another type is a ForeignEvent even when its data.object is no session at all", () => {
    const charge = { ...event, type: "charge.succeeded", data: { object: { id: "ch_1", object: "charge" } } }
    expect(decodeStripeEvent(charge)).toEqual(
      Result.succeed({ _tag: "ForeignEvent", id: "evt_1", type: "charge.succeeded" }),
    )
  })

  const sessions = jsonSchemaArbitraries(sessionSchemas(), {
    unknownEnumValues: true,
    opaqueRefs: opaqueInTheDomain,
  }).sample("identity.verification_session")
  const brokenSessions = sessions
    .filter((s) => s.fields.length > 0)
    .chain((sample) =>
      fc
        .constantFrom(...sample.fields)
        .chain((field) =>
          fc.constantFrom(...valuesOfOtherTypes(field.types)).map((wrong) => ({ sample, field, wrong })),
        ),
    )

  test.prop([brokenSessions, fc.constantFrom("created", "processing", "verified", "canceled")], {
    numRuns: 500,
  })(
    "an identity event whose session is broken at any documented position is refused at data.object.<position>",
    ({ sample, field, wrong }, kind) => {
      const body = { ...event, type: `${sessionEventPrefix}${kind}`, data: { object: sample.wire } }
      const broken = replacedAt(body, ["data", "object", ...field.path], wrong)
      const invalid = refusal(decodeStripeEvent(JSON.stringify(broken)))
      expect(invalid.path).toBe(`data.object.${expectedPath(field.path)}`)
      expectReadable(invalid)
    },
  )
})

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
