/**
 * An incremental run: the Identity events since the saved cursor name the sessions that changed;
 * those, every quarantined session, and every local session that is not final or waits for a
 * refresh (API updates emit no event) are read again. Cost grows with changes, not with history.
 * The Events API reaches back 30 days: a run without a cursor, or with one older than that, says
 * a sweep is needed.
 *
 * The cursor moves when every page was read. A session that failed does not hold it back: it is
 * quarantined, and the next runs retry it from the quarantine.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import { retrieveAndObserve } from "./observe.ts"
import { loadCursor, type Run } from "./run.ts"
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

/** One page of the Events API after `startingAfter`: the sessions it names join `changed`. */
const eventsPage = Effect.fn("reconciler.eventsPage")(function* (
  run: Run,
  cursor: EventsCursor | null,
  startingAfter: string | null,
  changed: Set<string>,
) {
  const since = cursor?.created ?? 0
  const page = yield* run.stripe.listEvents(since, startingAfter)
  run.tally.pages++
  if (run.tally.pages === 1 && cursor !== null && cursor.created < page.observedAt - eventsHorizonSeconds) {
    run.tally.warnings.push(
      `the cursor (${new Date(cursor.created * 1000).toISOString()}) is older than the Events API's 30 days: ` +
        "changes from before the horizon may be gone from it; run a sweep",
    )
  }
  // Events of the cursor's own second that the last run handled are skipped.
  const fresh = page.items.filter((e) => !(e.created === since && cursor?.ids.includes(e.id)))
  for (const e of fresh) changed.add(e.sessionId)
  run.tally.eventsRead += fresh.length
  yield* run.progress("events")
  return { fresh, next: page.hasMore ? page.lastId : null }
})

/** One page of local open sessions after `after` (in id order), each not read yet read again. */
const openSessionsPage = Effect.fn("reconciler.openSessionsPage")(function* <E>(
  run: Run,
  after: string | null,
  localPageSize: number,
  reread: (id: string) => Effect.Effect<void, E>,
) {
  const open = yield* run.store.sessions.unsettled({ after, limit: localPageSize })
  yield* Effect.forEach(open, reread, { discard: true })
  return open.length < localPageSize ? null : open.at(-1)!
})

export const incremental = Effect.fnUntraced(function* (run: Run, localPageSize: number) {
  const { tally } = run
  const cursor = yield* loadCursor(run, "events", EventsCursor)
  if (cursor === null) {
    tally.warnings.push(
      "no saved cursor: this run read every Identity event the Events API still has (30 days); run a sweep for older changes",
    )
  }
  const changed = new Set<string>()
  let newest = cursor
  for (let startingAfter: string | null = null; ; ) {
    const { fresh, next }: { fresh: ReadonlyArray<ChangeEvent>; next: string | null } = yield* eventsPage(
      run,
      cursor,
      startingAfter,
      changed,
    )
    newest = fresh.reduce(advance, newest)
    if (next === null) break
    startingAfter = next
    yield* run.keepLease
  }

  let read = 0
  const reread = (id: string) =>
    Effect.gen(function* () {
      yield* retrieveAndObserve(run, id)
      if (++read % 100 === 0) {
        yield* run.progress("sessions")
        yield* run.keepLease
      }
    })
  // The sessions the events named, and those earlier runs failed on (retried from the quarantine).
  const named = new Set([...changed, ...tally.quarantine.keys()])
  yield* Effect.forEach([...named].sort(), reread, { discard: true })
  // Open sessions a page of ids at a time: memory grows with the changes, not with the account.
  const unlessNamed = (id: string) => (named.has(id) ? Effect.void : reread(id))
  for (let after: string | null = null; ; ) {
    const next: string | null = yield* openSessionsPage(run, after, localPageSize, unlessNamed)
    if (next === null) break
    after = next
  }
  yield* run.progress("sessions")
  if (!run.dryRun && newest !== null) yield* run.store.runState.saveCursor(run.account, "events", newest)
})
