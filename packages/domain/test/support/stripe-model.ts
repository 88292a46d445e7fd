/**
 * A reference model of Stripe's side of a session, written from the fact sheet (§2.2, §2.3)
 * independently of the domain's lifecycle table, plus fast-check arbitraries of legal Stripe
 * histories and of webhook deliveries (any subset, duplicates, any order).
 *
 * Secrets and personal values carry the markers `SECRET-` and `PII-` so a law can search every
 * event for them.
 */
import fc from "fast-check"
import type { VerificationSession, VerifiedOutputs } from "../../src/index.ts"

export type StripeMove =
  | { readonly kind: "submit" }
  | { readonly kind: "pass" }
  | { readonly kind: "fail"; readonly code: string }
  | { readonly kind: "cancel" }
  | { readonly kind: "redact" }
  | { readonly kind: "finishRedaction" }
  | {
      readonly kind: "update"
      readonly metadata: Readonly<Record<string, string>>
      /** Only in histories with field changes beside metadata (`redactionWithChanges`). */
      readonly type?: "document" | "id_number"
      readonly options?: VerificationSession["options"]
    }

/** One moment of Stripe's history: the object after a move, and the webhook it emitted. */
export interface Moment {
  readonly at: number
  readonly snapshot: VerificationSession
  /** The webhook event type, or `null` for moves Stripe emits no event for (updates, redact of verified). */
  readonly eventType: string | null
  readonly eventId: string
}

const errorCodes = [
  "document_expired",
  "selfie_face_mismatch",
  "abandoned",
  "id_number_mismatch",
  "brand_new_code",
]

export const personalOutputs = (n: number): VerifiedOutputs => ({
  address: {
    city: `PII-city-${n}`,
    country: "US",
    line1: `PII-line1-${n}`,
    line2: null,
    postal_code: null,
    state: null,
  },
  dob: { day: 1, month: 2, year: 1901 + n },
  email: `PII-email-${n}`,
  first_name: `PII-first-${n}`,
  last_name: `PII-last-${n}`,
  id_number: `PII-idnum-${n}`,
  id_number_type: "us_ssn",
  phone: `PII-phone-${n}`,
})

const redactedOutputs: VerifiedOutputs = {
  address: null,
  email: "[redacted]",
  first_name: "[redacted]",
  last_name: "[redacted]",
  id_number_type: null,
  phone: "[redacted]",
  sex: "[redacted]",
}

const open = (s: VerificationSession) => s.redaction === null

/** Stripe's action rules: is this intent accepted right now? */
export const stripeAccepts = (kind: "cancel" | "redact" | "update", s: VerificationSession): boolean => {
  switch (kind) {
    case "cancel":
    case "update":
      return s.status === "requires_input" && open(s)
    case "redact":
      return (s.status === "requires_input" || s.status === "verified") && open(s)
  }
}

const fresh = (s: VerificationSession, n: number) => ({
  client_secret: `SECRET-cs-${s.id}-${n}`,
  url: `SECRET-url-${s.id}-${n}`,
})

/**
 * Applies a move as Stripe would, or returns `undefined` when Stripe's rules forbid it now.
 * `n` numbers the move, to make reports and secrets unique. With `eraseOnRedact: false`, a
 * redaction empties the metadata only when it finishes, so the snapshot that first shows the
 * redaction still carries the changes made before it.
 */
export const applyMove = (
  s: VerificationSession,
  move: StripeMove,
  n: number,
  { eraseOnRedact = true }: { readonly eraseOnRedact?: boolean } = {},
): { snapshot: VerificationSession; eventType: string | null } | undefined => {
  const hidden = { client_secret: null, url: null }
  const erased = eraseOnRedact ? { metadata: {} } : {}
  switch (move.kind) {
    case "submit":
      return s.status === "requires_input" && open(s)
        ? {
            snapshot: { ...s, ...hidden, status: "processing" },
            eventType: "identity.verification_session.processing",
          }
        : undefined
    case "pass":
      return s.status === "processing"
        ? {
            snapshot: { ...s, ...hidden, status: "verified", last_verification_report: `vr_${n}` },
            eventType: "identity.verification_session.verified",
          }
        : undefined
    case "fail":
      return s.status === "processing"
        ? {
            snapshot: {
              ...s,
              ...fresh(s, n),
              status: "requires_input",
              last_error: { code: move.code, reason: `check failed: ${move.code}` },
              last_verification_report: `vr_${n}`,
            },
            eventType: "identity.verification_session.requires_input",
          }
        : undefined
    case "cancel":
      return stripeAccepts("cancel", s)
        ? {
            snapshot: { ...s, ...hidden, status: "canceled" },
            eventType: "identity.verification_session.canceled",
          }
        : undefined
    case "redact":
      if (!stripeAccepts("redact", s)) return undefined
      // A requires_input session is canceled by the redaction; a verified one stays verified.
      return s.status === "requires_input"
        ? {
            snapshot: {
              ...s,
              ...hidden,
              status: "canceled",
              ...erased,
              redaction: { status: "processing" },
            },
            eventType: "identity.verification_session.canceled",
          }
        : { snapshot: { ...s, ...erased, redaction: { status: "processing" } }, eventType: null }
    case "finishRedaction":
      return s.redaction?.status === "processing"
        ? {
            snapshot: { ...s, metadata: {}, redaction: { status: "redacted" } },
            eventType: "identity.verification_session.redacted",
          }
        : undefined
    case "update":
      return stripeAccepts("update", s)
        ? {
            snapshot: {
              ...s,
              metadata: { ...move.metadata },
              ...(move.type === undefined ? {} : { type: move.type }),
              ...(move.options === undefined ? {} : { options: move.options }),
            },
            eventType: null,
          }
        : undefined
  }
}

/** A just-created session, secrets included. */
export const createdSession = (
  id: string,
  created: number,
  metadata: Record<string, string>,
): VerificationSession => ({
  id,
  object: "identity.verification_session",
  client_reference_id: null,
  client_secret: `SECRET-cs-${id}-0`,
  created,
  last_error: null,
  last_verification_report: null,
  livemode: false,
  metadata,
  options: { document: { allowed_types: ["passport"] } },
  redaction: null,
  related_customer: null,
  related_customer_account: null,
  status: "requires_input",
  type: "document",
  url: `SECRET-url-${id}-0`,
})

/** What an expanded API read returns: verified outputs and provided details included. */
export const expanded = (s: VerificationSession, n: number): VerificationSession => {
  const redacted = s.redaction !== null && s.redaction.status !== "validated"
  return {
    ...s,
    provided_details: redacted
      ? { email: "[redacted]" }
      : { email: `PII-provided-${n}`, phone: `PII-tel-${n}` },
    ...(s.status === "verified" ? { verified_outputs: redacted ? redactedOutputs : personalOutputs(n) } : {}),
  }
}

export const moveArb: fc.Arbitrary<StripeMove> = fc.oneof(
  { arbitrary: fc.constant({ kind: "submit" } as const), weight: 5 },
  { arbitrary: fc.constant({ kind: "pass" } as const), weight: 2 },
  { arbitrary: fc.constantFrom(...errorCodes).map((code) => ({ kind: "fail", code }) as const), weight: 3 },
  { arbitrary: fc.constant({ kind: "cancel" } as const), weight: 1 },
  { arbitrary: fc.constant({ kind: "redact" } as const), weight: 1 },
  { arbitrary: fc.constant({ kind: "finishRedaction" } as const), weight: 2 },
  {
    arbitrary: fc
      .dictionary(fc.constantFrom("order", "plan", "tier"), fc.constantFrom("a", "b", "c"), { maxKeys: 2 })
      .map((metadata) => ({ kind: "update", metadata }) as const),
    weight: 2,
  },
)

/** Moves whose updates also change `type` and `options`, which a redaction does not erase. */
export const richMoveArb: fc.Arbitrary<StripeMove> = fc.oneof(
  { arbitrary: moveArb, weight: 3 },
  {
    arbitrary: fc
      .record({
        metadata: fc.dictionary(fc.constantFrom("order", "plan"), fc.constantFrom("x", "y"), { maxKeys: 2 }),
        type: fc.constantFrom("document" as const, "id_number" as const),
        options: fc.constantFrom<VerificationSession["options"]>(
          { document: { allowed_types: ["passport"] } },
          { document: { require_matching_selfie: true } },
          {},
        ),
      })
      .map((update) => ({ kind: "update", ...update }) as const),
    weight: 2,
  },
)

export interface History {
  readonly moments: ReadonlyArray<Moment>
  /** The moments Stripe sent a webhook for, in Stripe's order. */
  readonly webhooks: ReadonlyArray<Moment>
  readonly final: Moment
}

/**
 * A random walk of Stripe's lifecycle: creation, then moves (illegal ones are skipped, as Stripe
 * would refuse them), each some seconds after the last. With `distinctSeconds`, every moment has
 * its own second; otherwise same-second steps are common, as they are at Stripe. With
 * `redactionWithChanges`, updates also change `type` and `options`, and half the histories
 * erase metadata only when the redaction finishes: the snapshot that first shows a redaction may
 * carry field changes we never saw.
 */
export const historyArb = (
  options: { distinctSeconds?: boolean; id?: string; redactionWithChanges?: boolean } = {},
): fc.Arbitrary<History> =>
  fc
    .record({
      created: fc.integer({ min: 1_600_000_000, max: 1_900_000_000 }),
      metadata: fc.constantFrom<Record<string, string>>({}, { order: "o1" }),
      eraseOnRedact: options.redactionWithChanges ? fc.boolean() : fc.constant(true),
      steps: fc.array(
        fc.tuple(
          options.redactionWithChanges ? richMoveArb : moveArb,
          options.distinctSeconds ? fc.integer({ min: 1, max: 90 }) : fc.constantFrom(0, 0, 1, 1, 2, 30),
        ),
        { maxLength: 20 },
      ),
    })
    .map(({ created, metadata, eraseOnRedact, steps }) => {
      const id = options.id ?? "vs_hist"
      let snapshot = createdSession(id, created, metadata)
      let at = created
      const moments: Array<Moment> = [
        { at, snapshot, eventType: "identity.verification_session.created", eventId: "evt_0" },
      ]
      steps.forEach(([move, gap], i) => {
        const next = applyMove(snapshot, move, i + 1, { eraseOnRedact })
        if (next === undefined) return
        at += gap
        snapshot = next.snapshot
        moments.push({ at, snapshot, eventType: next.eventType, eventId: `evt_${i + 1}` })
      })
      return { moments, webhooks: moments.filter((m) => m.eventType !== null), final: moments.at(-1)! }
    })

/** A history and a delivery of its webhooks: any subset, with duplicates, in any order. */
export const deliveredHistoryArb = (
  options: { distinctSeconds?: boolean; redactionWithChanges?: boolean } = {},
) =>
  historyArb(options).chain((history) =>
    fc
      .array(fc.nat(history.webhooks.length - 1), { maxLength: history.webhooks.length * 2 + 2 })
      .map((order) => ({ history, delivered: order.map((i) => history.webhooks[i]!) })),
  )
