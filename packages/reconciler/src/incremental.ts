/**
 * An incremental run: the Identity events since the saved cursor. Each event's `data.object` is
 * Stripe's snapshot of its session at `event.created`; each session they name gets its history
 * recorded from them (source `events_api`, in Stripe's order, with the event's id), then is read
 * again for its present. Quarantined sessions are read again too, and so is every open session
 * waiting for a refresh; other open sessions are re-read on a bounded schedule (`schedule.ts`),
 * because API updates emit no event. Cost grows with changes, not with history.
 * The Events API reaches back 30 days: a run without a cursor, or with one older than that, says
 * a sweep is needed, and history from before then is not recorded.
 *
 * The cursor moves when every page was read. A session that failed does not hold it back: it is
 * quarantined, and the next runs retry it from the quarantine.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { replayAndObserve, retrieveAndObserve } from "./observe.ts"
import { loadCursor, type Run } from "./run.ts"
import { Candidates, defaultSchedule, type RereadSchedule } from "./schedule.ts"
import type { ChangeEvent } from "./stripe-api.ts"

/** How far an incremental run has read the Events API. */
export const EventsCursor = Schema.Struct({
  /** The newest event's `created` (unix seconds) that was fully handled. */
  created: Schema.Number,
  /** The ids of the handled events created in that very second (a later run skips them). */
  ids: Schema.Array(Schema.String),
})
export type EventsCursor = typeof EventsCursor.Type

/** How far back Stripe's Events API reaches. */
const eventsHorizonSeconds = 30 * 86_400

/** The cursor after `event`: the newest second seen, with every id of that second. */
const advance = (newest: EventsCursor | null, e: ChangeEvent): EventsCursor => {
  if (newest === null || e.created > newest.created) return { created: e.created, ids: [e.id] }
  if (e.created === newest.created && !newest.ids.includes(e.id))
    return { created: newest.created, ids: [...newest.ids, e.id] }
  return newest
}

/** A page of the Events API: the events the cursor has not seen, and where the next page starts. */
interface EventsPage {
  readonly fresh: ReadonlyArray<ChangeEvent>
  readonly next: string | null
  readonly observedAt: number
}

/** One page of the Events API after `startingAfter`. */
const eventsPage = Effect.fn("reconciler.eventsPage")(function* (
  run: Run,
  cursor: EventsCursor | null,
  startingAfter: string | null,
) {
  const since = cursor?.created ?? 0
  const page = yield* run.stripe.listEvents(since, startingAfter)
  run.tally.pages++
  if (run.tally.pages === 1 && cursor !== null && cursor.created < page.observedAt - eventsHorizonSeconds) {
    run.tally.warnings.push(
      `the cursor (${new Date(cursor.created * 1000).toISOString()}) is older than the Events API's 30 days: ` +
        "changes and history from before the horizon may be gone from it; run a sweep",
    )
  }
  // Events of the cursor's own second that the last run handled are skipped.
  const fresh = page.items.filter((e) => !(e.created === since && cursor?.ids.includes(e.id)))
  run.tally.eventsRead += fresh.length
  yield* run.progress("events")
  return { fresh, next: page.hasMore ? page.lastId : null, observedAt: page.observedAt } satisfies EventsPage
})

/**
 * One page of local open sessions after `after` (in id order): those waiting for a refresh are
 * read again now; the others are offered to the re-read schedule.
 */
const openSessionsPage = Effect.fn("reconciler.openSessionsPage")(function* <E>(
  run: Run,
  after: string | null,
  localPageSize: number,
  candidates: Candidates,
  reread: (id: string) => Effect.Effect<void, E>,
) {
  // Only this run's account's sessions: another account's would be 404s at this one's Stripe.
  const open = yield* run.store.sessions.unsettled({ after, limit: localPageSize, account: run.account })
  for (const session of open) {
    if (session.needsRefresh) yield* reread(session.sessionId)
    else candidates.offer(session)
  }
  const last = open.at(-1)
  return open.length < localPageSize || last === undefined ? null : last.sessionId
})

/** Stripe's order of one session's events: `created`, then the list's order reversed (it lists newest first). */
const inStripeOrder = (newestFirst: ReadonlyArray<ChangeEvent>): Map<string, Array<ChangeEvent>> => {
  const bySession = new Map<string, Array<ChangeEvent>>()
  const oldestFirst = [...newestFirst].reverse()
  // A stable sort: events of one second keep the reversed list order.
  oldestFirst.sort((a, b) => a.created - b.created)
  for (const e of oldestFirst) {
    const events = bySession.get(e.sessionId)
    if (events === undefined) bySession.set(e.sessionId, [e])
    else events.push(e)
  }
  return bySession
}

export const incremental = Effect.fnUntraced(function* (
  run: Run,
  localPageSize: number,
  schedule: RereadSchedule = defaultSchedule,
) {
  const { tally } = run
  const cursor = yield* loadCursor(run, "events", EventsCursor)
  if (cursor === null) {
    tally.warnings.push(
      "no saved cursor: this run read every Identity event the Events API still has (30 days); run a sweep for older changes",
    )
  }
  // The events since the cursor, newest first as listed: memory grows with the changes.
  const events: Array<ChangeEvent> = []
  let now = 0
  for (let startingAfter: string | null = null; ; ) {
    const page: EventsPage = yield* eventsPage(run, cursor, startingAfter)
    events.push(...page.fresh)
    now = Math.max(now, page.observedAt)
    if (page.next === null) break
    startingAfter = page.next
    yield* run.keepLease
  }
  const newest = [...events].reverse().reduce(advance, cursor)
  const history = inStripeOrder(events)

  let read = 0
  const counted = <E>(work: Effect.Effect<void, E>) =>
    Effect.gen(function* () {
      yield* work
      if (++read % 100 === 0) {
        yield* run.progress("sessions")
        yield* run.keepLease
      }
    })
  const reread = (id: string) => counted(retrieveAndObserve(run, id))
  // The sessions the events named: their history in Stripe's order, then their present.
  const named = new Set([...history.keys(), ...tally.quarantine.keys()])
  yield* Effect.forEach(
    [...named].sort(),
    (id) => counted(replayAndObserve(run, id, history.get(id) ?? [])),
    { discard: true },
  )
  // Open sessions a page of ids at a time: those waiting for a refresh now, the others on schedule.
  const candidates = new Candidates(now, schedule)
  const unlessNamed = (id: string) => (named.has(id) ? Effect.void : reread(id))
  for (let after: string | null = null; ; ) {
    const next: string | null = yield* openSessionsPage(run, after, localPageSize, candidates, unlessNamed)
    if (next === null) break
    after = next
  }
  const due = candidates.chosen().filter((id) => !named.has(id))
  tally.scheduled += due.length
  yield* Effect.forEach(due, reread, { discard: true })
  yield* run.progress("sessions")
  if (!run.dryRun && newest !== null) yield* run.store.runState.saveCursor(run.account, "events", newest)
})
