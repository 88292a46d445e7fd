/**
 * `idtrail reconcile --report FILE` and `idtrail audit …` through the real CLI entry, as an
 * operator and an auditor run them: one sandbox sweep into an embedded PGlite directory, then the
 * audit commands reading that directory, each a process, one after another (a PGlite directory
 * has one process at a time). Each spawn takes seconds: one sweep for the whole file.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { exitCodes } from "../src/index.ts"
import { binPath, runBin } from "./cli-harness.ts"

const idtrail = binPath("idtrail.ts")
const run = runBin(idtrail)
const sessions = 12
const always = ["--from", "2000-01-01", "--to", "2100-01-01"]

describe("idtrail reconcile --report, then idtrail audit on the same store", () => {
  let dir: string
  let dataDir: string
  let swept: Awaited<ReturnType<typeof run>>
  let sessionIds: ReadonlyArray<string>
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "idtrail-cli-audit-"))
    dataDir = join(dir, "db")
    swept = await run([
      ...["reconcile", "--simulate", String(sessions), "--mode", "sweep", "--data-dir", dataDir],
      ...["--report", join(dir, "run.html")],
    ])
    sessionIds = [
      ...readFileSync(join(dir, "run.html"), "utf8").matchAll(/<tr data-session-id="(vs_\w+)"/g),
    ].map((m) => m[1]!)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("reconcile --report ends by printing where the run's report is; the report holds the run and every session", () => {
    expect(swept.code).toBe(exitCodes.complete)
    const runId = /reconciliation (recon_\w+) of account/.exec(swept.stdout)?.[1]
    const last = swept.stdout.trimEnd().split("\n").at(-1)
    expect(last).toMatch(
      new RegExp(
        `^the audit report of run ${runId} \\(${sessions} sessions, \\S+ to \\S+\\): ${join(dir, "run.html")}$`,
      ),
    )
    const html = readFileSync(join(dir, "run.html"), "utf8")
    expect(html).toContain(runId)
    expect(new Set(sessionIds).size).toBe(sessions)
  })

  it("reconcile --report into a directory that does not exist is refused before anything runs", async () => {
    const elsewhere = join(dir, "never")
    const { code, stdout, stderr } = await run([
      ...["reconcile", "--simulate", "1", "--data-dir", elsewhere],
      ...["--report", join(dir, "missing", "r.html")],
    ])
    expect(code).toBe(exitCodes.badConfig)
    expect(stdout).toBe("")
    expect(stderr).toContain("--report")
    expect(existsSync(elsewhere)).toBe(false)
  })

  it("audit export --format jsonl: the columns first, then one row per recorded event", async () => {
    const { code, stdout, stderr } = await run([
      "audit",
      "export",
      ...always,
      "--format",
      "jsonl",
      "--data-dir",
      dataDir,
    ])
    expect(stderr).not.toMatch(/"level":"error"/)
    expect(code).toBe(0)
    const [header, ...rows] = stdout
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line))
    expect(header.columns.map((c: { name: string }) => c.name)).toContain("session_id")
    expect(rows.map((r) => r.session_id).sort()).toEqual([...sessionIds].sort())
    expect(rows.every((r) => r.type === "SessionStarted" && r.source.startsWith("read (run recon_"))).toBe(
      true,
    )
  })

  it("audit report writes the window's report and says how many sessions it holds", async () => {
    const file = join(dir, "all.html")
    const { code, stdout } = await run(["audit", "report", ...always, "--html", file, "--data-dir", dataDir])
    expect(code).toBe(0)
    expect(stdout.trim()).toBe(
      `wrote the audit report to ${file}: ${sessions} sessions created in the window, ${sessions} listed`,
    )
    expect(
      [...readFileSync(file, "utf8").matchAll(/<tr data-session-id="(vs_\w+)"/g)].map((m) => m[1]).sort(),
    ).toEqual([...sessionIds].sort())
  })

  it("audit history (--data-dir before the subcommand) tells one session's story", async () => {
    const id = sessionIds[0]!
    const { code, stdout } = await run(["audit", "--data-dir", dataDir, "history", id])
    expect(code).toBe(0)
    expect(stdout).toMatch(new RegExp(`^${id}: 1 event\\n`))
    expect(stdout).toMatch(/read \(run recon_\w+\)\s+reconciler:recon_\w+\s+SessionStarted\s+first seen/)
  })

  it("a mistyped time is a configuration error (exit 2) naming it, with nothing on stdout", async () => {
    const { code, stdout, stderr } = await run([
      "audit",
      "state",
      sessionIds[0]!,
      "--at",
      "last week",
      "--data-dir",
      dataDir,
    ])
    expect(code).toBe(exitCodes.badConfig)
    expect(stdout).toBe("")
    expect(stderr).toContain("at must be a date (2026-10-01) or an ISO time")
  })

  it("audit serve binds 127.0.0.1, says so, serves the report live, and stops on SIGTERM", async () => {
    const child = spawn(process.execPath, [idtrail, "audit", "serve", "--port", "0", "--data-dir", dataDir], {
      env: { PATH: process.env.PATH ?? "" },
    })
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = ""
        child.stdout.on("data", (chunk) => {
          out += chunk
          if (out.includes("\n")) resolve(out)
        })
        child.once("exit", (code) => reject(new Error(`exited with ${code} before serving`)))
      })
      expect(line).toMatch(
        /^audit page \(read-only\) at http:\/\/127\.0\.0\.1:\d+\/, bound to 127\.0\.0\.1 only/,
      )
      const url = /(http:\/\/\S+\/),/.exec(line)![1]!
      const page = await fetch(`${url}?from=2000-01-01&to=2100-01-01`)
      expect(page.status).toBe(200)
      expect(new Set((await page.text()).match(/<tr data-session-id="vs_\w+"/g)).size).toBe(sessions)
    } finally {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGTERM")
      expect(await exited).toBe(exitCodes.terminated)
    }
  })
})
