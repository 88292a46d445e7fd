/**
 * The `idtrail` command as an operator runs it: help, migrate, `--every` until SIGTERM, and the
 * telemetry an OTLP collector receives. Each test spawns the CLI (1-6 s each).
 */
import { spawn } from "node:child_process"
import { mkdtemp, rm, symlink } from "node:fs/promises"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { startSimulator } from "@idtrail/simulator"
import { openStore } from "@idtrail/store"
import { describe, expect, it } from "vitest"
import { exitCodes, type Report } from "../src/index.ts"
import { binPath, runBin } from "./cli-harness.ts"

const idtrail = binPath("idtrail.ts")

const run = runBin(idtrail)

const withTempDir = async <A>(f: (dir: string) => Promise<A>): Promise<A> => {
  const dir = await mkdtemp(join(tmpdir(), "idtrail-ops-"))
  try {
    return await f(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe("idtrail --help", () => {
  it("lists the commands", async () => {
    const { code, stdout } = await run(["--help"])
    expect(code).toBe(0)
    expect(stdout).toMatch(/reconcile\s+compare the local record with Stripe/)
    expect(stdout).toMatch(/migrate\s+bring the store's schema up to date/)
    expect(stdout).toMatch(/sim\s+serve the Stripe simulator/)
  })

  it("of reconcile lists its options and environment variables", async () => {
    const { code, stdout, stderr } = await run(["reconcile", "--help"])
    expect(code).toBe(0)
    expect(stderr).toBe("")
    for (const flag of ["--mode", "--dry-run", "--json", "--account", "--data-dir", "--simulate", "--every"])
      expect(stdout).toContain(flag)
    for (const variable of [
      "STRIPE_API_KEY",
      "STRIPE_API_BASE",
      "DATABASE_URL",
      "RECONCILE_MAX_RPS",
      "RECONCILE_MAX_RETRIES",
      "OTEL_EXPORTER_OTLP_ENDPOINT",
    ])
      expect(stdout).toMatch(new RegExp(`ENVIRONMENT[\\s\\S]*${variable}`))
  })

  it("of migrate and of sim list theirs", async () => {
    const migrate = await run(["migrate", "--help"])
    expect(migrate.code).toBe(0)
    expect(migrate.stdout).toMatch(/--data-dir[\s\S]*ENVIRONMENT\s+DATABASE_URL/)
    const sim = await run(["sim", "--help"])
    expect(sim.code).toBe(0)
    expect(sim.stdout).toMatch(/--port <n>[\s\S]*--sessions <n>/)
  })
})

describe("the bins", () => {
  it("run through a symlink, as node_modules/.bin links them", async () => {
    await withTempDir(async (dir) => {
      await symlink(idtrail, join(dir, "idtrail"))
      const { code, stdout } = await runBin(join(dir, "idtrail"))(["--version"])
      expect(code).toBe(0)
      expect(stdout).toBe("idtrail 0.1.0\n")
    })
  })
})

describe("idtrail reconcile", () => {
  it("exits 3 while another run of the account holds the lease", async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, "db")
      const store = await openStore({ dataDir })
      await store.runState.acquireLease("default", "recon_elsewhere", 600)
      await store.close()
      const { code, stdout, stderr } = await run(["reconcile", "--simulate", "1", "--data-dir", dataDir])
      expect(code).toBe(exitCodes.runInProgress)
      expect(stdout).toBe("")
      expect(stderr).toMatch(/recon_elsewhere/)
    })
  }, 120_000)
})

describe("idtrail migrate", () => {
  it("brings an embedded store up to date and exits 0; an unreachable database exits 4", async () => {
    await withTempDir(async (dir) => {
      const { code, stderr } = await run(["migrate", "--data-dir", join(dir, "db")])
      expect(code).toBe(0)
      expect(stderr).toMatch(/embedded PGlite in \S+, schema idtrail: migrated, up to date/)
    })
    const down = await run(["migrate"], { DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" })
    expect(down.code).toBe(exitCodes.databaseUnavailable)
  }, 120_000)
})

describe("idtrail reconcile --every", () => {
  it("runs again and again on its schedule; SIGTERM in the third run stops it with its lease released (exit 143)", async () => {
    await withTempDir(async (dir) => {
      const dataDir = join(dir, "db")
      // 150 sessions, a page a second: each run takes about a second, so the signal lands inside one.
      const child = spawn(
        process.execPath,
        [
          idtrail,
          "reconcile",
          "--simulate",
          "150",
          "--mode",
          "sweep",
          "--every",
          "1s",
          "--json",
          "--data-dir",
          dataDir,
        ],
        { env: { PATH: process.env.PATH ?? "", RECONCILE_MAX_RPS: "1" } },
      )
      let stdout = ""
      let stderr = ""
      const reports = () => stdout.split("\n").filter((l) => l.startsWith("{"))
      child.stdout.on("data", (d) => {
        stdout += d
      })
      child.stderr.on("data", (d) => {
        stderr += d
        // The third run's first page: the run holds its lease.
        if (
          reports().length === 2 &&
          /"sweep: 1 pages/.test(stderr.split("\n").slice(-2).join()) &&
          !child.killed
        )
          child.kill("SIGTERM")
      })
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
      expect(code).toBe(exitCodes.terminated)
      const [first, second, third] = reports().map((l) => JSON.parse(l) as Report)
      expect(first).toMatchObject({ complete: true, started: 150 })
      expect(second).toMatchObject({ complete: true, started: 0, unchanged: 150 })
      expect(third).toMatchObject({ stoppedBy: "interrupted" })
      expect(stderr).toMatch(/interrupted by SIGTERM: the lease was released/)

      const store = await openStore({ dataDir })
      try {
        // Free: another run takes the lease at once (it was released, not left to expire).
        await store.runState.acquireLease("default", "recon_probe", 60)
      } finally {
        await store.close()
      }
    })
  }, 120_000)
})

/** The parts of OTLP/JSON the test reads. */
interface OtlpBody {
  readonly resourceSpans?: ReadonlyArray<{
    readonly scopeSpans: ReadonlyArray<{ readonly spans: ReadonlyArray<{ readonly name: string }> }>
  }>
  readonly resourceMetrics?: ReadonlyArray<{
    readonly scopeMetrics: ReadonlyArray<{ readonly metrics: ReadonlyArray<OtlpMetric> }>
  }>
}
type DataPoint = {
  readonly asInt?: string | number
  readonly asDouble?: number
  readonly count?: string | number
}
interface OtlpMetric {
  readonly name: string
  readonly sum?: { readonly dataPoints: ReadonlyArray<DataPoint> }
  readonly histogram?: { readonly dataPoints: ReadonlyArray<DataPoint> }
}

interface Received {
  readonly path: string
  readonly body: OtlpBody
}

/** An OTLP/HTTP JSON collector on 127.0.0.1. */
const collector = async () => {
  const received: Array<Received> = []
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (d) => {
      body += d
    })
    req.on("end", () => {
      received.push({ path: req.url ?? "", body: JSON.parse(body || "{}") })
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

const spansOf = (received: ReadonlyArray<Received>) =>
  received
    .filter((r) => r.path === "/v1/traces")
    .flatMap((r) => (r.body.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)))
    .map((span) => span.name)

/** The last exported value of each metric (cumulative), summed over its data points. */
const metricsOf = (received: ReadonlyArray<Received>) => {
  const last = new Map<string, number>()
  for (const r of received.filter((x) => x.path === "/v1/metrics"))
    for (const rm of r.body.resourceMetrics ?? [])
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          const points = m.sum?.dataPoints ?? m.histogram?.dataPoints ?? []
          last.set(
            m.name,
            points.reduce((s, p) => s + Number(p.asInt ?? p.asDouble ?? p.count ?? 0), 0),
          )
        }
  return last
}

describe("telemetry", () => {
  it("is exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set: spans of the run and its pages, counters, drift ages", async () => {
    const otlp = await collector()
    // Stripe answers the first two requests 429: the job retries them.
    const sim = await startSimulator({ sessions: 250, seed: 3, rateLimit: false })
    sim.control.setApiFaults({ forceRateLimitNext: 2 })
    try {
      const { code, stdout, stderr } = await run(["reconcile", "--mode", "sweep", "--json"], {
        STRIPE_API_KEY: "sk_test_otlp",
        STRIPE_API_BASE: sim.url,
        RECONCILE_MAX_RPS: "50",
        OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      })
      expect(code, stderr).toBe(0)
      const report = JSON.parse(stdout) as Report
      expect(report).toMatchObject({ complete: true, started: 250 })

      const spans = spansOf(otlp.received)
      expect(spans.filter((n: string) => n === "reconciler.run")).toHaveLength(1)
      expect(spans.filter((n: string) => n === "reconciler.sweepPage")).toHaveLength(3)
      expect(spans).toContain("StripeApi.listSessions")

      const metrics = metricsOf(otlp.received)
      expect(metrics.get("idtrail.reconciler.sessions.examined")).toBe(250)
      expect(metrics.get("idtrail.reconciler.sessions.recorded")).toBe(250)
      expect(metrics.get("idtrail.reconciler.sessions.repaired") ?? 0).toBe(0)
      // Every request Stripe answered, the 429s included, is one the report counted.
      expect(report.requests).toBe(3 + 2)
      expect(metrics.get("idtrail.reconciler.stripe.requests")).toBe(report.requests)
      expect(metrics.get("idtrail.reconciler.stripe.rate_limited")).toBe(2)
      expect(metrics.get("idtrail.reconciler.drift_age_seconds")).toBe(250)
    } finally {
      await sim.close()
      await otlp.close()
    }
  }, 120_000)
})
