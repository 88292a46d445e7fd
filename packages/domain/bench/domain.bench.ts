/**
 * Domain benchmark (not a test): `pnpm --filter @idtrail/domain bench`.
 *
 * 1. Folding: a legal history of 1,000,000 domain events, produced by the decider itself (many
 *    sessions driven through the lifecycle with `decide` + `fold`), folded through `evolve`, one
 *    state per session, side by side with hand-written `switch` reducers that build an
 *    equivalent plain state (checked equal before timing).
 * 2. Decoding: 100,000 webhook bodies (JSON text of realistic `identity.verification_session.*`
 *    events) through `decodeStripeEvent`, side by side with bare `JSON.parse` of the same text.
 *
 * Each contender is warmed up, then timed in alternation over several rounds; the median round
 * counts. Results are printed and written to `<repoRoot>/bench-results/domain.json`.
 * Target: `evolve` ≥ 0.5× the hand-written (mutable) reducer.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs"
import os from "node:os"
import path from "node:path"
import { Result } from "effect"
import {
  decide,
  decodeStripeEvent,
  evolve,
  initialState,
  isRedacted,
  jsonEqual,
  redactionRank,
  type SessionEvent,
  type SessionFacts,
  type SessionState,
  type VerificationSession,
} from "../src/index.ts"

const EVENT_TARGET = 1_000_000
const WEBHOOKS = 100_000
const ROUNDS = 7
const WARMUP_ROUNDS = 2

// ---------------------------------------------------------------------------------------------
// A legal history, from the decider.

/** A deterministic pseudo-random generator (mulberry32), so every run builds the same history. */
const random = (() => {
  let seed = 20260729
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
})()

const errorCodes = [
  "document_expired",
  "selfie_face_mismatch",
  "document_unverified_other",
  "consent_declined",
]

const snapshot = (n: number, created: number): VerificationSession => ({
  id: `vs_${n.toString(36).padStart(8, "0")}bench`,
  object: "identity.verification_session",
  client_reference_id: `user_${n}`,
  client_secret: `vs_${n}_secret_bench`,
  created,
  last_error: null,
  last_verification_report: null,
  livemode: false,
  metadata: { order_id: `ord_${n}`, tier: n % 3 === 0 ? "gold" : "standard" },
  options: { document: { allowed_types: ["driving_license", "passport"], require_matching_selfie: true } },
  redaction: null,
  related_customer: n % 2 === 0 ? `cus_${n}` : null,
  related_customer_account: null,
  status: "requires_input",
  type: "document",
  url: `https://verify.stripe.com/start/bench${n}`,
})

const webhookTypeOf = (s: VerificationSession): string =>
  s.redaction?.status === "redacted"
    ? "identity.verification_session.redacted"
    : `identity.verification_session.${s.status === "requires_input" && s.last_error === null ? "created" : s.status}`

/** The snapshots Stripe would show over one session's life, each with its time. */
const lifeOf = (n: number): Array<readonly [number, VerificationSession]> => {
  const t0 = 1_722_470_400 + n * 7
  const created = snapshot(n, t0)
  const code = errorCodes[n % errorCodes.length] ?? "document_unverified_other"
  const failed: VerificationSession = {
    ...created,
    status: "requires_input",
    last_error: { code, reason: "The check did not pass." },
    last_verification_report: `vr_${n}_1`,
  }
  const steps: Array<readonly [number, VerificationSession]> = [
    [t0, created],
    [t0 + 60, { ...created, status: "processing" }],
    [t0 + 120, failed],
    [t0 + 130, { ...failed, metadata: { ...failed.metadata, retried: "yes" } }],
  ]
  const retried = steps[3]?.[1] ?? failed
  if (random() < 0.25) {
    steps.push([t0 + 200, { ...retried, status: "canceled", client_secret: null, url: null }])
    return steps
  }
  const verified: VerificationSession = {
    ...retried,
    status: "verified",
    last_error: null,
    last_verification_report: `vr_${n}_2`,
  }
  steps.push(
    [t0 + 200, { ...retried, status: "processing" }],
    [t0 + 260, verified],
    [
      t0 + 270,
      {
        ...verified,
        verified_outputs: {
          address: null,
          email: null,
          first_name: "Jenny",
          id_number_type: null,
          last_name: "Rosen",
          phone: null,
          dob: { day: 1, month: 2, year: 1990 },
        },
      },
    ],
    [t0 + 400, { ...verified, redaction: { status: "processing" } }],
    [t0 + 500, { ...verified, metadata: {}, redaction: { status: "redacted" } }],
  )
  return steps
}

interface History {
  readonly events: Array<SessionEvent>
  /** `events.slice(starts[i], starts[i + 1])` is session i's stream. */
  readonly starts: Array<number>
  /** Every snapshot observed, as webhook bodies would carry it. */
  readonly snapshots: Array<readonly [number, VerificationSession]>
}

const buildHistory = (): History => {
  const events: Array<SessionEvent> = []
  const starts: Array<number> = []
  const snapshots: Array<readonly [number, VerificationSession]> = []
  for (let n = 0; events.length < EVENT_TARGET; n++) {
    starts.push(events.length)
    let state = initialState
    for (const [at, session] of lifeOf(n)) {
      snapshots.push([at, session])
      const decision = decide({ _tag: "Observe", session, source: "api", observedAt: at }, state)
      if (Result.isFailure(decision))
        throw new Error(`the decider refused a legal history: ${decision.failure.message}`)
      for (const event of decision.success) {
        if (events.length === EVENT_TARGET) break
        events.push(event)
        state = evolve(state, event)
      }
    }
  }
  starts.push(events.length)
  return { events, starts, snapshots }
}

// ---------------------------------------------------------------------------------------------
// Hand-written reducers: the same state, without the decider's helpers.

interface PlainState {
  sessionId: string | null
  version: number
  facts: { -readonly [K in keyof SessionFacts]: SessionFacts[K] } | null
  lastChangeAt: number | null
  needsRefresh: boolean
  capturedOutputs: ReadonlyArray<string>
}

const freshPlain = (): PlainState => ({
  sessionId: null,
  version: 0,
  facts: null,
  lastChangeAt: null,
  needsRefresh: false,
  capturedOutputs: [],
})

/** One mutable state per stream, updated in place: what one writes by hand for a projection. */
const applyMutable = (s: PlainState, e: SessionEvent): void => {
  s.version++
  switch (e._tag) {
    case "SessionStarted":
      s.sessionId = e.sessionId
      s.facts = { ...e.facts }
      s.lastChangeAt = e.at
      s.needsRefresh = false
      s.capturedOutputs = []
      return
    case "SessionSubmitted":
      if (s.facts === null) return
      s.facts.status = "processing"
      break
    case "SessionVerified":
      if (s.facts === null) return
      s.facts.status = "verified"
      s.facts.lastVerificationReport = e.lastVerificationReport
      break
    case "VerificationFailed":
      if (s.facts === null) return
      s.facts.status = "requires_input"
      s.facts.lastError = { code: e.code, reason: e.reason }
      s.facts.lastVerificationReport = e.lastVerificationReport
      break
    case "SessionCanceled":
      if (s.facts === null) return
      s.facts.status = "canceled"
      break
    case "SessionUpdated":
      if (s.facts === null) return
      for (const c of e.changes) (s.facts as Record<string, unknown>)[c.field] = c.to
      break
    case "RedactionStarted":
      if (isRedacted(e.redactionStatus)) s.capturedOutputs = []
      if (s.facts === null) return
      s.facts.redactionStatus = e.redactionStatus
      break
    case "SessionRedacted":
      s.capturedOutputs = []
      if (s.facts === null) return
      s.facts.redactionStatus = "redacted"
      break
    case "SessionResynced": {
      const local = s.facts?.redactionStatus ?? null
      const redactionStatus =
        redactionRank(local) > redactionRank(e.remote.redactionStatus) ? local : e.remote.redactionStatus
      s.sessionId = e.sessionId
      s.facts = { ...e.remote, redactionStatus }
      if (isRedacted(redactionStatus)) s.capturedOutputs = []
      break
    }
    case "VerifiedOutputsCaptured":
      s.capturedOutputs = e.fields
      return
    case "RefreshNeeded":
      s.needsRefresh = true
      return
    case "RefreshCompleted":
      s.needsRefresh = false
      break
    default:
      return
  }
  if (s.lastChangeAt === null || e.at > s.lastChangeAt) s.lastChangeAt = e.at
}

/** A new state per event, written out field by field: the immutable style, without spreads of patches. */
const applyImmutable = (s: SessionState, e: SessionEvent): SessionState => {
  const version = s.version + 1
  const later = s.lastChangeAt === null || e.at > s.lastChangeAt ? e.at : s.lastChangeAt
  const f = s.facts
  switch (e._tag) {
    case "SessionStarted":
      return {
        sessionId: e.sessionId,
        version,
        facts: e.facts,
        lastChangeAt: e.at,
        needsRefresh: false,
        capturedOutputs: [],
      }
    case "SessionSubmitted":
      if (f === null) return { ...s, version }
      return { ...s, version, facts: { ...f, status: "processing" }, lastChangeAt: later }
    case "SessionVerified":
      if (f === null) return { ...s, version }
      return {
        ...s,
        version,
        facts: { ...f, status: "verified", lastVerificationReport: e.lastVerificationReport },
        lastChangeAt: later,
      }
    case "VerificationFailed":
      if (f === null) return { ...s, version }
      return {
        ...s,
        version,
        facts: {
          ...f,
          status: "requires_input",
          lastError: { code: e.code, reason: e.reason },
          lastVerificationReport: e.lastVerificationReport,
        },
        lastChangeAt: later,
      }
    case "SessionCanceled":
      if (f === null) return { ...s, version }
      return { ...s, version, facts: { ...f, status: "canceled" }, lastChangeAt: later }
    case "SessionUpdated": {
      if (f === null) return { ...s, version }
      const facts: Record<string, unknown> = { ...f }
      for (const c of e.changes) facts[c.field] = c.to
      return { ...s, version, facts: facts as SessionFacts, lastChangeAt: later }
    }
    case "RedactionStarted":
      return {
        ...s,
        version,
        facts: f === null ? null : { ...f, redactionStatus: e.redactionStatus },
        lastChangeAt: f === null ? s.lastChangeAt : later,
        capturedOutputs: isRedacted(e.redactionStatus) ? [] : s.capturedOutputs,
      }
    case "SessionRedacted":
      return {
        ...s,
        version,
        facts: f === null ? null : { ...f, redactionStatus: "redacted" },
        lastChangeAt: f === null ? s.lastChangeAt : later,
        capturedOutputs: [],
      }
    case "SessionResynced": {
      const local = f?.redactionStatus ?? null
      const redactionStatus =
        redactionRank(local) > redactionRank(e.remote.redactionStatus) ? local : e.remote.redactionStatus
      return {
        ...s,
        sessionId: e.sessionId,
        version,
        facts: { ...e.remote, redactionStatus },
        lastChangeAt: later,
        capturedOutputs: isRedacted(redactionStatus) ? [] : s.capturedOutputs,
      }
    }
    case "VerifiedOutputsCaptured":
      return { ...s, version, capturedOutputs: e.fields }
    case "RefreshNeeded":
      return { ...s, version, needsRefresh: true }
    case "RefreshCompleted":
      return { ...s, version, needsRefresh: false, lastChangeAt: later }
    default:
      return { ...s, version }
  }
}

// ---------------------------------------------------------------------------------------------
// Contenders. Each returns a checksum so the work cannot be optimised away.

type Contender = () => number

const foldWithEvolve =
  ({ events, starts }: History): Contender =>
  () => {
    let sum = 0
    for (let i = 0; i + 1 < starts.length; i++) {
      let state = initialState
      for (let j = starts[i] ?? 0, end = starts[i + 1] ?? 0; j < end; j++)
        state = evolve(state, events[j] as SessionEvent)
      sum += state.version + (state.lastChangeAt ?? 0)
    }
    return sum
  }

const foldMutable =
  ({ events, starts }: History): Contender =>
  () => {
    let sum = 0
    for (let i = 0; i + 1 < starts.length; i++) {
      const state = freshPlain()
      for (let j = starts[i] ?? 0, end = starts[i + 1] ?? 0; j < end; j++)
        applyMutable(state, events[j] as SessionEvent)
      sum += state.version + (state.lastChangeAt ?? 0)
    }
    return sum
  }

const foldImmutable =
  ({ events, starts }: History): Contender =>
  () => {
    let sum = 0
    for (let i = 0; i + 1 < starts.length; i++) {
      let state = initialState
      for (let j = starts[i] ?? 0, end = starts[i + 1] ?? 0; j < end; j++)
        state = applyImmutable(state, events[j] as SessionEvent)
      sum += state.version + (state.lastChangeAt ?? 0)
    }
    return sum
  }

const decodeAll =
  (bodies: ReadonlyArray<string>): Contender =>
  () => {
    let sum = 0
    for (const body of bodies) {
      const result = decodeStripeEvent(body)
      if (Result.isFailure(result))
        throw new Error(`a realistic webhook failed to decode: ${result.failure.message}`)
      sum += "data" in result.success ? result.success.created : 0
    }
    return sum
  }

const parseAll =
  (bodies: ReadonlyArray<string>): Contender =>
  () => {
    let sum = 0
    for (const body of bodies) sum += (JSON.parse(body) as { created: number }).created
    return sum
  }

/** Runs the contenders in alternation; returns each one's median round time in milliseconds. */
const race = (
  contenders: Readonly<Record<string, Contender>>,
): Record<string, { median: number; rounds: number[] }> => {
  const names = Object.keys(contenders)
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]))
  const checks = new Map<string, number>()
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const run = contenders[name] as Contender
      const start = performance.now()
      const check = run()
      const elapsed = performance.now() - start
      if (checks.has(name) && checks.get(name) !== check) throw new Error(`${name} is not deterministic`)
      checks.set(name, check)
      if (round >= WARMUP_ROUNDS) times[name]?.push(elapsed)
    }
  }
  return Object.fromEntries(
    names.map((n) => {
      const rounds = times[n] ?? []
      const sorted = [...rounds].sort((a, b) => a - b)
      return [n, { median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, rounds }]
    }),
  )
}

// ---------------------------------------------------------------------------------------------

const repoRoot = (() => {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir
    if (path.dirname(dir) === dir) throw new Error("cannot locate the repository root (pnpm-workspace.yaml)")
  }
})()

const buildStart = performance.now()
const history = buildHistory()
const buildMs = performance.now() - buildStart
const sessions = history.starts.length - 1
const tally = new Map<string, number>()
for (const e of history.events) tally.set(e._tag, (tally.get(e._tag) ?? 0) + 1)

// The hand-written reducers must build the very state evolve builds, or the race means nothing.
for (let i = 0; i + 1 < history.starts.length; i += 97) {
  const slice = history.events.slice(history.starts[i], history.starts[i + 1])
  // Compared on what the hand-written reducers keep; evolve also keeps `confirmedAt`, the
  // account and the timeline of steps (late steps), which they do not.
  const { confirmedAt: _c, account: _a, timeline: _t, ...byEvolve } = slice.reduce(evolve, initialState)
  const mutable = freshPlain()
  for (const e of slice) applyMutable(mutable, e)
  const {
    confirmedAt: _ci,
    account: _ai,
    timeline: _ti,
    ...immutable
  } = slice.reduce(applyImmutable, initialState)
  if (!jsonEqual(byEvolve, mutable) || !jsonEqual(byEvolve, immutable)) {
    throw new Error(
      `hand-written reducers disagree with evolve on session ${i}: ${JSON.stringify({ byEvolve, mutable })}`,
    )
  }
}

const bodies = history.snapshots.slice(0, WEBHOOKS).map(([at, session], i) =>
  JSON.stringify({
    id: `evt_${i.toString(36).padStart(10, "0")}`,
    object: "event",
    api_version: "2026-07-29.dahlia",
    created: at,
    data: { object: session },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: webhookTypeOf(session),
  }),
)
const averageBytes = Math.round(bodies.reduce((n, b) => n + b.length, 0) / bodies.length)

const folding = race({
  evolve: foldWithEvolve(history),
  "hand-written (mutable)": foldMutable(history),
  "hand-written (immutable)": foldImmutable(history),
})
const decoding = race({ decodeStripeEvent: decodeAll(bodies), "JSON.parse": parseAll(bodies) })

const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms)
const n = history.events.length
const evolveMs = folding.evolve?.median ?? Number.NaN
const mutableMs = folding["hand-written (mutable)"]?.median ?? Number.NaN
const immutableMs = folding["hand-written (immutable)"]?.median ?? Number.NaN
const decodeMs = decoding.decodeStripeEvent?.median ?? Number.NaN
const parseMs = decoding["JSON.parse"]?.median ?? Number.NaN

const evolveVsMutable = mutableMs / evolveMs
const results = {
  node: process.version,
  cpu: os.cpus()[0]?.model ?? "unknown",
  date: new Date().toISOString(),
  rounds: ROUNDS,
  warmupRounds: WARMUP_ROUNDS,
  fold: {
    events: n,
    sessions,
    eventsByType: Object.fromEntries(tally),
    historyBuiltBy: "decide + evolve over Observe commands",
    historyBuildMs: Math.round(buildMs),
    medianMs: { evolve: evolveMs, handWrittenMutable: mutableMs, handWrittenImmutable: immutableMs },
    eventsPerSecond: {
      evolve: perSecond(n, evolveMs),
      handWrittenMutable: perSecond(n, mutableMs),
      handWrittenImmutable: perSecond(n, immutableMs),
    },
    ratio: {
      evolveOverHandWritten: evolveVsMutable,
      evolveOverHandWrittenImmutable: immutableMs / evolveMs,
    },
    target: { evolveOverHandWritten: 0.5, met: evolveVsMutable >= 0.5 },
  },
  decode: {
    payloads: bodies.length,
    averageBytes,
    medianMs: { decodeStripeEvent: decodeMs, jsonParse: parseMs },
    eventsPerSecond: {
      decodeStripeEvent: perSecond(bodies.length, decodeMs),
      jsonParse: perSecond(bodies.length, parseMs),
    },
    ratio: { decodeOverJsonParse: parseMs / decodeMs },
  },
}

const fmt = (x: number) => x.toLocaleString("en-US", { maximumFractionDigits: 0 })
const row = (cells: ReadonlyArray<string>) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(34) : c.padStart(14))).join(" | ")} |`
console.log(
  `\n@idtrail/domain benchmark — Node ${process.version}, ${results.cpu}, median of ${ROUNDS} rounds after ${WARMUP_ROUNDS} warm-up\n`,
)
console.log(
  `fold: ${fmt(n)} events over ${fmt(sessions)} sessions (history built by the decider in ${fmt(buildMs)} ms)`,
)
console.log(row(["contender", "median ms", "events/s", "× hand-written"]))
console.log(row(["-".repeat(34), "-".repeat(14), "-".repeat(14), "-".repeat(14)]))
for (const [name, ms] of [
  ["evolve", evolveMs],
  ["hand-written switch (mutable)", mutableMs],
  ["hand-written switch (immutable)", immutableMs],
] as const) {
  console.log(row([name, ms.toFixed(1), fmt(perSecond(n, ms)), (mutableMs / ms).toFixed(2)]))
}
console.log(
  `\nevolve ÷ hand-written = ${evolveVsMutable.toFixed(2)} (target ≥ 0.50: ${results.fold.target.met ? "met" : "NOT met"}); ` +
    `evolve ÷ hand-written immutable = ${(immutableMs / evolveMs).toFixed(2)}\n`,
)
console.log(`decode: ${fmt(bodies.length)} webhook bodies, ${fmt(averageBytes)} bytes on average`)
console.log(row(["contender", "median ms", "events/s", "× JSON.parse"]))
console.log(row(["-".repeat(34), "-".repeat(14), "-".repeat(14), "-".repeat(14)]))
for (const [name, ms] of [
  ["decodeStripeEvent (text)", decodeMs],
  ["JSON.parse", parseMs],
] as const) {
  console.log(row([name, ms.toFixed(1), fmt(perSecond(bodies.length, ms)), (parseMs / ms).toFixed(3)]))
}
console.log(
  `\ndecode ÷ JSON.parse = ${(parseMs / decodeMs).toFixed(3)} (decoding costs ${(decodeMs / parseMs).toFixed(1)}× a bare parse)`,
)

const outDir = path.join(repoRoot, "bench-results")
mkdirSync(outDir, { recursive: true })
writeFileSync(path.join(outDir, "domain.json"), `${JSON.stringify(results, null, 2)}\n`)
console.log(`\nwritten to ${path.relative(process.cwd(), path.join(outDir, "domain.json"))}`)
