/**
 * Which open sessions an incremental run re-reads though no event named them. API updates of
 * metadata or options emit no event, so these reads cannot stop; but they need not be every open
 * session every run. A session is due when the time since Stripe last confirmed it exceeds a
 * fraction of its age (`rereadFraction`, default 0.1: a session a day old is due after about
 * 2.4 h, one 30 days old after 3 days), and a run reads at most `rereadShare` of the open
 * sessions (default 1 %), the most overdue first. The sweep stays the backstop.
 *
 * Memory: the candidates kept never exceed the cap for the sessions paged so far.
 *
 * @since 0.2.0
 */
import type { UnsettledSession } from "@idtrail/store"

/**
 * An open session as the schedule sees it (the store's `sessions.unsettled` row): Stripe's
 * `created` and the newest authoritative read handled (`confirmedAt`), unix seconds; either
 * `null` makes it due at once. One waiting for a refresh is read outside the schedule.
 */
export type OpenSession = UnsettledSession

/** The schedule's knobs. */
export interface RereadSchedule {
  /** Due when `now - confirmedAt > rereadFraction × (now - created)`; 0: every open session is due. */
  readonly rereadFraction: number
  /** At most this share of the open sessions per run (at least one when any is due). */
  readonly rereadShare: number
}

export const defaultSchedule: RereadSchedule = { rereadFraction: 0.1, rereadShare: 0.01 }

/** How overdue a session is: above 1, due. */
export const overdue = (s: OpenSession, now: number, { rereadFraction }: RereadSchedule): number => {
  if (s.created === null || s.confirmedAt === null || rereadFraction === 0) return Number.POSITIVE_INFINITY
  const age = Math.max(1, now - s.created)
  return (now - s.confirmedAt) / (rereadFraction * age)
}

/** The most overdue sessions of those offered, at most the cap for the number seen. */
export class Candidates {
  private seen = 0
  private kept: Array<{ readonly sessionId: string; readonly score: number }> = []

  private readonly now: number
  private readonly schedule: RereadSchedule

  constructor(now: number, schedule: RereadSchedule) {
    this.now = now
    this.schedule = schedule
  }

  /** The cap for the sessions seen so far. */
  get cap(): number {
    return Math.ceil(this.seen * this.schedule.rereadShare)
  }

  offer(s: OpenSession): void {
    this.seen++
    const score = overdue(s, this.now, this.schedule)
    if (score > 1) this.kept.push({ sessionId: s.sessionId, score })
    // Trimmed in batches, so offering stays cheap.
    if (this.kept.length > 2 * this.cap + 64) this.trim()
  }

  /** The chosen session ids, most overdue first. */
  chosen(): Array<string> {
    this.trim()
    return this.kept.map((k) => k.sessionId)
  }

  private trim(): void {
    this.kept.sort((a, b) => b.score - a.score || (a.sessionId < b.sessionId ? -1 : 1))
    this.kept.length = Math.min(this.kept.length, this.cap)
  }
}
