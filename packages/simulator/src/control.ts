/**
 * The control API: the hand of the end user, of Stripe's verification checks and of time —
 * everything Stripe's real API cannot be asked to do. It exists twice: as a programmatic
 * {@link SimulatorControl} object and as JSON routes under `/_sim/` (see {@link handleControl}),
 * kept apart from Stripe's `/v1/` paths so nothing a real client sends can reach it.
 *
 * @module
 */
import { ApiError, invalidRequest } from "./errors.ts"
import type { ApiFaults, FaultInjector, RateLimiter } from "./faults.ts"
import { SESSION_EXPANSIONS } from "./render.ts"
import type { VerifiedOutputs } from "./sessions.ts"
import type { Simulator } from "./simulator.ts"
import type { RetryPolicy, WebhookEndpoint, WebhookFaults, WebhookStats } from "./webhooks.ts"

/** Counts describing the simulator's state. */
export interface SimulatorStats {
  readonly sessions: number
  /** Events ever created, expired ones included. */
  readonly events: number
  /** Events still inside the 30-day window. */
  readonly liveEvents: number
  readonly now: number
  readonly webhooks: WebhookStats
}

/** Drives the simulator from tests and tools. Session-changing methods return the session JSON. */
export interface SimulatorControl {
  /** The end user submits: `requires_input` → `processing` (emits `…processing`). */
  readonly submit: (id: string) => Record<string, unknown>
  /** Checks pass: `processing` → `verified`, with verified outputs and a new `vr_…` report. */
  readonly pass: (id: string, outputs?: Partial<VerifiedOutputs>) => Record<string, unknown>
  /** A check fails: `processing` → `requires_input` with `last_error {code, reason}`. */
  readonly fail: (id: string, code?: string, reason?: string) => Record<string, unknown>
  /** Finishes a redaction: `redaction.status` → `redacted` (emits `…redacted`). */
  readonly finishRedaction: (id: string) => Record<string, unknown>
  /** A session with every expansion applied (what Stripe holds, regardless of `expand`). */
  readonly session: (id: string) => Record<string, unknown>
  /** Moves the simulator clock forward; returns the new time (unix seconds). */
  readonly advanceClock: (seconds: number) => number
  /** The simulator clock (unix seconds). */
  readonly now: () => number
  /** Appends `count` sessions with random legal histories. */
  readonly generate: (
    count: number,
    options?: { seed?: number; spanDays?: number },
  ) => { first: string | null; last: string | null; total: number }
  /** Sets API faults (5xx rate and status, latency, forced 429s). */
  readonly setApiFaults: (faults: Partial<ApiFaults>) => ApiFaults
  /** Requests per second per API key; 0 turns the limiter off. */
  readonly setRateLimit: (perSecond: number) => void
  /** Sets webhook faults (drop, duplicate, reorder, delay). */
  readonly setWebhookFaults: (faults: Partial<WebhookFaults>) => WebhookFaults
  /** Sets the webhook retry policy. */
  readonly setWebhookRetry: (policy: Partial<RetryPolicy>) => RetryPolicy
  /** Registers a webhook endpoint; a `whsec_…` secret is minted unless given. */
  readonly addWebhookEndpoint: (endpoint: {
    url: string
    secret?: string
    enabled_events?: string[]
  }) => WebhookEndpoint
  readonly removeWebhookEndpoint: (id: string) => boolean
  readonly webhookEndpoints: () => WebhookEndpoint[]
  /** Resolves when every queued delivery, delay and retry has finished. */
  readonly flushWebhooks: () => Promise<WebhookStats>
  readonly stats: () => SimulatorStats
  /** The underlying simulator, for advanced use. */
  readonly simulator: Simulator
}

/** Builds the control object over a simulator. */
export const makeControl = (
  sim: Simulator,
  faults: FaultInjector,
  limiter: RateLimiter,
): SimulatorControl => {
  const render = (id: string) => sim.renderSession(sim.findSession(id))
  return {
    submit: (id) => {
      sim.submit(id)
      return render(id)
    },
    pass: (id, outputs) => {
      sim.pass(id, outputs)
      return render(id)
    },
    fail: (id, code, reason) => {
      sim.fail(id, code, reason)
      return render(id)
    },
    finishRedaction: (id) => {
      sim.finishRedaction(id)
      return render(id)
    },
    session: (id) => sim.renderSession(sim.findSession(id), new Set(SESSION_EXPANSIONS)),
    advanceClock: (seconds) => {
      try {
        sim.clock.advance(seconds)
      } catch (e) {
        throw invalidRequest((e as Error).message, "seconds")
      }
      return sim.clock.nowSeconds()
    },
    now: () => sim.clock.nowSeconds(),
    generate: (count, options) => ({ ...sim.generate(count, options), total: sim.sessions.size }),
    setApiFaults: (f) => faults.set(f),
    setRateLimit: (n) => {
      limiter.perSecond = n
    },
    setWebhookFaults: (f) => sim.webhooks.setFaults(f),
    setWebhookRetry: (r) => sim.webhooks.setRetryPolicy(r),
    addWebhookEndpoint: (e) => {
      try {
        return sim.webhooks.addEndpoint(e)
      } catch {
        throw invalidRequest(`Invalid URL: ${e.url}`, "url")
      }
    },
    removeWebhookEndpoint: (id) => sim.webhooks.removeEndpoint(id),
    webhookEndpoints: () => sim.webhooks.endpoints(),
    flushWebhooks: () => sim.webhooks.flush(),
    stats: () => ({
      sessions: sim.sessions.size,
      events: sim.events.size,
      liveEvents: sim.events.size - sim.events.floor(sim.clock.nowSeconds()),
      now: sim.clock.nowSeconds(),
      webhooks: { ...sim.webhooks.stats },
    }),
    simulator: sim,
  }
}

type Json = Record<string, unknown>

const num = (body: Json, key: string, fallback?: number): number => {
  const v = body[key] ?? fallback
  if (typeof v !== "number" || !Number.isFinite(v)) throw invalidRequest(`'${key}' must be a number`, key)
  return v
}
const optString = (body: Json, key: string): string | undefined => {
  const v = body[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== "string") throw invalidRequest(`'${key}' must be a string`, key)
  return v
}

/** Only known keys with numeric values; a typo must not be silently ignored. */
const numbers = <K extends string>(body: Json, keys: ReadonlyArray<K>): Partial<Record<K, number>> => {
  const out: Partial<Record<K, number>> = {}
  for (const k of Object.keys(body)) {
    if (!(keys as ReadonlyArray<string>).includes(k)) throw invalidRequest(`Unknown setting: ${k}`, k)
    out[k as K] = num(body, k)
  }
  return out
}

/**
 * Handles a control request (`path` without the `/_sim` prefix). JSON in, JSON out; errors use
 * Stripe's error shape so one client helper reads both.
 */
export const handleControl = async (
  control: SimulatorControl,
  method: string,
  path: string,
  body: Json,
): Promise<{ status: number; body: unknown }> => {
  const parts = path.split("/").filter((s) => s !== "")
  const ok = (b: unknown) => ({ status: 200, body: b })
  const route = `${method} /${parts.map((p, i) => ((parts[0] === "sessions" && i === 1) || (parts[0] === "webhook_endpoints" && i === 1) ? ":id" : p)).join("/")}`
  const id = parts[1] ?? ""
  switch (route) {
    case "POST /sessions/:id/submit":
      return ok(control.submit(id))
    case "POST /sessions/:id/pass":
      return ok(control.pass(id, (body.outputs as Partial<VerifiedOutputs> | undefined) ?? undefined))
    case "POST /sessions/:id/fail":
      return ok(control.fail(id, optString(body, "code"), optString(body, "reason")))
    case "POST /sessions/:id/finish_redaction":
      return ok(control.finishRedaction(id))
    case "GET /sessions/:id":
      return ok(control.session(id))
    case "GET /clock":
      return ok({ now: control.now() })
    case "POST /clock/advance":
      return ok({ now: control.advanceClock(num(body, "seconds")) })
    case "POST /generate": {
      const seed = body.seed === undefined ? undefined : num(body, "seed")
      const spanDays = body.span_days === undefined ? undefined : num(body, "span_days")
      return ok(
        control.generate(num(body, "count"), {
          ...(seed === undefined ? {} : { seed }),
          ...(spanDays === undefined ? {} : { spanDays }),
        }),
      )
    }
    case "POST /faults":
      return ok(
        control.setApiFaults(
          numbers(body, [
            "serverErrorRate",
            "serverErrorStatus",
            "latencyMs",
            "forcedRateLimitRate",
            "forceRateLimitNext",
          ] as const),
        ),
      )
    case "POST /rate_limit":
      control.setRateLimit(num(body, "perSecond"))
      return ok({ perSecond: body.perSecond })
    case "POST /webhooks/faults":
      return ok(
        control.setWebhookFaults(
          numbers(body, ["dropRate", "duplicateRate", "reorderWindow", "delayRate", "delayMs"] as const),
        ),
      )
    case "POST /webhooks/retry":
      return ok(
        control.setWebhookRetry(
          numbers(body, ["maxAttempts", "baseDelayMs", "maxDelayMs", "timeoutMs"] as const),
        ),
      )
    case "POST /webhooks/flush":
      return ok(await control.flushWebhooks())
    case "GET /webhook_endpoints":
      return ok({ data: control.webhookEndpoints() })
    case "POST /webhook_endpoints": {
      const url = optString(body, "url")
      if (url === undefined) throw invalidRequest("'url' is required", "url")
      const secret = optString(body, "secret")
      const events = body.enabled_events
      if (events !== undefined && !(Array.isArray(events) && events.every((e) => typeof e === "string")))
        throw invalidRequest("'enabled_events' must be an array of strings", "enabled_events")
      return ok(
        control.addWebhookEndpoint({
          url,
          ...(secret === undefined ? {} : { secret }),
          ...(events === undefined ? {} : { enabled_events: events as string[] }),
        }),
      )
    }
    case "DELETE /webhook_endpoints/:id":
      return ok({ id, deleted: control.removeWebhookEndpoint(id) })
    case "GET /stats":
      return ok(control.stats())
    default:
      throw new ApiError(404, "invalid_request_error", `Unknown control route: ${method} /_sim${path}`)
  }
}
