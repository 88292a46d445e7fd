/**
 * A sweep, the backstop: every session Stripe lists, 100 a page, observed; local sessions Stripe
 * does not list are reported, never changed.
 *
 * Memory stays at about a page. Stripe lists newest first, so after each page the sessions
 * created in the seconds that page covered are known on both sides: the local ones of that window
 * of `created` are compared with the ones just listed. The page's oldest second may continue on
 * the next page, so it waits for the next window; a page all of one second (bulk creation puts
 * hundreds in one) closes no window, and its sessions wait with the next page's. The sweep saves
 * its place after every page, once every session of the page is done; a crashed sweep resumes
 * there. A page's sessions are observed a few at a time (`concurrency`), so their appends share the
 * store's commits; the report is the same as one at a time.
 *
 * @since 0.1.0
 */
import type { CreatedSession } from "@idtrail/store"
import { Effect, Schema } from "effect"
import { observePage } from "./observe.ts"
import { loadCursor, type Run } from "./run.ts"
import type { Observation, Page } from "./stripe-api.ts"

/** Where an unfinished sweep stopped: the last session of its last finished page. */
export const SweepCursor = Schema.Struct({
  startingAfter: Schema.String,
  /** The upper end (unix seconds, inclusive) of the window of `created` not compared yet. */
  windowUpper: Schema.NullOr(Schema.Number),
  runId: Schema.String,
})
export type SweepCursor = typeof SweepCursor.Type

/** What a sweep carries from page to page. */
interface Sweeping {
  /**
   * The upper end of the window not compared yet. Null until the first page says how new the
   * listing is (local sessions newer than it are not compared), and null to the end only when
   * Stripe listed nothing at all: then every local session is missing there.
   */
  windowUpper: number | null
  /** Listed sessions not compared yet, with their `created`. */
  listed: Map<string, number>
}

/**
 * Compares the local sessions created in `[from, to]` with the listed ones, a page of local
 * sessions at a time (the last window, everything older than Stripe's oldest listed session, may
 * hold many when Stripe lists few). An empty window (`from > to`) compares nothing.
 */
const compareWindow = Effect.fn("reconciler.compareWindow")(function* (
  run: Run,
  s: Sweeping,
  from: number,
  to: number | null,
  localPageSize: number,
) {
  if (to !== null && from > to) return
  for (let after: CreatedSession | null = null; ; ) {
    const local: ReadonlyArray<CreatedSession> = yield* run.store.sessions.createdBetween({
      from,
      to,
      after,
      limit: localPageSize,
      // Only this run's account: another account's sessions are not missing at this one's Stripe.
      account: run.account,
    })
    for (const { id } of local) if (!s.listed.has(id)) run.tally.missingAtStripe(id)
    if (local.length < localPageSize) break
    after = local.at(-1)!
  }
  s.listed = new Map([...s.listed].filter(([, created]) => created < from))
})

/**
 * One page of Stripe's list: observe its sessions (`concurrency` at a time), then compare the
 * window the page closed.
 */
const sweepPage = Effect.fn("reconciler.sweepPage")(function* (
  run: Run,
  s: Sweeping,
  startingAfter: string | null,
  localPageSize: number,
  concurrency: number,
) {
  const page: Page<Observation> = yield* run.stripe.listSessions(startingAfter)
  run.tally.pages++
  if (s.windowUpper === null && startingAfter === null) s.windowUpper = page.items[0]?.session.created ?? null
  for (const { session } of page.items) s.listed.set(session.id, session.created)
  yield* observePage(run, page.items, concurrency)
  const last = page.items.at(-1)
  if (!page.hasMore || page.lastId === null || last === undefined) {
    yield* compareWindow(run, s, 0, s.windowUpper, localPageSize)
    return null
  }
  // The page's oldest second may go on in the next page: the window ends just after it.
  const oldest = last.session.created
  yield* compareWindow(run, s, oldest + 1, s.windowUpper, localPageSize)
  // Never raise the window: a resumed sweep's upper end lies below the second it lost.
  s.windowUpper = s.windowUpper === null ? oldest : Math.min(s.windowUpper, oldest)
  return page.lastId
})

export const sweep = Effect.fnUntraced(function* (run: Run, localPageSize: number, concurrency: number) {
  const { tally } = run
  const resume = run.dryRun ? null : yield* loadCursor(run, "sweep", SweepCursor)
  if (resume !== null)
    tally.warnings.push(`resumed the sweep of run ${resume.runId} after session ${resume.startingAfter}`)
  // A resumed sweep lost the listed sessions of the second its last page ended in, so that
  // second is not compared.
  const s: Sweeping = {
    windowUpper: resume?.windowUpper == null ? null : resume.windowUpper - 1,
    listed: new Map(),
  }
  for (let startingAfter: string | null = resume?.startingAfter ?? null; ; ) {
    const next: string | null = yield* sweepPage(run, s, startingAfter, localPageSize, concurrency)
    yield* run.progress("sweep")
    if (next === null) break
    startingAfter = next
    if (!run.dryRun)
      yield* run.store.runState.saveCursor(run.account, "sweep", {
        startingAfter,
        windowUpper: s.windowUpper,
        runId: run.runId,
      } satisfies SweepCursor)
    yield* run.keepLease
  }
  if (!run.dryRun) yield* run.store.runState.clearCursor(run.account, "sweep")
})
