/**
 * Exports: every column described at the top, exactly the window's rows (checked against the
 * events and sessions read back one by one), CSV that parses back to the same values, formulas
 * defused, pages joined without loss, and writes that fail as `OutputFailed`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { PassThrough, Writable } from "node:stream"
import type { PromiseStore, RecordedEvent, TimeWindow } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { observation, snapshot } from "../../store/test/fixtures.ts"
import { auditViews, csvCell, type ExportOptions, eventColumns, sessionColumns } from "../src/index.ts"
import { day, deliver, monthStart, planMonth } from "./month.ts"

/** RFC 4180 parsing, enough to read the export back. */
const parseCsv = (text: string): Array<Array<string>> => {
  const rows: Array<Array<string>> = []
  let row: Array<string> = []
  let cell = ""
  let quoted = false
  const endCell = () => {
    row.push(cell)
    cell = ""
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted && c === '"' && text[i + 1] === '"') {
      cell += '"'
      i++
    } else if (c === '"') quoted = !quoted
    else if (quoted) cell += c
    else if (c === ",") endCell()
    else if (c === "\n") {
      endCell()
      rows.push(row)
      row = []
    } else cell += c
  }
  return rows
}

/** The log's global order: transaction id, then position. */
const logOrder = (a: RecordedEvent, b: RecordedEvent) =>
  a.transactionId === b.transactionId ? a.position - b.position : a.transactionId < b.transactionId ? -1 : 1

const tricky = { note: 'a, "quoted"\nsecond line', formula: '=HYPERLINK("http://example.invalid","x")' }

describe("exports", () => {
  let store: PromiseStore & { dispose: () => Promise<void> }
  let dir: string
  const plans = planMonth(40, 11)
  const window: TimeWindow = {
    from: new Date((monthStart + 3 * day) * 1000),
    to: new Date((monthStart + 20 * day) * 1000),
  }
  let everything: Array<RecordedEvent>
  const views = () => auditViews(store)
  const exported = async (options: ExportOptions) => {
    const file = join(dir, `${options.rows}-${options.pageSize ?? "all"}.${options.format}`)
    const bytes = await views().writeExportFile(window, options, file)
    const text = readFileSync(file, "utf8")
    expect(Buffer.byteLength(text)).toBe(bytes)
    return text
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "idtrail-export-"))
    store = await openTemporaryStore({ databaseUrl: process.env.DATABASE_URL })
    await deliver(store, plans)
    const created = monthStart + 5 * day
    await store.handle(
      "vs_tricky",
      observation(snapshot("vs_tricky", "requires_input", { created, metadata: tricky }), created),
      {
        actor: { kind: "service", id: "tests" },
      },
    )
    everything = []
    for (const id of [...plans.map((p) => p.id), "vs_tricky"])
      everything.push(...(await store.readStream(id)))
  }, 120_000)
  afterAll(async () => {
    await store?.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  const inWindow = (e: RecordedEvent) =>
    e.event.at * 1000 >= window.from.getTime() && e.event.at * 1000 < window.to.getTime()

  it("CSV of events: described columns, then exactly the window's events, in log order, parsing back to their values", async () => {
    const text = await exported({ rows: "event", format: "csv", pageSize: 7 })
    const lines = text.split("\n")
    expect(lines[0]).toMatch(
      /^# idtrail event export, Stripe time from 2026-10-04T00:00:00.000Z to 2026-10-21T00:00:00.000Z/,
    )
    expect(lines.slice(1, 1 + eventColumns.length)).toEqual(
      eventColumns.map((c) => `# ${c.name}: ${c.description}`),
    )
    const [header, ...rows] = parseCsv(lines.slice(1 + eventColumns.length).join("\n"))
    expect(header).toEqual(eventColumns.map((c) => c.name))
    const expected = everything.filter(inWindow).sort(logOrder)
    expect(rows.map((r) => [Number(r[0]), r[1], r[3]])).toEqual(
      expected.map((e) => [e.position, e.streamId, e.event._tag]),
    )
    const tricky0 = rows.find((r) => r[1] === "vs_tricky")!
    expect(JSON.parse(tricky0[13]!).facts.metadata).toEqual(tricky)
  })

  it("JSONL of events: a first line describing the columns, then one object per event with those keys", async () => {
    const [first, ...rest] = (await exported({ rows: "event", format: "jsonl", pageSize: 5 }))
      .trimEnd()
      .split("\n")
    const head = JSON.parse(first!)
    expect(head).toEqual({
      columns: eventColumns.map(({ name, description }) => ({ name, description })),
      rows: "event",
      window: { from: window.from.toISOString(), to: window.to.toISOString() },
    })
    const rows = rest.map((l) => JSON.parse(l))
    expect(rows.map((r) => r.position)).toEqual(
      everything
        .filter(inWindow)
        .sort(logOrder)
        .map((e) => e.position),
    )
    for (const r of rows) expect(Object.keys(r)).toEqual(eventColumns.map((c) => c.name))
  })

  it("sessions: those created in the window, oldest first, the same over pages of 3 as in one page", async () => {
    const paged = await exported({ rows: "session", format: "csv", pageSize: 3 })
    const whole = await exported({ rows: "session", format: "csv" })
    expect(paged).toBe(whole)
    const rows = parseCsv(
      whole
        .split("\n")
        .filter((l) => !l.startsWith("#"))
        .join("\n"),
    ).slice(1)
    const expected = [
      ...plans.map((p) => ({ id: p.id, created: p.created })),
      { id: "vs_tricky", created: monthStart + 5 * day },
    ]
      .filter((p) => p.created * 1000 >= window.from.getTime() && p.created * 1000 < window.to.getTime())
      .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1))
    expect(rows.map((r) => r[0])).toEqual(expected.map((p) => p.id))
    expect(rows[0]!.length).toBe(sessionColumns.length)
    // A formula-shaped merchant value is defused; the JSON keeps it whole.
    expect(JSON.parse(rows.find((r) => r[0] === "vs_tricky")![9]!)).toEqual(tricky)
  })

  it("a CSV cell that a spreadsheet would run as a formula starts with a quote mark", () => {
    for (const v of ["=1+1", "+1", "-1", "@SUM(A1)", "\tx"]) expect(csvCell(v)).toMatch(/^"?'/)
    expect(csvCell(-1)).toBe("-1")
    expect(csvCell("plain")).toBe("plain")
    expect(csvCell(null)).toBe("")
  })

  it("a write that fails is an OutputFailed naming the target; nothing is half-reported as done", async () => {
    await expect(
      views().writeExportFile(window, { rows: "event", format: "csv" }, join(dir, "missing", "x.csv")),
    ).rejects.toMatchObject({ _tag: "OutputFailed", target: join(dir, "missing", "x.csv") })
    const closed = new PassThrough()
    closed.destroy()
    await expect(views().writeExport(window, { rows: "event", format: "csv" }, closed)).rejects.toMatchObject(
      {
        _tag: "OutputFailed",
      },
    )
  })

  it("waits for a slow reader instead of buffering the export", async () => {
    let buffered = 0
    let highest = 0
    const slow = new Writable({
      highWaterMark: 256,
      write(_chunk, _enc, done) {
        buffered = slow.writableLength
        highest = Math.max(highest, buffered)
        setTimeout(done, 1)
      },
    })
    const bytes = await views().writeExport(window, { rows: "event", format: "jsonl", pageSize: 2 }, slow)
    expect(bytes).toBeGreaterThan(10_000)
    // One page at a time waits in the writable's buffer, never the whole export.
    expect(highest).toBeLessThan(bytes / 4)
  })
})
