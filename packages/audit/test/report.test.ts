/**
 * The report's numbers, over a generated month: equal to the store's audit queries for the same
 * window, and to an independent computation over the generator's plans; the HTML shows those
 * numbers and escapes merchant text.
 */
import { EventStore, type PromiseStore, type TimeWindow } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AuditReportData, histogramEdges, renderReportHtml, reportData } from "../src/index.ts"
import { day, deliver, expectedFigures, monthStart, planMonth, runReports, xssValue } from "./month.ts"

const at = (d: number) => new Date((monthStart + d * day) * 1000)
const windows: ReadonlyArray<TimeWindow> = [
  { from: at(0), to: at(45) },
  { from: at(4), to: at(11) },
  { from: at(18), to: at(30) },
]
const asMap = <T>(rows: ReadonlyArray<T>, key: (t: T) => string, value: (t: T) => number) =>
  new Map(rows.map((r) => [key(r), value(r)]))

describe("the audit report over a generated month", () => {
  let store: PromiseStore & { dispose: () => Promise<void> }
  const plans = planMonth(180)
  const read = (w: TimeWindow, maxSessions?: number) =>
    Effect.runPromise(Effect.provideService(reportData(w, { maxSessions }), EventStore, store.service))

  beforeAll(async () => {
    store = await openTemporaryStore({ databaseUrl: process.env.DATABASE_URL })
    await deliver(store, plans)
    for (const r of runReports) await store.runState.recordRun(r)
  }, 120_000)
  afterAll(async () => {
    await store?.dispose()
  })

  it("the month has every kind of history the report shows", () => {
    const all = expectedFigures(plans, windows[0]!, histogramEdges)
    expect([...all.sessionStatuses.keys()].sort()).toEqual([
      "canceled",
      "processing",
      "requires_input",
      "verified",
    ])
    expect(all.timeToVerified.transitionTimeUnknown).toBeGreaterThan(0)
    expect(all.failureReasons.size).toBeGreaterThan(2)
    expect(plans.some((p) => p.metadata.note === xssValue)).toBe(true)
  })

  it.each(windows.map((w, i) => [i, w] as const))(
    "window %i: the report's numbers equal the audit queries'",
    async (_, w) => {
      const data = await read(w)
      expect(data.timeToVerified).toEqual(await store.audit.timeToVerified(w))
      expect(data.failureReasons).toEqual(await store.audit.failureReasons(w))
      expect(data.transitions).toEqual(await store.audit.transitions(w))
      expect(data.redactions).toEqual(await store.audit.redactions())
      expect(data.funnel).toEqual(await store.audit.funnel(w))
      // The histogram counts exactly the sessions the percentiles measure.
      expect(data.histogram.reduce((a, b) => a + b.sessions, 0)).toBe(data.timeToVerified.sessions)
    },
  )

  it.each(windows.map((w, i) => [i, w] as const))(
    "window %i: the report's numbers equal an independent computation over the plans",
    async (_, w) => {
      const data = await read(w)
      const truth = expectedFigures(plans, w, histogramEdges)
      expect(
        asMap(
          data.sessionStatuses,
          (s) => s.status,
          (s) => s.sessions,
        ),
      ).toEqual(truth.sessionStatuses)
      expect(
        asMap(
          data.sessionTypes,
          (s) => s.kind!,
          (s) => s.count,
        ),
      ).toEqual(truth.sessionTypes)
      expect(data.funnel).toEqual(truth.funnel)
      expect(data.timeToVerified.sessions).toBe(truth.timeToVerified.sessions)
      expect(data.timeToVerified.transitionTimeUnknown).toBe(truth.timeToVerified.transitionTimeUnknown)
      for (const p of ["p50", "p90", "p99"] as const) {
        if (truth.timeToVerified[p] === null) expect(data.timeToVerified[p]).toBeNull()
        else expect(data.timeToVerified[p]).toBeCloseTo(truth.timeToVerified[p]!, 6)
      }
      expect(data.histogram.map((b) => b.sessions)).toEqual(truth.histogram)
      expect(
        asMap(
          data.failureReasons,
          (f) => f.code!,
          (f) => f.count,
        ),
      ).toEqual(truth.failureReasons)
      expect(
        asMap(
          data.failuresByDay,
          (f) => `${f.day} ${f.code}`,
          (f) => f.count,
        ),
      ).toEqual(truth.failuresByDay)
      expect(data.runs.map((r) => r.runId)).toEqual(truth.runs)
      expect(data.sessions.map((s) => s.row.sessionId)).toEqual(truth.sessions)
    },
  )

  it("each listed session carries its whole timeline, in version order", async () => {
    const data = await read(windows[1]!)
    for (const s of data.sessions) {
      const history = await store.readStream(s.row.sessionId)
      expect(s.timeline.map((e) => [e.version, e.type])).toEqual(
        history.map((e) => [e.streamVersion, e.event._tag]),
      )
    }
  })

  it("lists at most maxSessions sessions, over several pages, while the counts cover them all", async () => {
    const all = await read(windows[0]!)
    const some = await read(windows[0]!, 7)
    expect(some.sessions.map((s) => s.row.sessionId)).toEqual(
      all.sessions.slice(0, 7).map((s) => s.row.sessionId),
    )
    expect(some.funnel).toEqual(all.funnel)
    await expect(read(windows[0]!, -1)).rejects.toMatchObject({
      _tag: "InvalidArgument",
      argument: "maxSessions",
    })
  })

  it("a backwards window is refused before anything is read", async () => {
    await expect(read({ from: at(10), to: at(2) })).rejects.toMatchObject({ _tag: "InvalidArgument" })
  })

  describe("the HTML", () => {
    let data: AuditReportData
    let html: string
    beforeAll(async () => {
      data = await read(windows[0]!)
      html = renderReportHtml(data)
    })
    const values = (chart: string) => {
      const svg = html.slice(
        html.indexOf(`<svg id="${chart}"`),
        html.indexOf("</svg>", html.indexOf(`<svg id="${chart}"`)),
      )
      return [...svg.matchAll(/class="bar" data-label="([^"]*)" data-value="(\d+)"/g)].map((m) => [
        m[1],
        Number(m[2]),
      ])
    }

    it("its charts carry the report's numbers", () => {
      expect(values("chart-funnel")).toEqual([
        ["created", data.funnel.created],
        ["submitted", data.funnel.submitted],
        ["verified", data.funnel.verified],
        ["failed a check", data.funnel.failed],
        ["canceled", data.funnel.canceled],
      ])
      expect(values("chart-status")).toEqual(data.sessionStatuses.map((s) => [s.status, s.sessions]))
      expect(values("chart-ttv").map(([, v]) => v)).toEqual(data.histogram.map((b) => b.sessions))
      expect(html).toContain(`<dd id="ttv-unknown">${data.timeToVerified.transitionTimeUnknown}</dd>`)
    })

    it("escapes merchant metadata: an XSS-shaped value is shown as text", () => {
      expect(html).not.toContain(xssValue)
      expect(html).not.toContain("<img src=x")
      expect(html).toContain("&lt;img src=x onerror=&quot;document.title=&#39;pwned&#39;&quot;&gt;")
      // The one script is the page's own search.
      expect(html.match(/<script>/g)).toHaveLength(1)
    })

    it("is self-contained: nothing is fetched from anywhere", () => {
      expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//)
      expect(html).not.toMatch(/@import|url\(/)
      expect(html).toContain(`http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;`)
    })
  })
})
