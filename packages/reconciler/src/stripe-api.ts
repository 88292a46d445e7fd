/**
 * What the reconciler reads from Stripe, through the official SDK: one session, a page of
 * sessions, a page of Identity events. Every read is an observation stamped with Stripe's own
 * clock (the response's `Date` header), never the local one.
 *
 * Requests pass a shared rate limiter first (below Stripe's limits). The SDK retries 5xxs and
 * network errors with exponential backoff and jitter (`maxNetworkRetries`); a 429 is retried
 * here, the same way (`maxRateLimitRetries`), since the SDK leaves it to its caller.
 *
 * @since 0.1.0
 */
import { decodeSession, type VerificationSession } from "@idtrail/domain"
import { Result } from "effect"
import Stripe from "stripe"
import { StripeReadFailed } from "./errors.ts"
import { RateLimiter } from "./rate-limiter.ts"

/** The API version whose schemas the domain decodes (Stripe's JSON schemas in shared/). */
export const apiVersion = "2026-07-29.dahlia"

/** A session as Stripe answered, and the Stripe time the answer describes. */
export interface Observation {
  readonly session: VerificationSession
  /** Unix seconds, from the response's `Date` header. */
  readonly observedAt: number
}

/** A page of a list, newest first, and where the next one starts. */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly hasMore: boolean
  /** The id to pass as `startingAfter` for the next page. */
  readonly lastId: string | null
  /** Stripe's time of the answer (unix seconds, its `Date` header). */
  readonly observedAt: number
}

/** An Identity event as the reconciler needs it: which session changed, and when. */
export interface ChangeEvent {
  readonly id: string
  readonly created: number
  readonly sessionId: string
}

/** Stripe's Identity API as the reconciler reads it. */
export interface StripeApi {
  retrieve(sessionId: string): Promise<Observation>
  listSessions(startingAfter: string | null): Promise<Page<Observation>>
  /** Identity session events created at or after `createdGte`, newest first. */
  listEvents(createdGte: number, startingAfter: string | null): Promise<Page<ChangeEvent>>
  /** Requests sent so far (retries by the SDK not counted). */
  readonly requests: () => number
}

/** How to reach Stripe (or the simulator). */
export interface StripeApiOptions {
  readonly apiKey: string
  /** Default `https://api.stripe.com`; the simulator's URL in tests and demos. */
  readonly baseUrl?: string | undefined
  /** Requests per second across the run (default 20; Stripe allows 25 in test mode, 100 live). */
  readonly maxRequestsPerSecond?: number | undefined
  /** Retries of a 429, 5xx or network error, with exponential backoff and jitter (default 4). */
  readonly maxNetworkRetries?: number | undefined
  /** Retries of a 429 with exponential backoff and full jitter (default 6). */
  readonly maxRateLimitRetries?: number | undefined
  /** Page size of list calls (1–100, default 100). */
  readonly pageSize?: number | undefined
}

const observedAtOf = (headers: Record<string, string> | undefined): number => {
  const date = headers?.date
  const ms = date === undefined ? Number.NaN : Date.parse(date)
  if (Number.isNaN(ms)) {
    throw new StripeReadFailed({
      operation: "read the Date header",
      message: "Stripe's response has no usable Date header, so the observation has no Stripe time",
    })
  }
  return Math.floor(ms / 1000)
}

const decoded = (raw: unknown, observedAt: number): Observation => {
  const session = decodeSession(raw)
  if (Result.isFailure(session)) {
    throw new StripeReadFailed({
      operation: "decode a session",
      message: `Stripe returned a session that does not decode: ${session.failure.message}`,
    })
  }
  return { session: session.success, observedAt }
}

/** Wraps an SDK failure in a typed error that never carries the API key or a client secret. */
const failed = (operation: string, error: unknown): StripeReadFailed => {
  if (error instanceof StripeReadFailed) return error
  const e = error as { type?: string; statusCode?: number; message?: string }
  const status = e.statusCode === undefined ? "" : ` (HTTP ${e.statusCode})`
  return new StripeReadFailed({
    operation,
    message: `${operation} failed${status}: ${e.type ?? "error"}: ${e.message ?? String(error)}`,
  })
}

/** The SDK's options for `baseUrl`: host, port and protocol. */
const endpointOf = (baseUrl: string | undefined) => {
  if (baseUrl === undefined) return {}
  const url = new URL(baseUrl)
  const protocol = url.protocol === "http:" ? "http" : "https"
  return {
    host: url.hostname,
    port: url.port === "" ? (protocol === "http" ? 80 : 443) : Number(url.port),
    protocol,
  } as const
}

export const stripeApi = (options: StripeApiOptions): StripeApi => {
  const stripe = new Stripe(options.apiKey, {
    apiVersion,
    maxNetworkRetries: options.maxNetworkRetries ?? 4,
    telemetry: false,
    ...endpointOf(options.baseUrl),
  })
  const limiter = new RateLimiter(options.maxRequestsPerSecond ?? 20)
  const limit = options.pageSize ?? 100
  let requests = 0
  const rateLimitRetries = options.maxRateLimitRetries ?? 6
  const call = async <A>(operation: string, run: () => Promise<A>): Promise<A> => {
    for (let attempt = 0; ; attempt++) {
      await limiter.take()
      requests++
      try {
        return await run()
      } catch (error) {
        // stripe-node retries 5xx and network errors itself, but a 429 only when Stripe says
        // `Stripe-Should-Retry: true`: back off here, exponentially, with full jitter.
        if ((error as { statusCode?: number }).statusCode === 429 && attempt < rateLimitRetries) {
          const ceiling = Math.min(8000, 250 * 2 ** attempt)
          await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling))
          continue
        }
        throw failed(operation, error)
      }
    }
  }
  return {
    retrieve: (sessionId) =>
      call(`retrieve ${sessionId}`, async () => {
        const session = await stripe.identity.verificationSessions.retrieve(sessionId)
        return decoded(session, observedAtOf(session.lastResponse.headers))
      }),
    listSessions: (startingAfter) =>
      call("list sessions", async () => {
        const page = await stripe.identity.verificationSessions.list({
          limit,
          ...(startingAfter === null ? {} : { starting_after: startingAfter }),
        })
        const observedAt = observedAtOf(page.lastResponse.headers)
        const items = page.data.map((s) => decoded(s, observedAt))
        return { items, hasMore: page.has_more, lastId: page.data.at(-1)?.id ?? null, observedAt }
      }),
    listEvents: (createdGte, startingAfter) =>
      call("list events", async () => {
        const page = await stripe.events.list({
          limit,
          type: "identity.verification_session.*",
          created: { gte: createdGte },
          ...(startingAfter === null ? {} : { starting_after: startingAfter }),
        })
        const items = page.data.map((e) => ({
          id: e.id,
          created: e.created,
          sessionId: (e.data.object as { id: string }).id,
        }))
        return {
          items,
          hasMore: page.has_more,
          lastId: page.data.at(-1)?.id ?? null,
          observedAt: observedAtOf(page.lastResponse.headers),
        }
      }),
    requests: () => requests,
  }
}
