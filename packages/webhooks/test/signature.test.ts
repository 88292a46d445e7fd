/**
 * Webhook signatures, checked against the official stripe SDK: what it signs we accept, what it
 * would refuse we refuse, with a reason and without echoing a secret.
 */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import { verifyWebhook, verifyWebhookSignature } from "../src/index.ts"
import { snapshot, stripe } from "./fixtures.ts"

const session = (overrides: Parameters<typeof snapshot>[2]) =>
  snapshot("vs_sig_1", "requires_input", overrides)
const SECRET = "whsec_test_secret_value"
const NOW = 1_800_000_000

const body = JSON.stringify({
  id: "evt_sig_1",
  object: "event",
  type: "identity.verification_session.processing",
  created: NOW,
  livemode: false,
  api_version: "2026-07-29.dahlia",
  data: { object: session({ status: "processing", client_secret: null, url: null }) },
})
const sign = (payload: string, secret = SECRET, timestamp = NOW) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp })

const reasonOf = (result: Result.Result<unknown, { readonly reason?: string; readonly message: string }>) =>
  Result.isFailure(result) ? result.failure : undefined

describe("webhook signatures", () => {
  // Non-empty: an empty body is no delivery, and the SDK refuses it too (see sdk-spec.test.ts).
  test.prop([fc.string({ minLength: 1, maxLength: 300 }), fc.integer({ min: 0, max: 300 })])(
    "a body signed by the stripe SDK with the endpoint secret is accepted, up to 300 s later",
    (payload, age) => {
      expect(
        Result.isSuccess(verifyWebhookSignature(payload, sign(payload), { secrets: SECRET, now: NOW + age })),
      ).toBe(true)
    },
  )

  test.prop([fc.string({ minLength: 1, maxLength: 200 }), fc.nat({ max: 199 })])(
    "a body changed after signing is refused",
    (payload, at) => {
      const tampered = payload.slice(0, at) + (payload[at] === "x" ? "y" : "x") + payload.slice(at + 1)
      const result = verifyWebhookSignature(tampered, sign(payload), { secrets: SECRET, now: NOW })
      expect(reasonOf(result)).toMatchObject({ reason: "no_match" })
    },
  )

  it("a signature made with another secret is refused, and the message never shows a secret", () => {
    const failure = reasonOf(
      verifyWebhookSignature(body, sign(body, "whsec_other"), { secrets: SECRET, now: NOW }),
    )
    expect(failure).toMatchObject({ reason: "no_match" })
    expect(failure?.message).not.toContain(SECRET)
    expect(failure?.message).not.toContain("whsec_other")
  })

  it("while a secret is rotated, either secret verifies", () => {
    const options = { secrets: ["whsec_new", SECRET], now: NOW }
    expect(Result.isSuccess(verifyWebhookSignature(body, sign(body), options))).toBe(true)
    expect(Result.isSuccess(verifyWebhookSignature(body, sign(body, "whsec_new"), options))).toBe(true)
  })

  it("a signature older than the tolerance is refused; a shorter tolerance can be set", () => {
    expect(
      reasonOf(verifyWebhookSignature(body, sign(body), { secrets: SECRET, now: NOW + 301 })),
    ).toMatchObject({
      reason: "too_old",
    })
    expect(
      reasonOf(
        verifyWebhookSignature(body, sign(body), { secrets: SECRET, now: NOW + 31, toleranceSeconds: 30 }),
      ),
    ).toMatchObject({ reason: "too_old" })
  })

  it.each([
    [undefined, "missing_header"],
    ["", "missing_header"],
    ["v1=abc", "malformed_header"],
    [`t=${NOW}`, "malformed_header"],
    [`t=soon,v1=abc`, "malformed_header"],
  ])("a header %j is refused as %s", (header, reason) => {
    expect(reasonOf(verifyWebhookSignature(body, header, { secrets: SECRET, now: NOW }))).toMatchObject({
      reason,
    })
  })

  it("no configured secret is refused rather than accepting everything", () => {
    expect(reasonOf(verifyWebhookSignature(body, sign(body), { secrets: [], now: NOW }))).toMatchObject({
      reason: "no_secret",
    })
  })

  it("a verified delivery decodes to its event; a signed but malformed body is an InvalidPayload", () => {
    const verified = verifyWebhook(body, sign(body), { secrets: SECRET, now: NOW })
    expect(Result.getOrThrow(verified)).toMatchObject({
      id: "evt_sig_1",
      data: { object: { status: "processing" } },
    })
    const broken = '{"id": "evt_2", "object": "event"'
    expect(reasonOf(verifyWebhook(broken, sign(broken), { secrets: SECRET, now: NOW }))).toMatchObject({
      _tag: "InvalidPayload",
      path: "$",
    })
  })
})
