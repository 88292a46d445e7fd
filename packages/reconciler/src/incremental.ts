/**
 * An incremental run: the Identity events since the saved cursor name the sessions that changed;
 * those, and every local session that is not final or waits for a refresh (API updates emit no
 * event), are read again. Cost grows with changes, not with history. The Events API reaches back
 * 30 days: a run without a cursor, or with one older than that, says a sweep is needed. The
 * cursor moves only when the run is complete.
 *
 * @since 0.1.0
 */

import { type EventsCursor, loadCursor, saveCursor } from "./cursors.ts"
import { retrieveAndObserve } from "./observe.ts"
import type { Run } from "./run.ts"

/** How far back Stripe's Events API reaches. */
const eventsHorizonSeconds = 30 * 86_400

export const incremental = async (run: Run, localPageSize: number): Promise<void> => {
  const { tally } = run
  const cursor = await loadCursor<EventsCursor>(run.target, run.account, "events")
  if (cursor === null) {
    tally.warnings.push(
      "no saved cursor: this run read every Identity event the Events API still has (30 days); run a sweep for older changes",
    )
  }
  const since = cursor?.created ?? 0
  const handled = new Set(cursor?.ids ?? [])
  const changed = new Set<string>()
  let newest = cursor
  for (let startingAfter: string | null = null; ; ) {
    const page = await run.stripe.listEvents(since, startingAfter)
    tally.pages++
    if (tally.pages === 1 && cursor !== null && cursor.created < page.observedAt - eventsHorizonSeconds) {
      tally.warnings.push(
        `the cursor (${new Date(cursor.created * 1000).toISOString()}) is older than the Events API's 30 days: ` +
          "changes from before the horizon may be gone from it; run a sweep",
      )
    }
    for (const e of page.items) {
      // Events of the cursor's own second that the last run handled.
      if (e.created === since && handled.has(e.id)) continue
      tally.eventsRead++
      changed.add(e.sessionId)
      if (newest === null || e.created > newest.created) newest = { created: e.created, ids: [e.id] }
      else if (e.created === newest.created && !newest.ids.includes(e.id))
        newest = { created: newest.created, ids: [...newest.ids, e.id] }
    }
    run.progress("events")
    if (!page.hasMore || page.lastId === null) break
    startingAfter = page.lastId
    await run.keepLease()
  }

  let read = 0
  const reread = async (id: string) => {
    await retrieveAndObserve(run, id)
    if (++read % 100 === 0) {
      run.progress("sessions")
      await run.keepLease()
    }
  }
  for (const id of [...changed].sort()) await reread(id)
  // Open sessions a page of ids at a time: memory grows with the changes, not with the account.
  for (let after: string | null = null; ; ) {
    const open = await run.store.sessions.unsettled({ after, limit: localPageSize })
    for (const id of open) if (!changed.has(id)) await reread(id)
    if (open.length < localPageSize) break
    after = open.at(-1)!
  }
  run.progress("sessions")
  if (!run.dryRun && tally.errors.length === 0 && newest !== null)
    await saveCursor(run.target, run.account, "events", newest)
}
