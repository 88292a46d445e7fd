import { spawn } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startSimulator } from "@idtrail/simulator"
import { describe, expect, it } from "vitest"
import { exitCodes, type Report } from "../src/index.ts"
import { binPath, runBin } from "./cli-harness.ts"

const cli = binPath("cli.ts")

/** Runs the CLI as an operator would, with only the given environment. */
const run = runBin(cli)

describe("the idtrail-reconcile command", () => {
  it("sweeps the simulator sandbox on the embedded store (3 sessions at a time): progress on stderr, a JSON report on stdout, exit 0", async () => {
    const { code, stdout, stderr } = await run([
      "--simulate",
      "120",
      "--mode",
      "sweep",
      "--json",
      "--concurrency",
      "3",
    ])
    expect(code).toBe(0)
    const report = JSON.parse(stdout) as Report
    expect(report).toMatchObject({ mode: "sweep", complete: true, examined: 120, started: 120 })
    expect(stderr).toMatch(/embedded PGlite in a temporary directory/)
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
    [["--simulate", "1", "--concurrency", "0"], {}, /--concurrency must be an integer ≥ 1, got "0"/],
    [["--simulate", "1", "--concurrency", "101"], {}, /--concurrency must be from 1 to 100/],
    [["--simulate", "1"], { RECONCILE_MAX_RPS: "fast" }, /RECONCILE_MAX_RPS must be a positive number/],
    [["--simulate", "1"], { RECONCILE_MAX_RETRIES: "-1" }, /RECONCILE_MAX_RETRIES must be an integer ≥ 0/],
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

  it.runIf(process.env.DATABASE_URL)(
    "exits 4 when the database named does not exist on a reachable server",
    async () => {
      const url = new URL(process.env.DATABASE_URL!)
      url.pathname = "/idtrail_no_such_database"
      const { code, stderr } = await run(["--simulate", "1"], { DATABASE_URL: url.toString() })
      expect(code).toBe(exitCodes.databaseUnavailable)
      expect(stderr).toMatch(/does not exist/)
    },
  )

  it("exits 5 when Stripe refuses the API key, without printing it", async () => {
    const sim = await startSimulator({ sessions: 1, seed: 1, rateLimit: false })
    try {
      const { code, stdout, stderr } = await run(["--mode", "sweep"], {
        STRIPE_API_KEY: "sk_live_notacceptedhere9876",
        STRIPE_API_BASE: sim.url,
      })
      expect(code).toBe(exitCodes.stripeAuthRefused)
      expect(stderr).toMatch(/Stripe refused the API key \(HTTP 401\)/)
      expect(`${stdout}${stderr}`).not.toMatch(/sk_live|9876/)
    } finally {
      await sim.close()
    }
  })

  it("exits 1 when the run went to its end incomplete (a page Stripe would not answer)", async () => {
    const sim = await startSimulator({ sessions: 1, seed: 1, rateLimit: false })
    sim.control.setApiFaults({ serverErrorRate: 1, serverErrorStatus: 503 })
    try {
      const { code, stdout } = await run(["--mode", "incremental"], {
        STRIPE_API_KEY: "sk_test_cli",
        STRIPE_API_BASE: sim.url,
        RECONCILE_MAX_RETRIES: "1",
      })
      expect(code).toBe(exitCodes.incomplete)
      expect(stdout).toMatch(/INCOMPLETE[\s\S]*HTTP 503/)
    } finally {
      await sim.close()
    }
  })

  /** Starts a sweep of the sandbox, slowed to a page a second, and sends `signal` after its first page. */
  const interruptAfterFirstPage = (dataDir: string, signal: "SIGTERM" | "SIGINT") =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [cli, "--simulate", "300", "--mode", "sweep", "--data-dir", dataDir],
        {
          env: { PATH: process.env.PATH ?? "", RECONCILE_MAX_RPS: "1" },
        },
      )
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d) => {
        stdout += d
      })
      child.stderr.on("data", (d) => {
        stderr += d
        if (/sweep: 1 pages/.test(stderr) && !child.killed) child.kill(signal)
      })
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })

  it("on SIGTERM mid-sweep: releases the lease, prints the partial report, exits 143; the next run is not refused and resumes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "idtrail-cli-"))
    try {
      const stopped = await interruptAfterFirstPage(join(dir, "db"), "SIGTERM")
      expect(stopped.code).toBe(exitCodes.terminated)
      expect(stopped.stdout).toMatch(/^sweep reconciliation recon_\S+ of account default: INTERRUPTED/)
      expect(stopped.stderr).toMatch(/interrupted by SIGTERM: the lease was released/)

      const next = await run([
        "--simulate",
        "1000",
        "--mode",
        "sweep",
        "--data-dir",
        join(dir, "db"),
        "--json",
      ])
      expect(next.code).toBe(exitCodes.complete)
      const report = JSON.parse(next.stdout) as Report
      expect(report).toMatchObject({ complete: true, stoppedBy: null })
      expect(report.warnings.join()).toMatch(/resumed the sweep/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 240_000)

  it("on SIGINT mid-sweep: the partial report, exit 130", async () => {
    const dir = await mkdtemp(join(tmpdir(), "idtrail-cli-"))
    try {
      const stopped = await interruptAfterFirstPage(join(dir, "db"), "SIGINT")
      expect(stopped.code).toBe(exitCodes.interrupted)
      expect(stopped.stdout).toMatch(/INTERRUPTED[\s\S]*found missing at Stripe before the run stopped/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
