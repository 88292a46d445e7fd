/**
 * Reading the times and windows people type: `2026-10-01` (midnight UTC) or an ISO 8601 time.
 *
 * @since 0.1.0
 */
import { InvalidArgument, type TimeWindow } from "@idtrail/store"

const dateOnly = /^\d{4}-\d{2}-\d{2}$/
const isoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/

/** A date (midnight UTC) or an ISO 8601 time with its offset; anything else is an `InvalidArgument`. */
export const parseTime = (text: string, argument: string): Date | InvalidArgument => {
  const t = text.trim()
  const d = dateOnly.test(t) ? new Date(`${t}T00:00:00Z`) : isoTime.test(t) ? new Date(t) : null
  return d === null || Number.isNaN(d.getTime())
    ? new InvalidArgument({
        argument,
        message: `${argument} must be a date (2026-10-01) or an ISO time with its offset (2026-10-01T12:00:00Z), got ${JSON.stringify(text).slice(0, 80)}`,
      })
    : d
}

/** A window `[from, to)` from two typed times. */
export const parseWindow = (from: string, to: string): TimeWindow | InvalidArgument => {
  const f = parseTime(from, "from")
  if (f instanceof InvalidArgument) return f
  const t = parseTime(to, "to")
  if (t instanceof InvalidArgument) return t
  return f.getTime() > t.getTime()
    ? new InvalidArgument({ argument: "from", message: `from (${from}) is after to (${to})` })
    : { from: f, to: t }
}
