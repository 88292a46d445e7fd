/**
 * The audit queries against a generated month of legal histories, checked against an
 * independent computation over the generator's own plan (what happened at Stripe), not over
 * anything the store wrote.
 */
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { TimeWindow } from "../src/index.ts"
import { actor, backends, dbOf, observation, openTestStore, snapshot } from "./fixtures.ts"

const monthStart = Date.UTC(2026, 9, 1) / 1000
const day = 86_400
const codes = [
  "document_expired",
  "selfie_face_mismatch",
  "document_unverified_other",
  "consent_declined",
] as const

/** A small deterministic PRNG (mulberry32), so every run generates the same month. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Step {
  readonly status: string
  readonly at: number
  readonly code?: string
  readonly redaction?: "processing" | "redacted"
}
interface Plan {
  readonly id: string
  readonly created: number
  readonly steps: ReadonlyArray<Step>
  readonly redactRequestedAt?: number
}

/** One session's life at Stripe: created, then a legal path, sometimes a redaction. */
const planSession = (i: number, random: () => number): Plan => {
  const id = `vs_month_${String(i).padStart(3, "0")}`
  const created = monthStart + Math.floor(random() * 28 * day)
  let at = created
  const next = () => (at += 60 + Math.floor(random() * 6 * 3600))
  const steps: Array<Step> = [{ status: "requires_input", at: created }]
  const kind = random()
  const fail = () => {
    steps.push({ status: "processing", at: next() })
    steps.push({ status: "requires_input", at: next(), code: codes[Math.floor(random() * codes.length)]! })
  }
  if (kind < 0.45) {
    if (random() < 0.3) fail()
    steps.push({ status: "processing", at: next() })
    steps.push({ status: "verified", at: next() })
  } else if (kind < 0.6) {
    fail()
    steps.push({ status: "canceled", at: next() })
  } else if (kind < 0.7) {
    steps.push({ status: "canceled", at: next() })
  } else if (kind < 0.8) {
    steps.push({ status: "processing", at: next() })
  } else if (kind < 0.9) {
    fail()
  }
  const last = steps[steps.length - 1]!
  const plan: { -readonly [K in keyof Plan]: Plan[K] } = { id, created, steps }
  const r = random()
  if (last.status === "verified" || last.status === "canceled") {
    if (r < 0.2) {
      steps.push({ status: last.status, at: next(), redaction: "processing" })
      if (random() < 0.6) steps.push({ status: last.status, at: next(), redaction: "redacted" })
    }
  }
  if (last.status === "verified" && r >= 0.2 && r < 0.3) plan.redactRequestedAt = next()
  return plan
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number | null => {
  if (sorted.length === 0) return null
  const pos = p * (sorted.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

const inWindow = (at: number, w: TimeWindow) => at * 1000 >= w.from.getTime() && at * 1000 < w.to.getTime()

/** What the audit queries should answer, computed from the plans alone. */
const expected = (plans: ReadonlyArray<Plan>) => ({
  transitions: (w: TimeWindow) => {
    const counts = new Map<string, number>()
    for (const p of plans) {
      let from: string | null = null
      for (const s of p.steps) {
        if (s.redaction !== undefined) continue
        if (inWindow(s.at, w)) counts.set(`${from}>${s.status}`, (counts.get(`${from}>${s.status}`) ?? 0) + 1)
        from = s.status
      }
    }
    return [...counts].map(([k, count]) => {
      const [from, to] = k.split(">")
      return { fromStatus: from === "null" ? null : from!, toStatus: to!, count }
    })
  },
  countsByStatus: () => {
    const counts = new Map<string, number>()
    for (const p of plans) {
      const status = p.steps[p.steps.length - 1]!.status
      counts.set(status, (counts.get(status) ?? 0) + 1)
    }
    return [...counts]
      .map(([status, sessions]) => ({ status, sessions }))
      .sort((a, b) => (a.status < b.status ? -1 : 1))
  },
  failureReasons: (w: TimeWindow) => {
    const counts = new Map<string, number>()
    for (const p of plans)
      for (const s of p.steps)
        if (s.code && inWindow(s.at, w)) counts.set(s.code, (counts.get(s.code) ?? 0) + 1)
    return [...counts].map(([code, count]) => ({ code, count }))
  },
  timeToVerified: (w: TimeWindow) => {
    const seconds = plans
      .flatMap((p) =>
        p.steps.filter((s) => s.status === "verified" && s.redaction === undefined).map((s) => ({ p, s })),
      )
      .filter(({ s }) => inWindow(s.at, w))
      .map(({ p, s }) => s.at - p.created)
      .sort((a, b) => a - b)
    return {
      sessions: seconds.length,
      p50: percentile(seconds, 0.5),
      p90: percentile(seconds, 0.9),
      p99: percentile(seconds, 0.99),
    }
  },
  redactions: () =>
    plans
      .flatMap((p) => {
        const redaction = [...p.steps].reverse().find((s) => s.redaction !== undefined)?.redaction
        if (redaction === "redacted") return [{ sessionId: p.id, redaction: "redacted" }]
        if (redaction === "processing") return [{ sessionId: p.id, redaction: "pending" }]
        if (p.redactRequestedAt !== undefined) return [{ sessionId: p.id, redaction: "requested" }]
        return []
      })
      .sort((a, b) => (a.sessionId < b.sessionId ? -1 : 1)),
  statusAt: (p: Plan, at: number) => [...p.steps].reverse().find((s) => s.at <= at)?.status ?? null,
})

const sortBy = <T>(rows: ReadonlyArray<T>, key: (t: T) => string) =>
  [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1))

describe.each(backends)("audit queries on $name, over a generated month", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  const random = prng(20261001)
  const plans = Array.from({ length: 160 }, (_, i) => planSession(i, random))
  const truth = expected(plans)
  const windows: ReadonlyArray<TimeWindow> = [
    { from: new Date(monthStart * 1000), to: new Date((monthStart + 40 * day) * 1000) },
    { from: new Date((monthStart + 5 * day) * 1000), to: new Date((monthStart + 12 * day) * 1000) },
    { from: new Date((monthStart + 20 * day) * 1000), to: new Date((monthStart + 31 * day) * 1000) },
  ]

  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
    // Sessions progress side by side, as at Stripe: deliver all steps in time order, some twice.
    const deliveries = plans
      .flatMap((p) => [
        ...p.steps.map((s, k) => ({ p, s, k })),
        ...(p.redactRequestedAt === undefined ? [] : [{ p, s: undefined, k: -1 }]),
      ])
      .sort((a, b) => (a.s?.at ?? a.p.redactRequestedAt!) - (b.s?.at ?? b.p.redactRequestedAt!))
    for (const { p, s, k } of deliveries) {
      if (s === undefined) {
        await store.handle(
          p.id,
          { _tag: "RequestRedact", sessionId: p.id, requestedAt: p.redactRequestedAt! },
          { actor },
        )
        continue
      }
      const session = snapshot(p.id, s.status, {
        created: p.created,
        last_error: s.code === undefined ? null : { code: s.code, reason: `because ${s.code}` },
        redaction: s.redaction === undefined ? null : { status: s.redaction },
      })
      const times = k % 3 === 1 ? 2 : 1
      for (let t = 0; t < times; t++) {
        await store.handle(p.id, observation(session, s.at, "webhook", `evt_${p.id}_${k}`), { actor })
      }
    }
  }, 120_000)
  afterAll(async () => {
    await store?.dispose()
  })

  it("the generated month has every kind of history", () => {
    expect(truth.countsByStatus().map((c) => c.status)).toEqual([
      "canceled",
      "processing",
      "requires_input",
      "verified",
    ])
    expect(truth.failureReasons(windows[0]!).length).toBe(codes.length)
    expect(truth.timeToVerified(windows[0]!).sessions).toBeGreaterThan(30)
    expect(new Set(truth.redactions().map((r) => r.redaction))).toEqual(
      new Set(["redacted", "pending", "requested"]),
    )
  })

  it("current counts by status (function and view)", async () => {
    expect(await store.audit.countsByStatus()).toEqual(truth.countsByStatus())
    const view = await sql
      .raw(
        `select status, sessions::int as sessions from "${store.schema}".session_counts_by_status order by status`,
      )
      .execute(dbOf(store))
    expect(view.rows).toEqual(truth.countsByStatus())
  })

  it.each([0, 1, 2])("transitions by status in window %i", async (w) => {
    const window = windows[w]!
    const key = (r: { fromStatus: string | null; toStatus: string }) => `${r.fromStatus}>${r.toStatus}`
    expect(sortBy(await store.audit.transitions(window), key)).toEqual(sortBy(truth.transitions(window), key))
  })

  it.each([0, 1, 2])("failure reasons in window %i", async (w) => {
    const window = windows[w]!
    expect(sortBy(await store.audit.failureReasons(window), (r) => r.code ?? "")).toEqual(
      sortBy(truth.failureReasons(window), (r) => r.code),
    )
  })

  it.each([0, 1, 2])("time from creation to verified (p50/p90/p99) in window %i", async (w) => {
    const window = windows[w]!
    const got = await store.audit.timeToVerified(window)
    const want = truth.timeToVerified(window)
    expect(got.sessions).toBe(want.sessions)
    // Every verified session here was dated by Stripe's own verified event.
    expect(got.transitionTimeUnknown).toBe(0)
    for (const p of ["p50", "p90", "p99"] as const) {
      if (want[p] === null) expect(got[p]).toBeNull()
      else expect(got[p]!).toBeCloseTo(want[p]!, 6)
    }
  })

  it("sessions redacted, pending redaction, or with a redaction requested", async () => {
    const got = (await store.audit.redactions()).map((r) => ({
      sessionId: r.sessionId,
      redaction: r.redaction,
    }))
    expect(got).toEqual(truth.redactions())
    expect(got.length).toBeGreaterThan(0)
  })

  it("a session's state at a given time, on Stripe's clock (function and status-interval view)", async () => {
    for (const p of plans.filter((_, i) => i % 10 === 0)) {
      const last = p.steps[p.steps.length - 1]!.at
      for (const at of [p.created - 1, p.created, Math.floor((p.created + last) / 2), last + 1]) {
        const state = await store.audit.stateAt(p.id, new Date(at * 1000), { clock: "stripe" })
        expect(state.facts?.status ?? null).toBe(truth.statusAt(p, at))
        const view = await sql<{
          status: string
        }>`select status from ${sql.raw(`"${store.schema}".session_status_intervals`)}
          where session_id = ${p.id} and valid_from <= to_timestamp(${at})
            and (valid_until is null or valid_until > to_timestamp(${at}))`.execute(dbOf(store))
        expect(view.rows[0]?.status ?? null).toBe(truth.statusAt(p, at))
      }
    }
  })

  it("a session's history carries source, Stripe event, causation and actor (function and view)", async () => {
    const p = plans.find((x) => x.steps.length >= 3)!
    const history = await store.audit.history(p.id)
    expect(history.length).toBeGreaterThanOrEqual(3)
    expect(history[0]).toMatchObject({
      version: 1,
      type: "SessionStarted",
      source: "webhook",
      stripeEventId: `evt_${p.id}_0`,
      causationId: `evt_${p.id}_0`,
      actor,
    })
    const view = await sql<{ version: string; type: string; stripe_event_id: string; actor_id: string }>`
      select version, type, stripe_event_id, actor_id from ${sql.raw(`"${store.schema}".session_history`)}
      where session_id = ${p.id} order by version`.execute(dbOf(store))
    expect(view.rows.map((r) => [Number(r.version), r.type, r.stripe_event_id, r.actor_id])).toEqual(
      history.map((h) => [h.version, h.type, h.stripeEventId, h.actor.id]),
    )
  })
})

/** How a session's history reached idtrail. */
const deliveries = ["webhooks", "sweep", "fromVerifiedWebhook", "readVerified"] as const
type Delivery = (typeof deliveries)[number]

describe.each(backends)("time to verified on $name, for histories that start mid-life", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  const random = prng(20261105)
  const plans = Array.from({ length: 80 }, (_, i) => planSession(i, random))
  const deliveryOf = (i: number): Delivery => deliveries[i % deliveries.length]!
  // A sweep of the account five weeks after the month began: the first time idtrail hears of its sessions.
  const sweepAt = monthStart + 35 * day
  const readDelay = 600

  /**
   * What Stripe's own events say: a session's transition into verified has a known Stripe time only
   * when Stripe's `identity.verification_session.verified` event reached idtrail; otherwise idtrail
   * knows only when it first saw the session verified (`verifiedAt`, an upper bound).
   */
  const truth = plans.flatMap((p, i) => {
    const verified = p.steps.find((s) => s.status === "verified" && s.redaction === undefined)
    if (verified === undefined) return []
    const delivery = deliveryOf(i)
    const known = delivery === "webhooks" || delivery === "fromVerifiedWebhook"
    const verifiedAt =
      delivery === "sweep" ? sweepAt : delivery === "readVerified" ? verified.at + readDelay : verified.at
    return [{ sessionId: p.id, delivery, known, verifiedAt, seconds: known ? verified.at - p.created : null }]
  })
  const expectedIn = (w: TimeWindow) => {
    const inside = truth.filter((t) => inWindow(t.verifiedAt, w))
    const seconds = inside.flatMap((t) => (t.seconds === null ? [] : [t.seconds])).sort((a, b) => a - b)
    return {
      sessions: seconds.length,
      transitionTimeUnknown: inside.filter((t) => !t.known).length,
      p50: percentile(seconds, 0.5),
      p90: percentile(seconds, 0.9),
      p99: percentile(seconds, 0.99),
    }
  }
  const windows: ReadonlyArray<TimeWindow> = [
    { from: new Date(monthStart * 1000), to: new Date((monthStart + 40 * day) * 1000) },
    { from: new Date(monthStart * 1000), to: new Date((monthStart + 30 * day) * 1000) },
    { from: new Date((monthStart + 10 * day) * 1000), to: new Date((monthStart + 36 * day) * 1000) },
  ]

  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
    const sessionAt = (p: Plan, s: Step) =>
      snapshot(p.id, s.status, {
        created: p.created,
        last_error: s.code === undefined ? null : { code: s.code, reason: `because ${s.code}` },
        redaction: s.redaction === undefined ? null : { status: s.redaction },
      })
    for (const [i, p] of plans.entries()) {
      const webhook = (k: number) =>
        store.handle(
          p.id,
          observation(sessionAt(p, p.steps[k]!), p.steps[k]!.at, "webhook", `evt_${p.id}_${k}`),
          {
            actor,
          },
        )
      const v = p.steps.findIndex((s) => s.status === "verified")
      const last = p.steps.length - 1
      switch (deliveryOf(i)) {
        case "webhooks":
          for (let k = 0; k <= last; k++) await webhook(k)
          break
        case "sweep":
          await store.handle(p.id, observation(sessionAt(p, p.steps[last]!), sweepAt, "reconciler"), {
            actor,
          })
          break
        case "fromVerifiedWebhook":
          for (let k = v === -1 ? last : v; k <= last; k++) await webhook(k)
          break
        case "readVerified":
          for (let k = 0; k < (v === -1 ? last + 1 : v); k++) await webhook(k)
          if (v !== -1)
            await store.handle(
              p.id,
              observation(sessionAt(p, p.steps[v]!), p.steps[v]!.at + readDelay, "api"),
              {
                actor,
              },
            )
      }
    }
  }, 120_000)
  afterAll(async () => {
    await store?.dispose()
  })

  it("the scenario has verified sessions of every delivery, and known times of hours where first sight came weeks later", () => {
    for (const delivery of deliveries) {
      expect(truth.filter((t) => t.delivery === delivery).length).toBeGreaterThan(2)
    }
    const all = expectedIn(windows[0]!)
    expect(all.sessions).toBeGreaterThan(5)
    expect(all.transitionTimeUnknown).toBeGreaterThan(5)
    expect(all.p99!).toBeLessThan(2 * day)
  })

  it("the view marks each verified session's transition time as known (Stripe's event) or not, with seconds only when known", async () => {
    const view = await sql<{
      session_id: string
      verified_at: Date
      seconds: number | null
      verified_at_known: boolean
    }>`
      select session_id, verified_at, seconds, verified_at_known
        from ${sql.raw(`"${store.schema}".session_verification_times`)} order by session_id`.execute(
      dbOf(store),
    )
    expect(
      view.rows.map((r) => ({
        sessionId: r.session_id,
        known: r.verified_at_known,
        verifiedAt: r.verified_at.getTime() / 1000,
        seconds: r.seconds,
      })),
    ).toEqual(truth.map(({ delivery: _, ...t }) => t))
  })

  it.each([0, 1, 2])(
    "percentiles count only known transition times, and say how many were left out, in window %i",
    async (w) => {
      const window = windows[w]!
      const got = await store.audit.timeToVerified(window)
      const want = expectedIn(window)
      expect({ sessions: got.sessions, unknown: got.transitionTimeUnknown }).toEqual({
        sessions: want.sessions,
        unknown: want.transitionTimeUnknown,
      })
      for (const p of ["p50", "p90", "p99"] as const) {
        if (want[p] === null) expect(got[p]).toBeNull()
        else expect(got[p]!).toBeCloseTo(want[p]!, 6)
      }
    },
  )
})
