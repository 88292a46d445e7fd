/**
 * A run's progress for the person or the log watching it. On a terminal, one line rewritten in
 * place: sessions done of the total (an estimate: Stripe's lists carry no count, so the local
 * record's count stands in, and grows with what is found), the rate, and the time left. Off a
 * terminal, a plain log line after every page, with the same figures as fields.
 *
 * @since 0.1.0
 */
import type { Log } from "./log.ts"
import type { Progress } from "./report.ts"

export interface ProgressOptions {
  /** Rewrite one line on a terminal (`write` receives it without a newline), or log lines. */
  readonly tty: boolean
  readonly write: (text: string) => void
  readonly log: Log
  /** Milliseconds, for the rate (default `Date.now`). */
  readonly now?: () => number
}

export interface ProgressView {
  /** The estimated number of sessions the run will compare (null: unknown). */
  readonly estimate: (total: number | null) => void
  readonly update: (progress: Progress) => void
  /** Ends the live line (on a terminal) before the report is printed. */
  readonly done: () => void
}

const n = (x: number) => Math.round(x).toLocaleString("en")

/** `1 h 5 min`, `3 min 20 s`, `12 s`. */
export const formatSeconds = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds))
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`
  return `${s} s`
}

/** Done of total, rate and time left; what is unknown is left out. */
export const describeProgress = (p: Progress, total: number | null, elapsedMs: number) => {
  const rate = elapsedMs > 0 ? (p.examined * 1000) / elapsedMs : 0
  const known = total === null ? null : Math.max(total, p.examined)
  const left = known !== null && rate > 0 ? (known - p.examined) / rate : null
  return {
    total: known,
    rate: Math.round(rate * 10) / 10,
    secondsLeft: left === null ? null : Math.round(left),
    text:
      `${p.phase}: ${n(p.examined)}${known === null ? "" : ` of ~${n(known)}`} sessions` +
      (known === null || known === 0 ? "" : ` (${Math.floor((100 * p.examined) / known)} %)`) +
      `, ${n(rate)}/s` +
      (left === null ? "" : `, about ${formatSeconds(left)} left`) +
      ` · ${n(p.started)} recorded, ${n(p.repaired)} repaired, ${n(p.errors)} errors`,
  }
}

export const makeProgress = (options: ProgressOptions): ProgressView => {
  const now = options.now ?? Date.now
  const start = now()
  let total: number | null = null
  let live = false
  return {
    estimate: (t) => {
      total = t
    },
    update: (p) => {
      const d = describeProgress(p, total, now() - start)
      if (options.tty) {
        options.write(`\r\x1b[K${d.text}`)
        live = true
        return
      }
      // The line's start is the one operators and tests grep; the estimate follows as fields.
      options.log(
        "info",
        `${p.phase}: ${p.pages} pages, ${p.examined} sessions compared, ${p.started} missing locally, ${p.repaired} repaired, ${p.errors} errors`,
        { ...p, estimatedTotal: d.total, perSecond: d.rate, secondsLeft: d.secondsLeft },
      )
    },
    done: () => {
      if (live) options.write("\r\x1b[K")
      live = false
    },
  }
}
