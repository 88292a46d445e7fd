/**
 * API-side faults and the rate limiter. Faults are seeded so a run can be replayed; they strike
 * before a request executes (like a load balancer failing), so an injected 500 is not saved
 * under its idempotency key and a retry can succeed.
 *
 * @module
 */
import { hash32, makeRandom, type Random } from "./random.ts"

/** Injected API faults. */
export interface ApiFaults {
  /** Probability that a Stripe API request fails with a 5xx `api_error`. */
  readonly serverErrorRate: number
  /** HTTP status of those failures (500, 502, 503 or 504). */
  readonly serverErrorStatus: number
  /** Extra latency added to every Stripe API request, in milliseconds. */
  readonly latencyMs: number
  /** Probability that a request is refused with 429 regardless of the rate limit. */
  readonly forcedRateLimitRate: number
  /** The next N requests are refused with 429 (then this counts down to 0). */
  readonly forceRateLimitNext: number
}

/** No faults. */
export const NO_FAULTS: ApiFaults = {
  serverErrorRate: 0,
  serverErrorStatus: 500,
  latencyMs: 0,
  forcedRateLimitRate: 0,
  forceRateLimitNext: 0,
}

/** Decides, per request, which fault (if any) strikes. */
export class FaultInjector {
  #faults: ApiFaults = NO_FAULTS
  readonly #random: Random
  constructor(seed: number) {
    this.#random = makeRandom(hash32(seed, 0xfa017))
  }
  /** The current fault settings. */
  get faults(): ApiFaults {
    return this.#faults
  }
  /** Replaces some fault settings. */
  set(faults: Partial<ApiFaults>): ApiFaults {
    this.#faults = { ...this.#faults, ...faults }
    return this.#faults
  }
  /** Which fault strikes this request. */
  draw(): "server_error" | "rate_limit" | undefined {
    const f = this.#faults
    if (f.forceRateLimitNext > 0) {
      this.#faults = { ...f, forceRateLimitNext: f.forceRateLimitNext - 1 }
      return "rate_limit"
    }
    if (this.#random.chance(f.forcedRateLimitRate)) return "rate_limit"
    if (this.#random.chance(f.serverErrorRate)) return "server_error"
    return undefined
  }
}

/**
 * A per-API-key limiter: at most `perSecond` requests in any sliding one-second window
 * (Stripe's sandbox allows 25/s). Uses the wall clock, not the simulator clock, because it
 * protects the process the way Stripe's limiter protects its API.
 */
export class RateLimiter {
  #perSecond: number
  readonly #recent = new Map<string, number[]>()
  constructor(perSecond: number) {
    this.#perSecond = perSecond
  }
  /** Requests per second allowed per key; 0 or Infinity turns the limiter off. */
  get perSecond(): number {
    return this.#perSecond
  }
  set perSecond(n: number) {
    this.#perSecond = n
  }
  /** Records a request by `key` at `nowMs`; false when it is over the limit. */
  allow(key: string, nowMs: number): boolean {
    const limit = this.#perSecond
    if (!(limit > 0) || limit === Number.POSITIVE_INFINITY) return true
    let times = this.#recent.get(key)
    if (times === undefined) {
      times = []
      this.#recent.set(key, times)
    }
    while (times.length > 0 && times[0]! <= nowMs - 1000) times.shift()
    if (times.length >= limit) return false
    times.push(nowMs)
    return true
  }
}
