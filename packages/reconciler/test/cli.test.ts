import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import type { Report } from "../src/index.ts"

const cli = fileURLToPath(new URL("../src/cli.ts", import.meta.url))

/** Runs the CLI as an operator would, with only the given environment. */
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr }),
    )
  })

describe("the idtrail-reconcile command", () => {
  it("sweeps the simulator sandbox on the embedded store: progress on stderr, a JSON report on stdout, exit 0", async () => {
    const { code, stdout, stderr } = await run(["--simulate", "120", "--mode", "sweep", "--json"])
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as Report
    expect(report).toMatchObject({ mode: "sweep", complete: true, examined: 120, started: 120 })
    expect(stderr).toMatch(/embedded PGlite in memory/)
    expect(stderr).toMatch(/sweep: 2 pages, 120 sessions compared/)
  })

  it("prints a report a person reads", async () => {
    const { code, stdout } = await run(["--simulate", "5", "--mode", "sweep", "--dry-run"])
    expect(code).toBe(0)
    expect(stdout).toMatch(
      /^sweep reconciliation recon_\S+ of account default \(dry run: nothing written\): complete/,
    )
    expect(stdout).toMatch(/5 sessions missing locally would be recorded/)
  })

  it.each([
    [[], {}, /STRIPE_API_KEY is not set/],
    [["--mode", "everything", "--simulate", "1"], {}, /--mode must be incremental or sweep, got everything/],
    [["--simulate", "many"], {}, /--simulate must be an integer ≥ 0, got "many"/],
    [["--simulate", "1"], { RECONCILE_MAX_RPS: "fast" }, /RECONCILE_MAX_RPS must be a positive number/],
    [["--frobnicate"], { STRIPE_API_KEY: "sk_test_x" }, /Unknown option '--frobnicate'[\s\S]*usage:/],
  ])("refuses a configuration that cannot work (%j), says why, exits 2", async (args, env, message) => {
    const { code, stdout, stderr } = await run(args, env)
    expect(code).toBe(2)
    expect(stdout).toBe("")
    expect(stderr).toMatch(message)
  })

  it("exits 4 when the database cannot be reached, without printing the API key", async () => {
    const { code, stderr } = await run(["--simulate", "1"], {
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/none",
    })
    expect(code).toBe(4)
    expect(stderr).toMatch(/unavailable/)
    expect(stderr).not.toMatch(/sk_test/)
  })
})
