/**
 * Test fixtures: Stripe-shaped session snapshots and event bodies, signatures made by the
 * official SDK, and the backends every functional test runs on.
 */
import { readFileSync } from "node:fs"
import { decodeSession, type VerificationSession } from "@idtrail/domain"
import { Result } from "effect"
import Stripe from "stripe"

/** Stripe's own example session (vendored with its schemas), decoded as the domain reads it. */
const stripeExample = Result.getOrThrow(
  decodeSession(
    JSON.parse(
      readFileSync(
        new URL("../../../vendor/stripe/verification_session.fixture.json", import.meta.url),
        "utf8",
      ),
    ),
  ),
)

/** A fresh session as Stripe's API renders it (secrets included, no redaction); `overrides` replace fields. */
export const snapshot = (
  id: string,
  status: string,
  overrides: Partial<{ -readonly [K in keyof VerificationSession]: VerificationSession[K] }> = {},
): VerificationSession => ({
  ...stripeExample,
  id,
  status,
  created: 1_760_000_000,
  client_secret: `${id}_secret_abc`,
  url: `https://verify.stripe.com/start/${id}`,
  last_error: null,
  last_verification_report: null,
  redaction: null,
  ...overrides,
})

/** The JSON body of a webhook delivery carrying `session`. */
export const eventBody = (eventId: string, session: VerificationSession, created: number, type?: string) =>
  JSON.stringify({
    id: eventId,
    object: "event",
    type: type ?? `identity.verification_session.${session.status}`,
    created,
    livemode: false,
    api_version: "2026-07-29.dahlia",
    data: { object: session },
  })

/** The official SDK, used only to sign test payloads as Stripe does. */
export const stripe = new Stripe("sk_test_webhooks", { apiVersion: "2026-07-29.dahlia" })

/** A `Stripe-Signature` header for `payload`, made by the SDK. */
export const sign = (payload: string, secret: string, timestamp: number) =>
  stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp })

/** The backends every functional test runs on: PGlite always, Postgres when DATABASE_URL is set. */
export const backends: ReadonlyArray<{ readonly name: string; readonly databaseUrl: string | undefined }> = [
  { name: "pglite", databaseUrl: undefined },
  ...(process.env.DATABASE_URL ? [{ name: "postgres", databaseUrl: process.env.DATABASE_URL }] : []),
]

/** A handler's JSON answer, as a test reads it. */
export interface Answer {
  readonly received?: true
  readonly error: { readonly type: string; readonly message: string }
}
