/**
 * `audit export` and `audit report` with `--account` and `--livemode` (issue 13 item 1, issue 16):
 * one account's and one mode's rows and figures only; without them, every account's.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Observe } from "@idtrail/domain"
import { EventStore, type PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Console, Effect, FileSystem, Layer, Path, Stdio, Terminal } from "effect"
import { Command } from "effect/cli"
import { ChildProcessSpawner } from "effect/process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { observation, snapshot } from "../../store/test/fixtures.ts"
import { auditCommand } from "../src/index.ts"

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

describe("audit commands filtered by account and mode", () => {
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
  const window = ["--from", "2025-10-01", "--to", "2025-11-01"]
  /** The session ids of a session export (CSV), read back. */
  const exported = async (...filter: ReadonlyArray<string>) => {
    const file = join(dir, `s${Math.random().toString(36).slice(2)}.csv`)
    await run("export", ...window, "--rows", "session", "--output", file, ...filter)
    const lines = readFileSync(file, "utf8")
      .split("\n")
      .filter((l) => l !== "" && !l.startsWith("#"))
    const header = lines[0]!.split(",")
    const at = header.indexOf("account")
    return lines.slice(1).map((l) => `${l.split(",")[0]}@${l.split(",")[at]}`)
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "idtrail-audit-accounts-"))
    store = await openTemporaryStore({ databaseUrl: process.env.DATABASE_URL })
    const seen = (id: string, account: string, livemode = false) =>
      store.handle(
        id,
        {
          ...(observation(snapshot(id, "requires_input", { created: t0, livemode }), t0) as Observe),
          account,
        },
        webhooks,
      )
    await seen("vs_d_test", "default")
    await seen("vs_d_live", "default", true)
    await seen("vs_second", "second")
    await seen("vs_conn", "acct_1Conn")
  }, 60_000)
  afterAll(async () => {
    await store?.dispose()
    rmSync(dir, { recursive: true, force: true })
  })

  it("audit export --account keeps that account's sessions, with the account column; without it, every account's", async () => {
    expect((await exported()).sort()).toEqual([
      "vs_conn@acct_1Conn",
      "vs_d_live@default",
      "vs_d_test@default",
      "vs_second@second",
    ])
    expect(await exported("--account", "acct_1Conn")).toEqual(["vs_conn@acct_1Conn"])
    expect((await exported("--account", "default")).sort()).toEqual([
      "vs_d_live@default",
      "vs_d_test@default",
    ])
    expect(await exported("--account", "default", "--livemode", "true")).toEqual(["vs_d_live@default"])
    expect(await exported("--account", "nobody")).toEqual([])
  })

  it("audit export of events --account keeps that account's events", async () => {
    const file = join(dir, "events.jsonl")
    await run(
      "export",
      ...window,
      "--rows",
      "event",
      "--format",
      "jsonl",
      "--output",
      file,
      "--account",
      "second",
    )
    const rows = readFileSync(file, "utf8")
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((l) => JSON.parse(l) as { session_id: string; account: string; livemode: boolean })
    expect(rows.map((r) => [r.session_id, r.account, r.livemode])).toEqual([["vs_second", "second", false]])
  })

  it("audit report --account counts that account's sessions only, and says so", async () => {
    const file = join(dir, "report.html")
    const { out } = await run(
      "report",
      ...window,
      "--html",
      file,
      "--account",
      "default",
      "--livemode",
      "false",
    )
    expect(out).toBe(`wrote the audit report to ${file}: 1 sessions created in the window, 1 listed`)
    const html = readFileSync(file, "utf8")
    expect(html).toContain('<tr data-session-id="vs_d_test">')
    expect(html).not.toContain('data-session-id="vs_conn"')
    expect(html).toContain("Account default, test mode.")
  })

  it("an empty --account is refused as InvalidArgument and writes nothing", async () => {
    const file = join(dir, "never.html")
    const { exit } = await run("report", ...window, "--html", file, "--account", "")
    expect(exit._tag).toBe("Failure")
    expect(() => readFileSync(file)).toThrow()
  })
})
