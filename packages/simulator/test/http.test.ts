/**
 * Stripe's HTTP conventions: authentication, request ids, idempotency keys, rate limits, injected
 * faults, unknown URLs and malformed input — through the SDK where it can send the request, and
 * raw `fetch` where it cannot.
 */
import Stripe from "stripe"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failure, type Harness, KEY, startHarness } from "./support/harness.ts"

let h: Harness
beforeAll(async () => {
  h = await startHarness({ seed: 5 })
})
afterAll(async () => {
  expect(h.violations()).toEqual([])
  await h.close()
})

describe("the clock", () => {
  it("dates every response with the simulator's clock, as Stripe's Date header is Stripe's clock", async () => {
    const before = h.sim.control.now()
    h.sim.control.advanceClock(86_400 * 400)
    const res = await h.raw("GET", "/v1/identity/verification_sessions")
    const date = Date.parse(res.headers.get("date") ?? "") / 1000
    expect(date).toBeGreaterThanOrEqual(before + 86_400 * 400)
    expect(date - h.sim.control.now()).toBeLessThanOrEqual(1)
  })
})

describe("authentication", () => {
  it("accepts a test secret key as Bearer and as Basic user name", async () => {
    const s = await h.stripe.identity.verificationSessions.create({ type: "document" })
    const basic = Buffer.from(`${KEY}:`).toString("base64")
    const res = await h.raw("GET", `/v1/identity/verification_sessions/${s.id}`, {
      auth: null,
      headers: { authorization: `Basic ${basic}` },
    })
    expect(res.status).toBe(200)
    expect(res.body.id).toBe(s.id)
  })

  it("answers 401 (StripeAuthenticationError) for a key that is not a test secret key", async () => {
    for (const key of ["sk_live_abc123", "pk_test_abc123", "nonsense"]) {
      const e = await failure(h.client(key).identity.verificationSessions.list())
      expect(e).toBeInstanceOf(Stripe.errors.StripeAuthenticationError)
      expect(e.statusCode).toBe(401)
      expect(e.rawType ?? (e.raw as { type?: string }).type).toBe("invalid_request_error")
    }
  })

  it("answers 401 when no key is given", async () => {
    const res = await h.raw("GET", "/v1/identity/verification_sessions", { auth: null })
    expect(res.status).toBe(401)
    expect(res.body.error.type).toBe("invalid_request_error")
    expect(res.body.error.message).toMatch(/did not provide an API key/)
  })

  it("accepts only the configured keys when apiKeys is given", async () => {
    const strict = await startHarness({ apiKeys: ["sk_test_only_this"] })
    try {
      await expect(
        strict.client("sk_test_only_this").identity.verificationSessions.list(),
      ).resolves.toBeDefined()
      const e = await failure(strict.client("sk_test_other").identity.verificationSessions.list())
      expect(e.statusCode).toBe(401)
    } finally {
      await strict.close()
    }
  })
})

describe("request ids", () => {
  it("sends a distinct Request-Id on every response, errors included, and the SDK reads it", async () => {
    const s = await h.stripe.identity.verificationSessions.create({ type: "document" })
    expect(s.lastResponse.requestId).toMatch(/^req_/)
    const e = await failure(h.stripe.identity.verificationSessions.retrieve("vs_missing"))
    expect(e.requestId).toMatch(/^req_/)
    expect(e.requestId).not.toBe(s.lastResponse.requestId)
  })
})

describe("unknown URLs", () => {
  it("answers 404 invalid_request_error for a path or method Stripe does not have", async () => {
    for (const [method, path] of [
      ["GET", "/v1/identity/verification_reports_typo"],
      ["DELETE", "/v1/identity/verification_sessions/vs_1"],
      ["GET", "/v1/charges"],
      ["GET", "/v1/identity/verification_sessionsX"],
      ["POST", "/v1/identity/verification_sessions/vs_1/approve"],
    ] as const) {
      const res = await h.raw(method, path)
      expect(res.status).toBe(404)
      expect(res.body.error.type).toBe("invalid_request_error")
      expect(res.body.error.message).toMatch(/Unrecognized request URL/)
    }
  })
})

describe("idempotency keys", () => {
  it("replays the saved response for a repeated key: the same object, no second session", async () => {
    const before = h.sim.control.stats().sessions
    const a = await h.stripe.identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: "create-1" },
    )
    const b = await h.stripe.identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: "create-1" },
    )
    expect(b.id).toBe(a.id)
    expect(b.lastResponse.headers["idempotent-replayed"]).toBe("true")
    expect(h.sim.control.stats().sessions).toBe(before + 1)
  })

  it("replays a saved error too (the request had started executing)", async () => {
    const s = await h.stripe.identity.verificationSessions.create({ type: "document" })
    h.sim.control.submit(s.id)
    const first = await failure(
      h.stripe.identity.verificationSessions.cancel(s.id, {}, { idempotencyKey: "cancel-1" }),
    )
    const second = await failure(
      h.stripe.identity.verificationSessions.cancel(s.id, {}, { idempotencyKey: "cancel-1" }),
    )
    expect(first.statusCode).toBe(400)
    expect(second.statusCode).toBe(400)
    expect(second.message).toBe(first.message)
  })

  it("rejects the same key with other parameters: StripeIdempotencyError", async () => {
    await h.stripe.identity.verificationSessions.create({ type: "document" }, { idempotencyKey: "create-2" })
    const e = await failure(
      h.stripe.identity.verificationSessions.create({ type: "id_number" }, { idempotencyKey: "create-2" }),
    )
    expect(e).toBeInstanceOf(Stripe.errors.StripeIdempotencyError)
    expect(e.statusCode).toBe(400)
    expect(e.message).toMatch(/create-2/)
  })

  it("does not save a request that failed validation, so the key can be used again", async () => {
    const bad = await failure(
      h.stripe.identity.verificationSessions.create(
        { type: "banana" as "document" },
        { idempotencyKey: "create-3" },
      ),
    )
    expect(bad.statusCode).toBe(400)
    const good = await h.stripe.identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: "create-3" },
    )
    expect(good.status).toBe("requires_input")
  })

  it("keeps keys apart per API key", async () => {
    const a = await h.stripe.identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: "shared" },
    )
    const b = await h
      .client("sk_test_someone_else")
      .identity.verificationSessions.create({ type: "document" }, { idempotencyKey: "shared" })
    expect(b.id).not.toBe(a.id)
  })

  it("expires keys after 24 hours of simulator time", async () => {
    const a = await h.stripe.identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: "old" },
    )
    h.sim.control.advanceClock(24 * 3600 + 1)
    const b = await h.stripe.identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: "old" },
    )
    expect(b.id).not.toBe(a.id)
  })

  it("answers 409 idempotency_key_in_use to a concurrent request with a key still executing", async () => {
    h.sim.control.setApiFaults({ latencyMs: 150 })
    try {
      const send = () =>
        h.raw("POST", "/v1/identity/verification_sessions", {
          body: "type=document",
          headers: { "idempotency-key": "concurrent" },
        })
      const [a, b] = await Promise.all([send(), send()])
      expect([a.status, b.status].sort()).toEqual([200, 409])
      const conflict = a.status === 409 ? a : b
      expect(conflict.body.error.code).toBe("idempotency_key_in_use")
      expect(conflict.headers.get("stripe-should-retry")).toBe("true")
    } finally {
      h.sim.control.setApiFaults({ latencyMs: 0 })
    }
  })

  it("records the key on the event the request caused", async () => {
    const s = await h.stripe.identity.verificationSessions.create(
      { type: "document" },
      { idempotencyKey: "evt-key" },
    )
    const events = await h.stripe.events.list({ limit: 100 })
    const created = events.data.find(
      (e) =>
        e.type === "identity.verification_session.created" && (e.data.object as { id: string }).id === s.id,
    )
    expect(created?.request).toEqual({ id: s.lastResponse.requestId, idempotency_key: "evt-key" })
  })
})

describe("rate limits", () => {
  it("refuses requests over the per-key limit with 429 (StripeRateLimitError) and Stripe's error body", async () => {
    const limited = await startHarness({ rateLimit: 5 })
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, () => limited.stripe.identity.verificationSessions.list({ limit: 1 })),
      )
      const refused = results
        .filter((r) => r.status === "rejected")
        .map((r) => (r as PromiseRejectedResult).reason)
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5)
      expect(refused).toHaveLength(7)
      for (const e of refused) {
        expect(e).toBeInstanceOf(Stripe.errors.StripeRateLimitError)
        expect(e.statusCode).toBe(429)
        expect(e.code).toBe("rate_limit")
        expect(e.raw.type).toBe("invalid_request_error")
      }
      // Another key has its own budget.
      await expect(
        limited.client("sk_test_other").identity.verificationSessions.list(),
      ).resolves.toBeDefined()
      expect(limited.violations()).toEqual([])
    } finally {
      await limited.close()
    }
  })

  it("allows 25 requests per second per key by default, as Stripe's sandbox does", async () => {
    const defaults = await startHarness({ rateLimit: undefined })
    try {
      const statuses = await Promise.all(
        Array.from({ length: 30 }, () => defaults.raw("GET", "/v1/identity/verification_sessions?limit=1")),
      )
      expect(statuses.filter((r) => r.status === 200)).toHaveLength(25)
      expect(statuses.filter((r) => r.status === 429)).toHaveLength(5)
    } finally {
      await defaults.close()
    }
  })

  it("forces 429s through the control API", async () => {
    h.sim.control.setApiFaults({ forceRateLimitNext: 1 })
    const e = await failure(h.stripe.identity.verificationSessions.list())
    expect(e).toBeInstanceOf(Stripe.errors.StripeRateLimitError)
    await expect(h.stripe.identity.verificationSessions.list()).resolves.toBeDefined()
  })
})

describe("injected API faults", () => {
  it("fails requests with 5xx api_error at the configured rate; the SDK's retry with the same key then succeeds once", async () => {
    const faulty = await startHarness({ seed: 9, apiFaults: { serverErrorRate: 0.5 } })
    try {
      const noRetry = faulty.stripe
      let failed = 0
      for (let i = 0; i < 40; i++) {
        try {
          await noRetry.identity.verificationSessions.list({ limit: 1 })
        } catch (e) {
          expect(e).toBeInstanceOf(Stripe.errors.StripeAPIError)
          expect((e as Stripe.errors.StripeError).statusCode).toBe(500)
          failed++
        }
      }
      expect(failed).toBeGreaterThan(8)
      expect(failed).toBeLessThan(32)
      // With retries, an injected 500 is not saved under the idempotency key, so a retry creates it.
      const retrying = faulty.client(KEY, { maxNetworkRetries: 10 })
      const before = faulty.sim.control.stats().sessions
      const s = await retrying.identity.verificationSessions.create(
        { type: "document" },
        { idempotencyKey: "flaky" },
      )
      expect(s.status).toBe("requires_input")
      expect(faulty.sim.control.stats().sessions).toBe(before + 1)
      expect(faulty.violations()).toEqual([])
    } finally {
      await faulty.close()
    }
  }, 30_000)

  it("adds latency to every request", async () => {
    h.sim.control.setApiFaults({ latencyMs: 120 })
    const t = performance.now()
    await h.stripe.identity.verificationSessions.list({ limit: 1 })
    expect(performance.now() - t).toBeGreaterThanOrEqual(110)
    h.sim.control.setApiFaults({ latencyMs: 0 })
  })
})

describe("bad input (raw HTTP)", () => {
  const post = (body: string, path = "/v1/identity/verification_sessions") => h.raw("POST", path, { body })

  it.each([
    ["type=document&metadata[a=b", "metadata"],
    ["type=document&metadata[a]=%E0%A4%A", "metadata[a]"],
    ["type=document&metadata=x&metadata[a]=b", "metadata"],
    ["type=document&options[document]=x", "options[document]"],
    ["type=document&options=yes", "options"],
    [
      "type=document&options[document][require_live_capture]=maybe",
      "options[document][require_live_capture]",
    ],
    ["type=document&options[document][allowed_types]=passport", "options[document][allowed_types]"],
    ["type=document&related_person[account]=acct_1", "related_person[person]"],
    ["type=document&surprise=1", "surprise"],
    ["type=document&options[document][colour]=red", "options[document][colour]"],
    ["type[0]=document", "type"],
    ["type=banana", "type"],
    ["type=document&client_reference_id[a]=b", "client_reference_id"],
    [`type=document&metadata[${"k".repeat(41)}]=v`, `metadata[${"k".repeat(41)}]`],
  ])("POST %s → 400 naming %s", async (body, param) => {
    const res = await post(body)
    expect(res.status).toBe(400)
    expect(res.body.error.type).toBe("invalid_request_error")
    expect(res.body.error.param).toBe(param)
    expect(res.body.error.message).toEqual(expect.any(String))
    expect(res.headers.get("request-id")).toMatch(/^req_/)
  })

  it("rejects a JSON body: Stripe's v1 API is form-encoded", async () => {
    const res = await h.raw("POST", "/v1/identity/verification_sessions", {
      body: JSON.stringify({ type: "document" }),
      headers: { "content-type": "application/json" },
    })
    expect(res.status).toBe(400)
    expect(res.body.error.type).toBe("invalid_request_error")
    expect(res.body.error.message).toMatch(/x-www-form-urlencoded/)
  })

  it("rejects a non-integer limit on a GET query", async () => {
    const res = await h.raw("GET", "/v1/identity/verification_sessions?limit=abc")
    expect(res.status).toBe(400)
    expect(res.body.error).toMatchObject({ param: "limit", code: "parameter_invalid_integer" })
  })

  it("rejects a malformed query key on a GET", async () => {
    const res = await h.raw("GET", "/v1/events?created[gt=5")
    expect(res.status).toBe(400)
    expect(res.body.error.param).toBe("created")
  })

  it("changes nothing when a request is rejected", async () => {
    const before = h.sim.control.stats()
    await post("type=document&surprise=1")
    const after = h.sim.control.stats()
    expect(after.sessions).toBe(before.sessions)
    expect(after.events).toBe(before.events)
  })
})
