/**
 * The control API over HTTP (`/_sim/…`), bulk generation of legal histories from a seed, and
 * the CLI.
 */
import { spawn } from "node:child_process"
import path from "node:path"
import Stripe from "stripe"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Harness, type RawBody, startHarness } from "./support/harness.ts"
import { startReceiver } from "./support/receiver.ts"
import { repoRoot } from "./support/schemas.ts"

let h: Harness
beforeAll(async () => {
  h = await startHarness({ seed: 21 })
})
afterAll(async () => {
  expect(h.violations()).toEqual([])
  await h.close()
})

const control = async (method: string, route: string, body?: unknown, token?: string) => {
  const res = await fetch(`${h.sim.url}/_sim${route}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: res.status, body: (await res.json()) as RawBody }
}

describe("control API over HTTP", () => {
  it("drives a session to every status: submit, fail, submit, pass, redact, finish_redaction", async () => {
    const s = await h.stripe.identity.verificationSessions.create({ type: "document" })
    expect((await control("POST", `/sessions/${s.id}/submit`)).body.status).toBe("processing")
    const failed = await control("POST", `/sessions/${s.id}/fail`, {
      code: "consent_declined",
      reason: "Declined.",
    })
    expect(failed.body).toMatchObject({
      status: "requires_input",
      last_error: { code: "consent_declined", reason: "Declined." },
    })
    await control("POST", `/sessions/${s.id}/submit`)
    const passed = await control("POST", `/sessions/${s.id}/pass`, { outputs: { first_name: "Jenny" } })
    expect(passed.body.status).toBe("verified")
    const full = await control("GET", `/sessions/${s.id}`)
    expect(full.body.verified_outputs.first_name).toBe("Jenny")
    expect(full.body.verified_outputs.dob).toBeDefined()
    await h.stripe.identity.verificationSessions.redact(s.id)
    const done = await control("POST", `/sessions/${s.id}/finish_redaction`)
    expect(done.body.redaction).toEqual({ status: "redacted" })
    const c = await h.stripe.identity.verificationSessions.create({ type: "document" })
    await h.stripe.identity.verificationSessions.cancel(c.id)
    const statuses = new Set(
      (await h.stripe.identity.verificationSessions.list({ limit: 100 })).data.map((x) => x.status),
    )
    expect(statuses).toEqual(new Set(["verified", "canceled"]))
  })

  it("answers Stripe-shaped errors: an illegal transition is 400, an unknown session 404, an unknown route 404", async () => {
    const s = await h.stripe.identity.verificationSessions.create({ type: "document" })
    const illegal = await control("POST", `/sessions/${s.id}/pass`)
    expect(illegal.status).toBe(400)
    expect(illegal.body.error).toMatchObject({
      type: "invalid_request_error",
      message: expect.stringMatching(/requires_input/),
    })
    expect((await control("POST", "/sessions/vs_nope/submit")).body.error.code).toBe("resource_missing")
    expect((await control("POST", "/nothing")).status).toBe(404)
    expect((await control("POST", "/faults", { serverErrorRat: 1 })).body.error.param).toBe("serverErrorRat")
    h.sim.control.submit(s.id)
    const unknownOutput = await control("POST", `/sessions/${s.id}/pass`, { outputs: { nickname: "J" } })
    expect(unknownOutput.body.error.param).toBe("outputs[nickname]")
  })

  it("bulk-generates sessions and reports counters", async () => {
    const before = (await control("GET", "/stats")).body
    const made = await control("POST", "/generate", { count: 50, seed: 3, span_days: 10 })
    expect(made.body).toMatchObject({
      first: expect.stringMatching(/^vs_/),
      last: expect.stringMatching(/^vs_/),
    })
    expect(made.body.total).toBe(before.sessions + 50)
    const last = await h.stripe.identity.verificationSessions.retrieve(made.body.last)
    expect(last.client_reference_id).toMatch(/^user_3_/)
    expect((await control("GET", "/stats")).body.sessions).toBe(before.sessions + 50)
    expect((await control("POST", "/generate", { count: -1 })).body.error.param).toBe("count")
    expect((await control("POST", "/generate", { count: "many" })).body.error.param).toBe("count")
  })

  it("sets the webhook retry policy, refusing unknown keys and non-numbers", async () => {
    expect((await control("POST", "/webhooks/retry", { maxAttempts: 2 })).body.maxAttempts).toBe(2)
    expect((await control("POST", "/webhooks/retry", { attempts: 2 })).status).toBe(400)
    expect((await control("POST", "/webhooks/retry", { maxAttempts: "2" })).body.error.param).toBe(
      "maxAttempts",
    )
    await control("POST", "/webhooks/retry", { maxAttempts: 4 })
  })

  it("takes JSON objects only", async () => {
    const res = await fetch(`${h.sim.url}/_sim/clock/advance`, { method: "POST", body: "seconds=5" })
    expect(res.status).toBe(400)
    expect(((await res.json()) as RawBody).error.message).toMatch(/JSON/)
  })

  it("advances the clock", async () => {
    const { now } = (await control("GET", "/clock")).body
    const after = await control("POST", "/clock/advance", { seconds: 3600 })
    expect(after.body.now).toBeGreaterThanOrEqual(now + 3600)
    expect((await control("POST", "/clock/advance", { seconds: -1 })).status).toBe(400)
  })

  it("sets API faults and the rate limit", async () => {
    await control("POST", "/faults", { forceRateLimitNext: 1 })
    await expect(h.stripe.identity.verificationSessions.list()).rejects.toBeInstanceOf(
      Stripe.errors.StripeRateLimitError,
    )
    await control("POST", "/rate_limit", { perSecond: 0 })
    await expect(h.stripe.identity.verificationSessions.list()).resolves.toBeDefined()
  })

  it("registers webhook endpoints, sets faults, flushes, and removes them", async () => {
    const r = await startReceiver()
    try {
      const ep = await control("POST", "/webhook_endpoints", { url: r.url, enabled_events: ["*"] })
      expect(ep.body.secret).toMatch(/^whsec_/)
      expect(
        (await control("GET", "/webhook_endpoints")).body.data.map((e: { id: string }) => e.id),
      ).toContain(ep.body.id)
      await control("POST", "/webhooks/faults", { duplicateRate: 1 })
      await h.stripe.identity.verificationSessions.create({ type: "document" })
      const stats = await control("POST", "/webhooks/flush")
      expect(stats.body.duplicated).toBe(1)
      expect(r.received).toHaveLength(2)
      await control("POST", "/webhooks/faults", { duplicateRate: 0 })
      expect((await control("DELETE", `/webhook_endpoints/${ep.body.id}`)).body.deleted).toBe(true)
      expect((await control("POST", "/webhook_endpoints", { url: "not a url" })).status).toBe(400)
      expect((await control("POST", "/webhook_endpoints", { url: "ftp://example.com/hook" })).status).toBe(
        400,
      )
    } finally {
      await r.close()
    }
  })

  it("requires the control token when one is configured", async () => {
    const guarded = await startHarness({ controlToken: "let-me-in" })
    try {
      const call = (token?: string) =>
        fetch(`${guarded.sim.url}/_sim/stats`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
      expect((await call()).status).toBe(401)
      expect((await call("wrong")).status).toBe(401)
      expect((await call("let-me-in")).status).toBe(200)
    } finally {
      await guarded.close()
    }
  })
})

describe("bulk generation", () => {
  it("generates sessions with legal histories, reproducibly from a seed", async () => {
    const make = () =>
      startHarness({ seed: 99, startTime: 1_780_000_000, frozenClock: true, sessions: 2000, spanDays: 60 })
    const [x, y] = await Promise.all([make(), make()])
    try {
      const listX = await x.stripe.identity.verificationSessions
        .list({ limit: 100 })
        .autoPagingToArray({ limit: 5000 })
      const listY = await y.stripe.identity.verificationSessions
        .list({ limit: 100 })
        .autoPagingToArray({ limit: 5000 })
      expect(listX).toHaveLength(2000)
      expect(listY.map((s) => [s.id, s.status, s.created, s.client_reference_id])).toEqual(
        listX.map((s) => [s.id, s.status, s.created, s.client_reference_id]),
      )
      const statuses = new Set(listX.map((s) => s.status))
      expect(statuses).toEqual(new Set(["requires_input", "processing", "verified", "canceled"]))
      expect(listX.some((s) => s.redaction?.status === "redacted")).toBe(true)
      expect(listX.some((s) => s.last_error?.code)).toBe(true)
      expect(listX.at(-1)!.created).toBeGreaterThanOrEqual(1_780_000_000 - 60 * 86_400)

      // Every session's events (inside the 30-day window) replay a legal path to its status.
      const events = await x.stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 })
      expect(events.length).toBeGreaterThan(0)
      const legal: Record<string, string[]> = {
        created: ["requires_input"],
        processing: ["requires_input"],
        verified: ["processing"],
        requires_input: ["processing"],
        canceled: ["requires_input"],
        redacted: ["verified", "canceled"],
      }
      const bySession = new Map<string, Stripe.Event[]>()
      for (const e of [...events].reverse()) {
        const id = (e.data.object as { id: string }).id
        bySession.set(id, [...(bySession.get(id) ?? []), e])
      }
      for (const [id, evs] of bySession) {
        for (let k = 1; k < evs.length; k++) {
          const prev = (evs[k - 1]!.data.object as { status: string }).status
          const kind = evs[k]!.type.split(".").at(-1)!
          expect(legal[kind], `${id}: ${kind} after ${prev}`).toContain(prev)
          expect(evs[k]!.created).toBeGreaterThanOrEqual(evs[k - 1]!.created)
        }
        const last = evs.at(-1)!.data.object as { status: string }
        const now = listX.find((s) => s.id === id)!
        expect(now.status).toBe(last.status)
      }
      expect(x.violations()).toEqual([])
    } finally {
      await Promise.all([x.close(), y.close()])
    }
  })

  it("lets the API act on a generated session like any other", async () => {
    const g = await startHarness({ seed: 5, sessions: 300 })
    try {
      const open = (await g.stripe.identity.verificationSessions.list({ status: "requires_input", limit: 1 }))
        .data[0]!
      const canceled = await g.stripe.identity.verificationSessions.cancel(open.id)
      expect(canceled.status).toBe("canceled")
      expect((await g.stripe.identity.verificationSessions.retrieve(open.id)).status).toBe("canceled")
      const [latest] = (await g.stripe.events.list({ limit: 1 })).data
      expect(latest).toMatchObject({ type: "identity.verification_session.canceled" })
    } finally {
      await g.close()
    }
  })
})

describe("CLI", () => {
  const cli = path.join(repoRoot, "packages/simulator/src/cli.ts")
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string; child: ReturnType<typeof spawn> }>(
      (resolve) => {
        const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"] })
        let stdout = ""
        let stderr = ""
        child.stdout.on("data", (c) => {
          stdout += c
          if (/http:\/\/\S+\n/.test(stdout)) resolve({ code: null, stdout, stderr, child })
        })
        child.stderr.on("data", (c) => {
          stderr += c
        })
        child.on("exit", (code) => resolve({ code, stdout, stderr, child }))
      },
    )

  it("prints its base URL and serves the Stripe API there", async () => {
    const { stdout, child } = await run(["--", "--port", "0", "--seed", "1", "--sessions", "50"])
    try {
      const url = stdout.match(/(http:\/\/\S+)\n/)![1]!
      const port = Number(new URL(url).port)
      const stripe = new Stripe("sk_test_cli", {
        apiVersion: "2026-07-29.dahlia" as Stripe.LatestApiVersion,
        host: "127.0.0.1",
        port,
        protocol: "http",
        maxNetworkRetries: 0,
      })
      expect((await stripe.identity.verificationSessions.list({ limit: 100 })).data).toHaveLength(50)
    } finally {
      child.kill("SIGTERM")
    }
  })

  it.each([
    [["--port", "abc"], /--port must be an integer/],
    [["--sessions", "-5"], /sessions/],
    [["--bogus"], /Unknown option '--bogus'/],
    [["--webhook", "nope"], /--webhook must be a URL/],
  ])("exits non-zero with a clear message for %j", async (args, message) => {
    const { code, stderr } = await run(args)
    expect(code).toBe(2)
    expect(stderr).toMatch(message)
    expect(stderr).toMatch(/Usage: idtrail-sim/)
  })
})
