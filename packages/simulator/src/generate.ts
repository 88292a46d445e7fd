/**
 * Seeded test data: personal details for a passed check, and whole random-but-legal session
 * histories for bulk generation. A generated session is a pure function of (batch seed, index,
 * creation time, batch time), so a million of them need no per-session objects until one is
 * read or changed.
 *
 * @module
 */
import { hash32, makeRandom, type Random } from "./random.ts"
import {
  type EventType,
  LAST_ERROR_REASONS,
  type SessionRecord,
  type SessionState,
  transition,
  type VerifiedOutputs,
} from "./sessions.ts"

const FIRST = [
  "Jenny",
  "Ana",
  "Kofi",
  "Mei",
  "Lukas",
  "Priya",
  "Omar",
  "Sofia",
  "Yuki",
  "Mateo",
  "Amara",
  "Noah",
]
const LAST = [
  "Rosen",
  "Silva",
  "Mensah",
  "Chen",
  "Müller",
  "Patel",
  "Haddad",
  "Rossi",
  "Sato",
  "García",
  "Okafor",
]
const CITIES: ReadonlyArray<[string, string, string]> = [
  ["San Francisco", "CA", "94111"],
  ["Austin", "TX", "78701"],
  ["Brooklyn", "NY", "11201"],
  ["Portland", "OR", "97205"],
]
const FAIL_CODES = [
  "document_expired",
  "document_unverified_other",
  "selfie_face_mismatch",
  "id_number_mismatch",
  "consent_declined",
  "document_type_not_supported",
]

/** Personal details for a session that passes its checks, drawn from `random`. */
export const makeVerifiedOutputs = (random: Random, record: SessionRecord): VerifiedOutputs => {
  const [city, state, zip] = random.pick(CITIES)
  const wantsIdNumber = record.type === "id_number" || record.options.document?.require_id_number === true
  return {
    address: {
      city,
      country: "US",
      line1: `${100 + random.int(9000)} Market Street`,
      line2: null,
      postal_code: zip,
      state,
    },
    dob: { day: 1 + random.int(28), month: 1 + random.int(12), year: 1950 + random.int(55) },
    email: record.provided_details?.email ?? null,
    first_name: random.pick(FIRST),
    // For us_ssn Stripe collects only the last four digits.
    id_number: wantsIdNumber ? String(1000 + random.int(9000)) : null,
    id_number_type: wantsIdNumber ? "us_ssn" : null,
    last_name: random.pick(LAST),
    phone: record.provided_details?.phone ?? null,
    sex: null,
  }
}

/** A new session record with Stripe's defaults. */
export const emptyRecord = (type: SessionRecord["type"]): SessionRecord => ({
  type,
  client_reference_id: null,
  metadata: {},
  options: {},
  provided_details: null,
  related_customer: null,
  related_customer_account: null,
  related_person: null,
  verification_flow: null,
  return_url: null,
  last_error: null,
  report: null,
  report_created: null,
  verified_outputs: null,
  attempts: 0,
})

/** Parameters of one bulk generation, enough to regenerate any of its sessions. */
export interface Batch {
  readonly seed: number
  /** Index of the batch's first session in the session table. */
  readonly start: number
  readonly count: number
  /** Simulator time when the batch was generated: no generated step is later. */
  readonly until: number
  /** Index of the batch's first verification report; each session owns `REPORTS_PER_SESSION`. */
  readonly reportStart: number
}

/** Report indices reserved per generated session (at most two checks per generated history). */
export const REPORTS_PER_SESSION = 2

/** One step of a generated history: the event it emitted, when, and the state right after. */
export interface GeneratedStep {
  readonly type: EventType
  readonly at: number
  readonly state: SessionState
}

type Plan = ReadonlyArray<"submit" | "pass" | "fail" | "cancel" | "redact" | "finish_redaction">

// Weighted shapes of a session's life; every one is legal under the transition table.
const SHAPES: ReadonlyArray<readonly [number, Plan]> = [
  [15, []],
  [10, ["cancel"]],
  [5, ["submit"]],
  [43, ["submit", "pass"]],
  [10, ["submit", "fail"]],
  [10, ["submit", "fail", "submit", "pass"]],
  [4, ["submit", "pass", "redact", "finish_redaction"]],
  [3, ["redact", "finish_redaction"]],
]
const TOTAL = SHAPES.reduce((n, [w]) => n + w, 0)

/** The client reference a generated session carries: about three sessions per user. */
export const generatedClientReference = (batch: Batch, random: Random): string =>
  `user_${batch.seed}_${random.int(Math.max(1, Math.ceil(batch.count / 3)))}`

/** A generated session's life: the steps that emitted events, and its state at the end. */
export interface GeneratedHistory {
  readonly steps: ReadonlyArray<GeneratedStep>
  readonly state: SessionState
}

/**
 * Regenerates session `index` of `batch`, created at `created`: the steps it went through, each
 * with its state (the first step is creation), and where it ended.
 */
export const generateHistory = (batch: Batch, index: number, created: number): GeneratedHistory => {
  const random = makeRandom(hash32(batch.seed, index))
  const record: SessionRecord = emptyRecord(random.chance(0.8) ? "document" : "id_number")
  record.client_reference_id = generatedClientReference(batch, random)
  if (random.chance(0.5)) record.related_customer = `cus_sim${random.int(Math.max(1, batch.count >> 2))}`
  record.metadata = { order: `ord_${index}` }
  if (record.type === "document")
    record.options = {
      document: random.chance(0.5)
        ? { allowed_types: ["passport", "driving_license"], require_matching_selfie: true }
        : { require_live_capture: true },
    }
  let roll = random.int(TOTAL)
  let plan: Plan = []
  for (const [w, shape] of SHAPES) {
    if (roll < w) {
      plan = shape
      break
    }
    roll -= w
  }
  let state: SessionState = { status: "requires_input", redaction: null, record }
  let at = created
  const steps: GeneratedStep[] = [{ type: "identity.verification_session.created", at, state }]
  let reports = batch.reportStart + (index - batch.start) * REPORTS_PER_SESSION
  for (const kind of plan) {
    at = Math.min(batch.until, at + 1 + random.int(3600))
    const action =
      kind === "pass"
        ? ({ kind, outputs: makeVerifiedOutputs(random, state.record), report: reports++, now: at } as const)
        : kind === "fail"
          ? (() => {
              const code = random.pick(FAIL_CODES)
              return { kind, code, reason: LAST_ERROR_REASONS[code]!, report: reports++, now: at } as const
            })()
          : ({ kind } as const)
    const t = transition(state, action)
    if (!t.ok) throw new Error(`generated an illegal history: ${kind} ${t.reason}`)
    state = t.state
    for (const type of t.events) steps.push({ type, at, state })
  }
  return { steps, state }
}
