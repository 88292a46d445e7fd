/** The command's output pieces: log lines, progress, `--every`'s durations. */
import { Duration, Effect, Exit } from "effect"
import { describe, expect, it } from "vitest"
import { parseEvery } from "../src/config.ts"
import { makeLog } from "../src/log.ts"
import { describeProgress, formatSeconds, makeProgress } from "../src/progress.ts"
import type { Progress } from "../src/report.ts"

const at = new Date("2026-12-04T10:20:30.000Z")
const page = (examined: number): Progress => ({
  phase: "sweep",
  pages: Math.ceil(examined / 100),
  examined,
  repaired: 2,
  started: examined - 2,
  errors: 0,
})

describe("log lines", () => {
  it("are one JSON object a line off a terminal: timestamp, level, message, then the fields", () => {
    const lines: Array<string> = []
    makeLog(
      true,
      (l) => lines.push(l),
      () => at,
    )("warn", 'a "quoted" word', { pages: 2 })
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!)).toEqual({
      timestamp: "2026-12-04T10:20:30.000Z",
      level: "warn",
      message: 'a "quoted" word',
      pages: 2,
    })
  })

  it("are short human lines on a terminal (the level only when not info)", () => {
    const lines: Array<string> = []
    const log = makeLog(
      false,
      (l) => lines.push(l),
      () => at,
    )
    log("info", "store: embedded PGlite in memory", { schema: "idtrail" })
    log("error", "the run ended early", { tag: "RunInProgress" })
    expect(lines).toEqual([
      "10:20:30 store: embedded PGlite in memory schema=idtrail",
      "10:20:30 ERROR the run ended early tag=RunInProgress",
    ])
  })
})

describe("progress", () => {
  it("says done of the estimated total, the rate and the time left", () => {
    const d = describeProgress(page(400), 1000, 2000)
    expect(d).toMatchObject({ total: 1000, rate: 200, secondsLeft: 3 })
    expect(d.text).toBe(
      "sweep: 400 of ~1,000 sessions (40 %), 200/s, about 3 s left · 398 recorded, 2 repaired, 0 errors",
    )
  })

  it("grows an estimate the run has passed, and leaves out what is unknown", () => {
    expect(describeProgress(page(1200), 1000, 1000)).toMatchObject({ total: 1200, secondsLeft: 0 })
    expect(describeProgress(page(100), null, 1000).text).toBe(
      "sweep: 100 sessions, 100/s · 98 recorded, 2 repaired, 0 errors",
    )
  })

  it("formats durations as a person reads them", () => {
    expect([formatSeconds(12), formatSeconds(200), formatSeconds(3900)]).toEqual([
      "12 s",
      "3 min 20 s",
      "1 h 5 min",
    ])
  })

  it("on a terminal rewrites one line in place and clears it when done; nothing goes to the log", () => {
    const written: Array<string> = []
    const logged: Array<string> = []
    let now = 0
    const view = makeProgress({
      tty: true,
      write: (t) => written.push(t),
      log: (_level, message) => logged.push(message),
      now: () => now,
    })
    view.estimate(300)
    now = 1000
    view.update(page(100))
    view.done()
    expect(written).toEqual([
      "\r\x1b[Ksweep: 100 of ~300 sessions (33 %), 100/s, about 2 s left · 98 recorded, 2 repaired, 0 errors",
      "\r\x1b[K",
    ])
    expect(logged).toEqual([])
  })

  it("off a terminal logs the plain line after every page, the figures as fields", () => {
    const logged: Array<{ message: string; fields: unknown }> = []
    const view = makeProgress({
      tty: false,
      write: () => expect.unreachable(),
      log: (_level, message, fields) => logged.push({ message, fields }),
      now: () => 0,
    })
    view.update(page(120))
    view.done()
    expect(logged).toEqual([
      {
        message: "sweep: 2 pages, 120 sessions compared, 118 missing locally, 2 repaired, 0 errors",
        fields: expect.objectContaining({ examined: 120, estimatedTotal: null }),
      },
    ])
  })
})

describe("--every", () => {
  it.each([
    ["30s", 30_000],
    ["10m", 600_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
  ])("%s is %d ms", (raw, ms) => {
    const exit = Effect.runSyncExit(parseEvery(raw))
    expect(Exit.isSuccess(exit) && exit.value !== undefined && Duration.toMillis(exit.value)).toBe(ms)
  })

  it.each(["0s", "10", "ten minutes", "5w", "-1m"])("%j is refused as InvalidConfig", (raw) => {
    const exit = Effect.runSyncExit(parseEvery(raw))
    expect(exit).toMatchObject({ _tag: "Failure" })
    expect(JSON.stringify(exit)).toMatch(/--every must be a duration of at least 1s/)
  })
})
