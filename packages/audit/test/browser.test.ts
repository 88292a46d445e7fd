/**
 * A real browser (Debian's chromium, driven by playwright-core; never a downloaded one) opens the
 * generated report file and the served page: the charts render with the report's numbers, the
 * session search works, a session's timeline opens from its link, merchant text stays text, and
 * nothing is logged as an error. Screenshots go to `bench-results/audit/` (git-ignored).
 *
 * Without /usr/bin/chromium this test fails (it does not skip): `scripts/ensure-chromium.sh`
 * installs it, and `.ci/run` calls that script.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { EventStore, type PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Effect } from "effect"
import { type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AuditReportData, auditViews, reportData } from "../src/index.ts"
import { day, deliver, monthStart, planMonth, runReports, xssValue } from "./month.ts"

const executablePath = "/usr/bin/chromium"
const output = new URL("../../../bench-results/audit/", import.meta.url).pathname
const window = { from: new Date(monthStart * 1000), to: new Date((monthStart + 45 * day) * 1000) }

describe("the report and the served page in a real browser", () => {
  let store: PromiseStore & { dispose: () => Promise<void> }
  let browser: BrowserContext
  let profile: string
  let data: AuditReportData
  let server: { url: string; close: () => Promise<void> }
  const reportFile = join(output, "report.html")

  beforeAll(async () => {
    if (!existsSync(executablePath))
      throw new Error(
        `${executablePath} is missing: run scripts/ensure-chromium.sh (apt-get install chromium)`,
      )
    mkdirSync(output, { recursive: true })
    store = await openTemporaryStore({ databaseUrl: process.env.DATABASE_URL })
    await deliver(store, planMonth(60, 7))
    for (const r of runReports) await store.runState.recordRun(r)
    const views = auditViews(store)
    data = await views.writeReport(window, reportFile)
    server = await views.serve({ port: 0 })
    profile = mkdtempSync(join(tmpdir(), "idtrail-chromium-"))
    browser = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1200, height: 900 },
    })
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await store?.dispose()
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
  })

  /** Opens a page, recording what it logs as an error and any dialog (a script that ran). */
  const open = async (url: string) => {
    const page = await browser.newPage()
    const problems: Array<string> = []
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`)
    })
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
    page.on("dialog", (d) => {
      problems.push(`dialog: ${d.message()}`)
      void d.dismiss()
    })
    page.on("request", (r) => {
      if (!r.url().startsWith(url.split("?")[0]!.replace(/report\.html$/, "")))
        problems.push(`request: ${r.url()}`)
    })
    await page.goto(url)
    return { page, problems }
  }

  const barValues = (page: Page, chart: string) =>
    page.$$eval(`#${chart} g.bar`, (bars) =>
      bars.map((b) => [b.getAttribute("data-label"), Number(b.getAttribute("data-value"))]),
    )

  const checkPage = async (url: string, name: string) => {
    const { page, problems } = await open(url)
    // The charts render, with the report's numbers.
    expect(await barValues(page, "chart-funnel")).toEqual([
      ["created", data.funnel.created],
      ["submitted", data.funnel.submitted],
      ["verified", data.funnel.verified],
      ["failed a check", data.funnel.failed],
      ["canceled", data.funnel.canceled],
    ])
    expect(await barValues(page, "chart-status")).toEqual(
      data.sessionStatuses.map((s) => [s.status, s.sessions]),
    )
    expect((await barValues(page, "chart-ttv")).map(([, v]) => v)).toEqual(
      data.histogram.map((b) => b.sessions),
    )
    expect(await page.locator("#chart-runs g.bar").count()).toBe(data.runs.length)
    const segments = await page.$$eval("#chart-failures rect.segment", (r) =>
      r.reduce((sum, e) => sum + Number(e.getAttribute("data-value")), 0),
    )
    expect(segments).toBe(data.failureReasons.reduce((a, f) => a + f.count, 0))
    // Drawn, not only present: the funnel's first bar has a width on screen.
    expect((await page.locator("#chart-funnel rect").first().boundingBox())?.width).toBeGreaterThan(50)
    await page.screenshot({ path: join(output, `${name}.png`), fullPage: false })

    // Merchant text stayed text: nothing ran, no element came from it.
    expect(await page.title()).not.toBe("pwned")
    expect(await page.locator('img[src="x"]').count()).toBe(0)
    const xssRow = page.locator("#session-table tbody tr", { hasText: "onerror" }).first()
    expect(await xssRow.locator("td").last().textContent()).toBe(`note=${xssValue}`)

    // The search narrows the table to what matches, and says how many.
    const rows = page.locator("#session-table tbody tr:visible")
    expect(await rows.count()).toBe(data.sessions.length)
    const target = data.sessions[Math.floor(data.sessions.length / 2)]!
    await page.fill("#session-search", target.row.sessionId)
    expect(await rows.count()).toBe(1)
    expect(await page.locator("#session-count").textContent()).toBe("1 shown")
    await page.fill("#session-search", "document_expired")
    expect(await rows.count()).toBe(
      data.sessions.filter((s) => s.row.lastErrorCode === "document_expired").length,
    )
    await page.fill("#session-search", target.row.sessionId)

    // Its link opens its timeline, one row per event.
    await page.click(`#session-table a:text-is("${target.row.sessionId}")`)
    const timeline = page.locator(".timeline:target")
    expect(await timeline.isVisible()).toBe(true)
    expect(await timeline.locator("tbody tr").count()).toBe(target.timeline.length)
    await page.screenshot({ path: join(output, `${name}-timeline.png`) })
    expect(problems).toEqual([])
    await page.close()
  }

  it("the report file", async () => {
    await checkPage(pathToFileURL(reportFile).href, "report")
  })

  it("the served page, for the same window, live", async () => {
    await checkPage(`${server.url}?from=2026-10-01&to=2026-11-15`, "served")
  })

  it("the served page follows the database: a new session shows up on the next load", async () => {
    const before = await Effect.runPromise(
      Effect.provideService(reportData(window), EventStore, store.service),
    )
    await deliver(store, [{ ...planMonth(1, 99)[0]!, id: "vs_month_late" }])
    const { page, problems } = await open(`${server.url}?from=2026-10-01&to=2026-11-15`)
    expect((await barValues(page, "chart-funnel"))[0]).toEqual(["created", before.funnel.created + 1])
    expect(await page.locator('#session-table tr[data-session-id="vs_month_late"]').count()).toBe(1)
    expect(problems).toEqual([])
    await page.close()
  })
})
