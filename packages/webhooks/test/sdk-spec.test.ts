/**
 * The official SDK's webhook specification (stripe-node `test/Webhook.spec.ts`), case for case:
 * every case there is a row here, run through ours and, as a cross-check, through the SDK in
 * node_modules. Where the SDK accepts, we accept; where it refuses (sometimes with a plain
 * `Error` or a `TypeError`), we refuse with a typed result and a reason. Not ported: the custom
 * `CryptoProvider` cases (there is no pluggable crypto here) and the `generateTestHeaderString`
 * cases (the SDK's own signer, which these tests use to sign).
 */
import { fc, test } from "@fast-check/vitest"
import type { InvalidPayload } from "@idtrail/domain"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  type InvalidSignature,
  type SignatureHeader,
  verifyWebhook,
  verifyWebhookSignature,
  type WebhookBody,
} from "../src/index.ts"
import { eventBody, sign, snapshot, stripe } from "./fixtures.ts"

const SECRET = "whsec_test_secret"
const NOW = 1_800_000_000
const BODY = eventBody("evt_test_webhook", snapshot("vs_spec", "processing"), NOW - 5)
const HEADER = sign(BODY, SECRET, NOW)
const fresh = () => Math.floor(Date.now() / 1000)
const bytes = (text: string) => new TextEncoder().encode(text)

/** When and how: `now` in unix seconds (`null`: the host's clock, default NOW); tolerance in seconds. */
interface Setting {
  readonly now?: number | null
  readonly tolerance?: number
  readonly secret?: string
}

/** A row: what the case is, the body and header given, and `"accepted"` or the refusal's reason (or tag). */
type Row = readonly [name: string, body: unknown, header: unknown, expected: string, setting?: Setting]

const hostClock = { now: null }
const v2Body = JSON.stringify({ id: "evt_test_webhook", object: "v2.core.event" })
const notJson = "} I am not valid JSON; 123]["

/** `constructEvent` verifies and parses; ours: `verifyWebhook`. Its default tolerance is 300 s. */
const constructEventCases: ReadonlyArray<Row> = [
  ["a valid body and header give the event", BODY, HEADER, "accepted"],
  ["body and header as Buffers", Buffer.from(BODY), Buffer.from(HEADER), "accepted"],
  ["body and header as Uint8Arrays", bytes(BODY), bytes(HEADER), "accepted"],
  ["a signed body that is not JSON", notJson, sign(notJson, SECRET, NOW), "InvalidPayload"],
  ["a header that is no signature header", BODY, "bad_header", "malformed_header"],
  ["no body: null", null, "bad_header", "missing_payload"],
  ["no body: undefined", undefined, "bad_header", "missing_payload"],
  ["no body: the empty string", "", "bad_header", "missing_payload"],
  ["a header given as an array", BODY, [HEADER], "malformed_header"],
  ["a thin v2 event notification", v2Body, sign(v2Body, SECRET, NOW), "InvalidPayload"],
  ["no tolerance given: 400 s old is refused", BODY, sign(BODY, SECRET, fresh() - 400), "too_old", hostClock],
  [
    "no tolerance given: a fresh signature is accepted",
    BODY,
    sign(BODY, SECRET, fresh()),
    "accepted",
    hostClock,
  ],
]

/** `signature.verifyHeader` only verifies; ours: `verifyWebhookSignature`. It checks no age unless told. */
const verifyHeaderCases: ReadonlyArray<Row> = [
  ["a header in no expected format", BODY, "I'm not even a real signature header", "malformed_header"],
  ["a null header", BODY, null, "missing_header"],
  ["an undefined header", BODY, undefined, "missing_header"],
  ["an empty header", BODY, "", "missing_header"],
  ["no signature with the v1 scheme (only v0)", BODY, HEADER.replace("v1=", "v0="), "malformed_header"],
  ["a v1 signature that matches nothing", BODY, `t=${NOW},v1=bad_signature`, "no_match"],
  [
    "too old for the tolerance at a given time",
    BODY,
    sign(BODY, SECRET, NOW - 15),
    "too_old",
    { tolerance: 10 },
  ],
  [
    "too old for the tolerance by the host's clock",
    BODY,
    sign(BODY, SECRET, fresh() - 15),
    "too_old",
    { ...hostClock, tolerance: 10 },
  ],
  [
    "within the tolerance by the host's clock",
    BODY,
    sign(BODY, SECRET, fresh()),
    "accepted",
    { ...hostClock, tolerance: 10 },
  ],
  ["within the tolerance at a given time", BODY, sign(BODY, SECRET, NOW - 9), "accepted", { tolerance: 10 }],
  ["one valid v1 among others", BODY, `${HEADER},v1=potato`, "accepted", { tolerance: 10 }],
  ["an old timestamp with no tolerance", BODY, sign(BODY, SECRET, 12_345), "accepted"],
  ["Buffers for body and header", Buffer.from(BODY), Buffer.from(HEADER), "accepted", { tolerance: 10 }],
  ["a parsed object as the body", {}, HEADER, "payload_not_raw"],
  ["a Date as the body", new Date(0), HEADER, "payload_not_raw"],
  ["a signing secret with whitespace", BODY, HEADER, "no_match", { secret: `${SECRET} ` }],
  // Beyond the SDK's file: inputs that made our checker throw (issue 10, item 3).
  ["a v1 of 64 UTF-16 units with non-ASCII characters", BODY, `t=${NOW},v1=${"é".repeat(64)}`, "no_match"],
  [
    "a v1 of the right length in upper case",
    BODY,
    `t=${NOW},v1=${HEADER.split("v1=")[1]!.toUpperCase()}`,
    "no_match",
  ],
  ["a header that is a number", BODY, 42, "malformed_header"],
  ["a body that is a number", 42, HEADER, "payload_not_raw"],
]

type Sdk = "constructEvent" | "verifyHeader"

/** The setting's clock for us (seconds, or the host's) and for the SDK (`receivedAt`, milliseconds). */
const clockOf = (setting: Setting) => (setting.now === null ? undefined : (setting.now ?? NOW))

/** What the SDK says: accepted, or refused (typed or not). */
const sdkAccepts = (sdk: Sdk, [, body, header, , setting = {}]: Row): boolean => {
  const now = clockOf(setting)
  const args = [body, header, setting.secret ?? SECRET, setting.tolerance, undefined, now && now * 1000]
  try {
    if (sdk === "constructEvent") Reflect.apply(stripe.webhooks.constructEvent, stripe.webhooks, args)
    else Reflect.apply(stripe.webhooks.signature!.verifyHeader, stripe.webhooks.signature, args)
    return true
  } catch {
    return false
  }
}

/** What we say: `"accepted"` or the refusal's reason (or tag, when it has none), and its message. */
const ours = (sdk: Sdk, [, body, header, , setting = {}]: Row) => {
  const now = clockOf(setting)
  const options = {
    secrets: setting.secret ?? SECRET,
    ...(now === undefined ? {} : { now }),
    // As each SDK function's default: constructEvent 300 s, verifyHeader no check (ours: 0).
    toleranceSeconds: setting.tolerance ?? (sdk === "constructEvent" ? 300 : 0),
  }
  const result: Result.Result<unknown, InvalidSignature | InvalidPayload> =
    sdk === "constructEvent"
      ? verifyWebhook(body as WebhookBody, header as SignatureHeader, options)
      : verifyWebhookSignature(body as WebhookBody, header as SignatureHeader, options)
  if (Result.isSuccess(result)) return { outcome: "accepted", message: "" }
  const failure = result.failure
  return {
    outcome: failure._tag === "InvalidSignature" ? failure.reason : failure._tag,
    message: failure.message,
  }
}

describe("the SDK's webhook specification, case for case", () => {
  describe.each([
    ["constructEvent", constructEventCases],
    ["verifyHeader", verifyHeaderCases],
  ] as const)("%s", (sdk, rows) => {
    const named = rows.map((row) => ({ name: row[0], expected: row[3], row }))
    it.each(named)("$name → $expected", ({ row }) => {
      const { outcome, message } = ours(sdk, row)
      expect(outcome).toBe(row[3])
      expect(sdkAccepts(sdk, row)).toBe(outcome === "accepted")
      expect(message).not.toContain(SECRET)
    })
  })

  it("a secret with whitespace is named as a likely cause, without showing it", () => {
    const row = verifyHeaderCases.find(([name]) => name === "a signing secret with whitespace")!
    expect(ours("verifyHeader", row).message).toMatch(/whitespace/)
  })

  const anyHeader = fc.oneof(
    fc.anything(),
    fc.string({ unit: "binary", minLength: 64, maxLength: 64 }).map((v1) => `t=${NOW},v1=${v1}`),
    fc.array(fc.string()),
    fc.uint8Array(),
  )
  const anyBody = fc.oneof(fc.anything(), fc.string({ unit: "binary" }), fc.uint8Array())
  test.prop([anyBody, anyHeader], { numRuns: 1_000 })(
    "any body and any header, of any type, give a typed result and never throw",
    (body, header) => {
      const options = { secrets: SECRET, now: NOW }
      const results: Array<Result.Result<unknown, InvalidSignature | InvalidPayload>> = [
        verifyWebhook(body as WebhookBody, header as SignatureHeader, options),
        verifyWebhookSignature(body as WebhookBody, header as SignatureHeader, options),
      ]
      for (const result of results) {
        expect(Result.isResult(result)).toBe(true)
        if (Result.isFailure(result))
          expect(["InvalidSignature", "InvalidPayload"]).toContain(result.failure._tag)
      }
    },
  )
})
