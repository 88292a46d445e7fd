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

/** Counts describing one account of the simulator (the platform unless an account is asked for). */
export interface SimulatorStats {
  /** The connected account these counts are of; null for the platform. */
  readonly account: string | null
  readonly sessions: number
  /** Events ever created, expired ones included. */
  readonly events: number
  /** Events still inside the 30-day window. */
  readonly liveEvents: number
  readonly now: number
  /** Deliveries of this account's events. */
  readonly webhooks: WebhookStats
}

/**
 * Drives the simulator from tests and tools. Session-changing methods return the session JSON and
 * take a session of any account (its id says which). Without an `account`, a method means the
 * platform.
 */
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
  /** Appends `count` sessions with random legal histories (to connected account `account` if given). */
  readonly generate: (
    count: number,
    options?: { seed?: number; spanDays?: number; account?: string },
  ) => { first: string | null; last: string | null; total: number }
  /** The platform's own account id (what `GET /v1/account` answers without `Stripe-Account`). */
  readonly platformAccountId: string
  /** Adds a connected account (id minted from the seed unless given); returns Stripe's account object. */
  readonly addConnectedAccount: (id?: string) => Record<string, unknown>
  /** The connected accounts' ids, in creation order. */
  readonly connectedAccounts: () => string[]
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
    /** A Connect endpoint: connected accounts' events only (default false: platform events only). */
    connect?: boolean
  }) => WebhookEndpoint
  readonly removeWebhookEndpoint: (id: string) => boolean
  readonly webhookEndpoints: () => WebhookEndpoint[]
  /** Resolves when every queued delivery, delay and retry has finished; the counts over all accounts. */
  readonly flushWebhooks: () => Promise<WebhookStats>
  /** Counts of the platform, or of connected account `account`. */
  readonly stats: (account?: string) => SimulatorStats
  /** The underlying simulator, for advanced use. */
  readonly simulator: Simulator
}

/** Builds the control object over a simulator. */
export const makeControl = (
  sim: Simulator,
  faults: FaultInjector,
  limiter: RateLimiter,
): SimulatorControl => {
  /** Runs `f` on the account holding session `id`, then renders the session. */
  const onSession = (id: string, f: (account: Simulator) => void): Record<string, unknown> => {
    const { account, index } = sim.locateSession(id)
    f(account)
    return account.renderSession(index)
  }
  // The platform's own id names the platform, as the Stripe-Account header takes it.
  const accountOf = (id: string | undefined): Simulator =>
    id === undefined ? sim : sim.findAccount(id, "account")
  return {
    submit: (id) => onSession(id, (a) => a.submit(id)),
    pass: (id, outputs) => onSession(id, (a) => a.pass(id, outputs)),
    fail: (id, code, reason) => onSession(id, (a) => a.fail(id, code, reason)),
    finishRedaction: (id) => onSession(id, (a) => a.finishRedaction(id)),
    session: (id) => {
      const { account, index } = sim.locateSession(id)
      return account.renderSession(index, new Set(SESSION_EXPANSIONS))
    },
    advanceClock: (seconds) => {
      try {
        sim.clock.advance(seconds)
      } catch (e) {
        throw invalidRequest((e as Error).message, "seconds")
      }
      return sim.clock.nowSeconds()
    },
    now: () => sim.clock.nowSeconds(),
    generate: (count, options = {}) => {
      const { account: id, ...rest } = options
      const account = accountOf(id)
      return { ...account.generate(count, rest), total: account.sessions.size }
    },
    platformAccountId: sim.accountId,
    addConnectedAccount: (id) => sim.addConnectedAccount(id).renderAccount(),
    connectedAccounts: () => sim.connectedAccounts().map((a) => a.accountId),
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
    stats: (id) => {
      const a = accountOf(id)
      return {
        account: a.platform === undefined ? null : a.accountId,
        sessions: a.sessions.size,
        events: a.events.size,
        liveEvents: a.events.size - a.events.floor(a.clock.nowSeconds()),
        now: a.clock.nowSeconds(),
        webhooks: { ...a.webhookStats },
      }
    },
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
  query: URLSearchParams = new URLSearchParams(),
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
      const account = optString(body, "account")
      return ok(
        control.generate(num(body, "count"), {
          ...(seed === undefined ? {} : { seed }),
          ...(spanDays === undefined ? {} : { spanDays }),
          ...(account === undefined ? {} : { account }),
        }),
      )
    }
    case "GET /accounts":
      return ok({
        data: control.simulator.connectedAccounts().map((a) => a.renderAccount()),
      })
    case "POST /accounts": {
      const accountId = optString(body, "id")
      return ok(control.addConnectedAccount(accountId))
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
      const connect = body.connect
      if (connect !== undefined && typeof connect !== "boolean")
        throw invalidRequest("'connect' must be a boolean", "connect")
      return ok(
        control.addWebhookEndpoint({
          url,
          ...(secret === undefined ? {} : { secret }),
          ...(events === undefined ? {} : { enabled_events: events as string[] }),
          ...(connect === undefined ? {} : { connect }),
        }),
      )
    }
    case "DELETE /webhook_endpoints/:id":
      return ok({ id, deleted: control.removeWebhookEndpoint(id) })
    case "GET /stats":
      return ok(control.stats(query.get("account") ?? undefined))
    default:
      throw new ApiError(404, "invalid_request_error", `Unknown control route: ${method} /_sim${path}`)
  }
}
