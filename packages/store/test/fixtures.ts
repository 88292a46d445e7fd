/**
 * Test fixtures: Stripe-shaped session snapshots and the commands built from them, and a store
 * per test file in its own Postgres schema.
 */

import type { Observe, SessionCommand, VerificationSession } from "@idtrail/domain"
import type { Kysely } from "kysely"
import { contextOf } from "../src/context.ts"
import type { EventMetadata, PromiseStore, StoreOptions } from "../src/index.ts"
import { openTemporaryStore } from "../src/testing.ts"

/** A session as Stripe's API renders it; `overrides` replace fields. */
export const snapshot = (
  id: string,
  status: string,
  overrides: Partial<{ -readonly [K in keyof VerificationSession]: VerificationSession[K] }> = {},
): VerificationSession => ({
  id,
  object: "identity.verification_session",
  client_reference_id: null,
  client_secret: `${id}_secret_abc`,
  created: 1_760_000_000,
  last_error: null,
  last_verification_report: null,
  livemode: false,
  metadata: {},
  options: null,
  provided_details: null,
  redaction: null,
  related_customer: null,
  related_customer_account: null,
  status,
  type: "document",
  url: `https://verify.stripe.com/start/${id}`,
  verified_outputs: null,
  ...overrides,
})

/** An observation of `session` at `observedAt` from `source`. */
export const observation = (
  session: VerificationSession,
  observedAt: number,
  source: Observe["source"] = "webhook",
  stripeEventId?: string,
): SessionCommand => ({
  _tag: "Observe",
  session,
  source,
  observedAt,
  ...(stripeEventId === undefined
    ? {}
    : { stripeEventId, stripeEventType: `identity.verification_session.${session.status}` }),
})

export const actor = { kind: "service", id: "tests" } as const

export const metadata = (overrides: Partial<EventMetadata> = {}): EventMetadata => ({
  source: "webhook",
  stripeEventId: null,
  stripeEventType: null,
  observedAt: null,
  causationId: null,
  correlationId: null,
  actor,
  ...overrides,
})

export { freshSchema } from "../src/testing.ts"

/** The store's kysely handle, for tests that look at its tables (internal: not part of the package's API). */
export const dbOf = (store: PromiseStore): Kysely<unknown> => contextOf(store).db

/** The backends every functional test runs on: PGlite always, Postgres when DATABASE_URL is set. */
export const backends: ReadonlyArray<{ readonly name: string; readonly databaseUrl: string | undefined }> = [
  { name: "pglite", databaseUrl: undefined },
  ...(process.env.DATABASE_URL ? [{ name: "postgres", databaseUrl: process.env.DATABASE_URL }] : []),
]

/** Opens a store in a fresh schema; `dispose` drops the schema and closes it. */
export const openTestStore = (databaseUrl: string | undefined, options: StoreOptions = {}) =>
  openTemporaryStore({ databaseUrl, ...options })
