/**
 * A generated month of session histories for the audit package's tests: each session's life at
 * Stripe is planned first (statuses and their Stripe times, failure codes, redactions, merchant
 * metadata, some XSS-shaped), then delivered to a store as webhooks and reconciler reads. The
 * expected figures are computed from the plans alone, never from what the store wrote.
 */
import type { SessionCommand } from "@idtrail/domain"
import type { PromiseStore, RunReport, TimeWindow } from "@idtrail/store"
import { observation, snapshot } from "../../store/test/fixtures.ts"

export const monthStart = Date.UTC(2026, 9, 1) / 1000
export const day = 86_400

/** A value a merchant could put in metadata, that an unescaped page would run. */
export const xssValue = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>"'&`

const codes = ["document_expired", "selfie_face_mismatch", "document_unverified_other", "consent_declined"]

/** A deterministic PRNG (xorshift32), so every run plans the same month. */
const random = (seed: number) => () => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 4_294_967_296
}

/** One status (or redaction) step of a session at Stripe. */
export interface Step {
  readonly status: "requires_input" | "processing" | "verified" | "canceled"
  readonly at: number
  readonly code?: string | undefined
  readonly redaction?: "processing" | "redacted" | undefined
}

/** One session's planned life. */
export interface Plan {
  readonly id: string
  readonly created: number
  readonly type: "document" | "id_number"
  readonly metadata: Record<string, string>
  readonly steps: ReadonlyArray<Step>
  /** First seen by a reconciler read, already in its last status (its history begins mid-life). */
  readonly firstSeenByRead: boolean
}

/** Plans `count` sessions created over 28 days of October 2026. */
export const planMonth = (count: number, seed = 2026_10): ReadonlyArray<Plan> => {
  const next = random(seed)
  return Array.from({ length: count }, (_, i) => {
    const created = monthStart + Math.floor(next() * 28 * day)
    let at = created
    const later = () => (at += 30 + Math.floor(next() * 8 * 3600))
    const steps: Array<Step> = [{ status: "requires_input", at: created }]
    const failOnce = () => {
      steps.push({ status: "processing", at: later() })
      steps.push({ status: "requires_input", at: later(), code: codes[Math.floor(next() * codes.length)] })
    }
    const path = next()
    if (path < 0.5) {
      if (next() < 0.3) failOnce()
      steps.push({ status: "processing", at: later() }, { status: "verified", at: later() })
    } else if (path < 0.65) {
      failOnce()
      steps.push({ status: "canceled", at: later() })
    } else if (path < 0.75) steps.push({ status: "canceled", at: later() })
    else if (path < 0.85) steps.push({ status: "processing", at: later() })
    else if (path < 0.93) failOnce()
    const last = steps[steps.length - 1]!
    if ((last.status === "verified" || last.status === "canceled") && next() < 0.2) {
      steps.push({ ...last, at: later(), code: undefined, redaction: "processing" })
      if (next() < 0.5) steps.push({ ...last, at: later(), code: undefined, redaction: "redacted" })
    }
    const metadata: Record<string, string> = i % 17 === 3 ? { note: xssValue } : { order: `ord_${i}` }
    return {
      id: `vs_month_${String(i).padStart(4, "0")}`,
      created,
      type: next() < 0.7 ? "document" : "id_number",
      metadata,
      steps,
      // A few verified sessions the webhooks never reached: a sweep read them already verified.
      firstSeenByRead: last.status === "verified" && steps.length === 3 && i % 9 === 0,
    }
  })
}

const commandOf = (p: Plan, s: Step, k: number): SessionCommand => {
  const session = snapshot(p.id, s.status, {
    created: p.created,
    type: p.type,
    metadata: p.metadata,
    last_error: s.code === undefined ? null : { code: s.code, reason: `because ${s.code}` },
    redaction: s.redaction === undefined ? null : { status: s.redaction },
  })
  return p.firstSeenByRead
    ? observation(session, s.at, "reconciler")
    : observation(session, s.at, "webhook", `evt_${p.id}_${k}`)
}

/**
 * Delivers each session's steps in Stripe-time order, some webhooks twice (Stripe retries);
 * sessions side by side, as at Stripe (their appends share commits).
 */
export const deliver = async (store: PromiseStore, plans: ReadonlyArray<Plan>): Promise<void> => {
  const one = async (p: Plan) => {
    const actor = p.firstSeenByRead
      ? { kind: "reconciler" as const, id: "recon_month" }
      : { kind: "service" as const, id: "webhooks" }
    const steps = p.firstSeenByRead ? [p.steps[p.steps.length - 1]!] : p.steps
    for (const [k, s] of steps.entries())
      for (let n = 0; n < (k % 4 === 1 ? 2 : 1); n++) await store.handle(p.id, commandOf(p, s, k), { actor })
  }
  await Promise.all(plans.map(one))
}

/** Three reconciler runs' reports, dated in the month. */
export const runReports: ReadonlyArray<RunReport> = [3, 11, 40].map((d, i) => ({
  runId: `recon_month_${i}`,
  account: "default",
  mode: i === 1 ? "incremental" : "sweep",
  dryRun: false,
  startedAt: new Date((monthStart + d * day) * 1000).toISOString(),
  finishedAt: new Date((monthStart + d * day + 90) * 1000).toISOString(),
  complete: i !== 1,
  stoppedBy: i === 1 ? "interrupted" : null,
  examined: 100 + i,
  started: 2 * i,
  repaired: 3 + i,
  unchanged: 95,
  missingRemotelyCount: i,
  quarantinedCount: 0,
  errors: [],
  eventsByType: { SessionStarted: 2 * i },
}))

const inWindow = (at: number, w: TimeWindow) => at * 1000 >= w.from.getTime() && at * 1000 < w.to.getTime()
const tally = <K>(keys: ReadonlyArray<K>) => {
  const m = new Map<K, number>()
  for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1)
  return m
}

/** The percentile `percentile_cont` computes (linear interpolation). */
export const percentile = (sorted: ReadonlyArray<number>, p: number): number | null => {
  if (sorted.length === 0) return null
  const pos = p * (sorted.length - 1)
  const lo = sorted[Math.floor(pos)]!
  return lo + (sorted[Math.ceil(pos)]! - lo) * (pos - Math.floor(pos))
}

/** The report's figures for a window, computed from the plans alone. */
export const expectedFigures = (plans: ReadonlyArray<Plan>, w: TimeWindow, edges: ReadonlyArray<number>) => {
  const created = plans.filter((p) => inWindow(p.created, w))
  const lastStatus = (p: Plan) => p.steps[p.steps.length - 1]!.status
  const reached = (p: Plan, status: Step["status"]) =>
    p.firstSeenByRead ? lastStatus(p) === status : p.steps.some((s) => s.status === status)
  const verifiedAt = (p: Plan) =>
    p.steps.find((s) => s.status === "verified" && s.redaction === undefined)?.at
  const verified = plans.filter((p) => verifiedAt(p) !== undefined && inWindow(verifiedAt(p)!, w))
  const seconds = verified
    .filter((p) => !p.firstSeenByRead)
    .map((p) => verifiedAt(p)! - p.created)
    .sort((a, b) => a - b)
  const failures = plans.flatMap((p) => p.steps.filter((s) => s.code !== undefined && inWindow(s.at, w)))
  return {
    sessionStatuses: tally(created.map(lastStatus)),
    sessionTypes: tally(created.map((p) => p.type)),
    funnel: {
      created: created.length,
      submitted: created.filter((p) => reached(p, "processing") || reached(p, "verified")).length,
      verified: created.filter((p) => reached(p, "verified")).length,
      failed: created.filter((p) => p.steps.some((s) => s.code !== undefined)).length,
      canceled: created.filter((p) => reached(p, "canceled")).length,
    },
    timeToVerified: {
      sessions: seconds.length,
      transitionTimeUnknown: verified.length - seconds.length,
      p50: percentile(seconds, 0.5),
      p90: percentile(seconds, 0.9),
      p99: percentile(seconds, 0.99),
    },
    histogram: edges.map(
      (from, i) => seconds.filter((s) => s >= from && (i + 1 >= edges.length || s < edges[i + 1]!)).length,
    ),
    failureReasons: tally(failures.map((s) => s.code!)),
    failuresByDay: tally(
      failures.map((s) => `${new Date(s.at * 1000).toISOString().slice(0, 10)} ${s.code}`),
    ),
    runs: runReports.filter((r) => inWindow(new Date(r.startedAt).getTime() / 1000, w)).map((r) => r.runId),
    sessions: created.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1)).map((p) => p.id),
  }
}
