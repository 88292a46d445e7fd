/**
 * A session's timeline and its state at a time, as library calls and as the `audit` commands
 * (run through `effect/cli` with a test environment), and the bad input they refuse.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { EventStore, type PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Console, Effect, Exit, FileSystem, Layer, Path, Stdio, Terminal } from "effect"
import { Command } from "effect/cli"
import { ChildProcessSpawner } from "effect/process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { observation, snapshot } from "../../store/test/fixtures.ts"
import { auditCommand, auditViews, parseWindow, renderTimeline, terminalSafe } from "../src/index.ts"

const t0 = 1_760_000_000
const webhooks = { actor: { kind: "service", id: "webhooks" } } as const

const cliEnvironment = Layer.mergeAll(
  FileSystem.layerNoop({}),
  Path.layer,
  Stdio.layerTest({}),
  Layer.succeed(
    Terminal.Terminal,
    Terminal.make({
      columns: Effect.succeed(100),
      rows: Effect.succeed(40),
      size: Effect.die("unused"),
      readInput: Effect.die("unused"),
      readLine: Effect.die("unused"),
      display: () => Effect.void,
    }),
  ),
  Layer.succeed(
    ChildProcessSpawner.ChildProcessSpawner,
    ChildProcessSpawner.make(() => Effect.die("unused")),
  ),
)

describe("timelines, states and the audit commands", () => {
  let store: PromiseStore & { dispose: () => Promise<void> }
  let dir: string
  const run = async (...args: ReadonlyArray<string>) => {
    const lines: Array<string> = []
    const capture = { ...globalThis.console, log: (...a: ReadonlyArray<unknown>) => lines.push(a.join(" ")) }
    const exit = await Effect.runPromiseExit(
      Command.runWith(auditCommand, { version: "0.1.0" })([...args]).pipe(
        Effect.provide(cliEnvironment),
        Effect.provideService(EventStore, store.service),
        Effect.provideService(Console.Console, capture as unknown as Console.Console),
      ),
    )
    return { exit, out: lines.join("\n") }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "idtrail-views-"))
    store = await openTemporaryStore({ databaseUrl: process.env.DATABASE_URL })
    const s = (status: string) =>
      snapshot("vs_story", status, { created: t0, metadata: { note: "\u001b[2Jhi" } })
    await store.handle("vs_story", observation(s("requires_input"), t0, "webhook", "evt_1"), webhooks)
    await store.handle("vs_story", observation(s("processing"), t0 + 60, "webhook", "evt_2"), webhooks)
    await store.handle("vs_story", observation(s("verified"), t0 + 300, "reconciler"), {
      actor: { kind: "reconciler", id: "recon_7" },
    })
  })
  afterAll(async () => {
    await store?.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  it("a timeline says, for each event, Stripe's time, recorded time, source, actor and what changed", async () => {
    const entries = await auditViews(store).timeline("vs_story")
    expect(
      entries.map((e) => [e.version, e.type, e.at.getTime() / 1000, e.source, e.actor, e.change]),
    ).toEqual([
      [1, "SessionStarted", t0, "webhook", "service:webhooks", "first seen requires_input"],
      [
        2,
        "SessionSubmitted",
        t0 + 60,
        "webhook",
        "service:webhooks",
        "requires_input → processing (submitted)",
      ],
      [
        3,
        "SessionVerified",
        t0 + 300,
        "read (run recon_7)",
        "reconciler:recon_7",
        // A read that jumped over the step: Stripe took it some time since the last change.
        "processing → verified (filled in: taken between 2025-10-09T08:54:20.000Z and 2025-10-09T08:58:20.000Z)",
      ],
    ])
    expect(entries.every((e) => e.recordedAt instanceof Date)).toBe(true)
  })

  it("audit history prints the timeline as aligned text", async () => {
    const { exit, out } = await run("history", "vs_story")
    expect(Exit.isSuccess(exit)).toBe(true)
    const lines = out.split("\n")
    expect(lines[0]).toBe("vs_story: 3 events")
    // Columns line up: each heading starts where its values do.
    expect(lines[1]!.indexOf("source")).toBe(lines[4]!.indexOf("read (run recon_7)"))
    expect(lines[1]!.indexOf("what changed")).toBe(lines[2]!.indexOf("first seen requires_input"))
    expect(lines[4]).toContain("2025-10-09 08:58:20Z")
    expect(lines[4]).toContain(
      "read (run recon_7)  reconciler:recon_7  SessionVerified   processing → verified",
    )
  })

  it("audit state --at answers on either clock, with the status in words", async () => {
    const stripeClock = await run(
      "state",
      "vs_story",
      "--at",
      new Date((t0 + 100) * 1000).toISOString(),
      "--clock",
      "stripe",
    )
    expect(stripeClock.out.split("\n")[0]).toBe("vs_story at 2025-10-09 08:55:00Z (stripe clock): processing")
    const before = await run("state", "vs_story", "--at", "2020-01-01", "--json")
    expect(JSON.parse(before.out)).toMatchObject({ version: 0, facts: null })
  })

  it("merchant text cannot send escape sequences to the terminal", async () => {
    const { out } = await run("state", "vs_story", "--at", "2030-01-01")
    expect(out).toContain("note=\\u{1b}[2Jhi")
    expect(out).not.toContain("\u001b")
    expect(terminalSafe("a\u0007b\u009bc")).toBe("a\\u{7}b\\u{9b}c")
    expect(renderTimeline("vs_\u001b", [])).toBe("vs_\\u{1b}: no events recorded")
  })

  it("audit report and audit export write their files", async () => {
    const report = join(dir, "r.html")
    const done = await run("report", "--from", "2025-10-01", "--to", "2025-11-01", "--html", report)
    expect(done.out).toBe(`wrote the audit report to ${report}: 1 sessions created in the window, 1 listed`)
    expect(readFileSync(report, "utf8")).toContain('<tr data-session-id="vs_story">')
    const csv = join(dir, "e.csv")
    await run("export", "--from", "2025-10-01", "--to", "2025-11-01", "--rows", "session", "--output", csv)
    expect(readFileSync(csv, "utf8").trimEnd().split("\n").at(-1)).toMatch(
      /^vs_story,2025-10-09T08:53:20.000Z,verified,/,
    )
  })

  it("bad input is a typed error and writes nothing", async () => {
    const file = join(dir, "never.html")
    const backwards = await run("report", "--from", "2025-11-01", "--to", "2025-10-01", "--html", file)
    expect(backwards.exit).toMatchObject({ _tag: "Failure" })
    expect(JSON.stringify(backwards.exit)).toContain("InvalidArgument")
    expect(() => readFileSync(file)).toThrow()
    const badTime = await run("state", "vs_story", "--at", "yesterday")
    expect(JSON.stringify(badTime.exit)).toContain("at must be a date")
    await expect(auditViews(store).timeline("")).rejects.toMatchObject({ _tag: "InvalidStreamId" })
    expect(parseWindow("2026-10-01", "2026-10-01T12:00:00+02:00")).toEqual({
      from: new Date("2026-10-01T00:00:00Z"),
      to: new Date("2026-10-01T10:00:00Z"),
    })
    expect(parseWindow("2026-10-01T12:00", "2026-10-02")).toMatchObject({
      _tag: "InvalidArgument",
      argument: "from",
    })
  })
})
