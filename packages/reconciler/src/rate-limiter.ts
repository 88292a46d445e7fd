/**
 * A token bucket shared by every request of a run, so the reconciler stays under Stripe's rate
 * limit instead of leaning on 429s: `perSecond` tokens a second, at most one second's worth
 * saved up. Callers queue in order.
 *
 * @since 0.1.0
 */
export class RateLimiter {
  readonly #perSecond: number
  #tokens: number
  #updated = performance.now()
  #queue: Promise<void> = Promise.resolve()

  constructor(perSecond: number) {
    if (!Number.isFinite(perSecond) || perSecond <= 0) {
      throw new RangeError(`a rate limit must be a positive number of requests per second, got ${perSecond}`)
    }
    this.#perSecond = perSecond
    this.#tokens = perSecond
  }

  /** Resolves when the caller may send one request. */
  take(): Promise<void> {
    const turn = this.#queue.then(() => this.#wait())
    this.#queue = turn
    return turn
  }

  async #wait(): Promise<void> {
    for (;;) {
      const now = performance.now()
      this.#tokens = Math.min(
        this.#perSecond,
        this.#tokens + ((now - this.#updated) / 1000) * this.#perSecond,
      )
      this.#updated = now
      if (this.#tokens >= 1) {
        this.#tokens -= 1
        return
      }
      await new Promise((resolve) => setTimeout(resolve, ((1 - this.#tokens) / this.#perSecond) * 1000))
    }
  }
}
