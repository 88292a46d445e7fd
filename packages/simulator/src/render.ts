/**
 * Renders sessions (and their verification reports) as Stripe's JSON, honouring `expand[]`.
 * Fields follow Stripe's schema order; `verified_outputs` and `provided_details` appear only when
 * expanded, and `client_secret`/`url` only while the session can still take input.
 *
 * @module
 */
import { invalidRequest } from "./errors.ts"
import { hash32, makeRandom, randomToken } from "./random.ts"
import type { SessionState } from "./sessions.ts"

/** The expansions a session response accepts. */
export const SESSION_EXPANSIONS = [
  "verified_outputs",
  "verified_outputs.dob",
  "verified_outputs.id_number",
  "provided_details",
  "last_verification_report",
] as const

/** A parsed `expand[]` list for sessions. */
export type Expansions = ReadonlySet<string>

/**
 * Checks an `expand[]` list. `prefix` is `"data."` for lists. Expanding a nested path implies its
 * parent, as in Stripe.
 */
export const readExpansions = (expand: ReadonlyArray<string> | undefined, prefix = ""): Expansions => {
  const out = new Set<string>()
  ;(expand ?? []).forEach((raw, i) => {
    const path = raw.startsWith(prefix) ? raw.slice(prefix.length) : undefined
    if (path === undefined || !(SESSION_EXPANSIONS as ReadonlyArray<string>).includes(path))
      throw invalidRequest(`This property cannot be expanded (${raw}).`, `expand[${i}]`)
    out.add(path)
    if (path.startsWith("verified_outputs.")) out.add("verified_outputs")
  })
  return out
}

/** What rendering needs besides the session itself. */
export interface RenderContext {
  readonly now: number
  readonly idSeed: number
  readonly reportId: (index: number) => string
}

const DAY = 86_400

/** A client secret or URL token: renewed every 24 h and on every new attempt (fact sheet §3.5). */
const token = (seed: number, index: number, attempts: number, period: number, salt: number): string =>
  randomToken(makeRandom(hash32(hash32(seed, index), attempts * 65_537 + period * 31 + salt)), 24)

/** Renders a session as the API returns it. */
export const renderSession = (
  id: string,
  index: number,
  created: number,
  state: SessionState,
  expand: Expansions,
  ctx: RenderContext,
): Record<string, unknown> => {
  const r = state.record
  const open = state.status === "requires_input" && state.redaction === null
  const period = Math.max(0, Math.floor((ctx.now - created) / DAY))
  const out: Record<string, unknown> = {
    id,
    object: "identity.verification_session",
    client_reference_id: r.client_reference_id,
    client_secret: open ? `${id}_secret_test_${token(ctx.idSeed, index, r.attempts, period, 1)}` : null,
    created,
    last_error: r.last_error,
    last_verification_report:
      r.report === null
        ? null
        : expand.has("last_verification_report")
          ? renderReport(ctx.reportId(r.report), id, state, r.report_created ?? created)
          : ctx.reportId(r.report),
    livemode: false,
    metadata: { ...r.metadata },
    options: r.options,
  }
  if (expand.has("provided_details")) out.provided_details = r.provided_details
  out.redaction = state.redaction === null ? null : { status: state.redaction }
  out.related_customer = r.related_customer
  out.related_customer_account = r.related_customer_account
  if (r.related_person !== null) out.related_person = r.related_person
  out.status = state.status
  out.type = r.type
  out.url = open
    ? `https://verify.stripe.com/start/test_${token(ctx.idSeed, index, r.attempts, period, 2)}`
    : null
  if (r.verification_flow !== null) out.verification_flow = r.verification_flow
  if (expand.has("verified_outputs")) {
    const v = r.verified_outputs
    if (v === null) out.verified_outputs = null
    else {
      const { dob, id_number, ...rest } = v
      const shown: Record<string, unknown> = { ...rest }
      // DOB and ID number need their own expansion (fact sheet §1.4).
      if (expand.has("verified_outputs.dob")) shown.dob = dob
      if (expand.has("verified_outputs.id_number")) shown.id_number = id_number
      out.verified_outputs = shown
    }
  }
  return out
}

/**
 * A minimal `identity.verification_report` for `expand[]=last_verification_report`: the schema's
 * required fields plus the options checked. Per-check sub-reports are not simulated.
 */
const renderReport = (
  id: string,
  sessionId: string,
  state: SessionState,
  created: number,
): Record<string, unknown> => {
  const r = state.record
  return {
    id,
    object: "identity.verification_report",
    client_reference_id: r.client_reference_id,
    created,
    livemode: false,
    options: r.type === "id_number" ? { id_number: {} } : { document: { ...(r.options.document ?? {}) } },
    type: r.type,
    verification_session: sessionId,
  }
}
