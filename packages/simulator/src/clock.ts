/**
 * The simulator's clock: Stripe's idea of "now". It follows the wall clock (or stands still when
 * frozen) plus an offset that the control API advances, so a test can jump 31 days ahead and see
 * events expire. It never goes backwards, which keeps creation order equal to time order.
 *
 * @module
 */

/** Options for {@link makeClock}. */
export interface ClockOptions {
  /** Unix seconds the clock starts at. Default: the wall clock. */
  readonly startTime?: number
  /** When true the clock only moves through {@link Clock.advance}. Default false. */
  readonly frozen?: boolean
}

/** Stripe's clock as the simulator sees it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  readonly nowMs: () => number
  /** Whole unix seconds, Stripe's one-second resolution for `created`. */
  readonly nowSeconds: () => number
  /** Moves the clock forward by `seconds` (≥ 0). */
  readonly advance: (seconds: number) => void
}

/** Makes a clock. */
export const makeClock = (options: ClockOptions = {}): Clock => {
  const frozen = options.frozen ?? false
  const origin = Date.now()
  const start = options.startTime !== undefined ? options.startTime * 1000 : origin
  let offset = 0
  let last = 0
  const nowMs = (): number => {
    const t = start + (frozen ? 0 : Date.now() - origin) + offset
    last = Math.max(last, t)
    return last
  }
  return {
    nowMs,
    nowSeconds: () => Math.floor(nowMs() / 1000),
    advance: (seconds) => {
      if (!(seconds >= 0) || !Number.isFinite(seconds))
        throw new RangeError("seconds must be a finite number ≥ 0")
      offset += seconds * 1000
    },
  }
}
