/**
 * A sweep, the backstop: every session Stripe lists, 100 a page, observed; local sessions Stripe
 * does not list are reported, never changed.
 *
 * Memory stays at about a page. Stripe lists newest first, so after each page the sessions
 * created in the seconds that page covered are known on both sides: the local ones of that window
 * of `created` are compared with the ones just listed. The page's oldest second may continue on
 * the next page, so it waits for the next window. The sweep saves its place after every page; a
 * crashed sweep resumes there.
 *
 * @since 0.1.0
 */

import type { CreatedSession } from "@idtrail/store"
import { clearCursor, loadCursor, type SweepCursor, saveCursor } from "./cursors.ts"
import { observe } from "./observe.ts"
import type { Run } from "./run.ts"

export const sweep = async (run: Run, localPageSize: number): Promise<void> => {
  const { tally } = run
  const resume = run.dryRun ? null : await loadCursor<SweepCursor>(run.target, run.account, "sweep")
  if (resume !== null)
    tally.warnings.push(`resumed the sweep of run ${resume.runId} after session ${resume.startingAfter}`)
  let startingAfter = resume?.startingAfter ?? null
  // The upper end of the window not compared yet. A resumed sweep lost the listed sessions of the
  // second its last page ended in, so that second is skipped. Null until the first page says how
  // new the listing is (local sessions newer than it are not compared), and null to the end only
  // when Stripe listed nothing at all: then every local session is missing there.
  let windowUpper: number | null = resume?.windowUpper == null ? null : resume.windowUpper - 1
  // Listed sessions not compared yet, with their `created`.
  let listed = new Map<string, number>()
  const compareWindow = async (from: number, to: number | null) => {
    // A page of local sessions at a time: the last window (everything older than Stripe's oldest
    // listed session) may hold many when Stripe lists few.
    for (let after: CreatedSession | null = null; ; ) {
      const local = await run.store.sessions.createdBetween({ from, to, after, limit: localPageSize })
      for (const { id } of local) if (!listed.has(id)) tally.missingAtStripe(id)
      if (local.length < localPageSize) break
      after = local.at(-1)!
    }
    listed = new Map([...listed].filter(([, created]) => created < from))
  }
  for (;;) {
    const page = await run.stripe.listSessions(startingAfter)
    tally.pages++
    if (windowUpper === null && startingAfter === null) windowUpper = page.items[0]?.session.created ?? null
    for (const observation of page.items) {
      listed.set(observation.session.id, observation.session.created)
      await observe(run, observation)
    }
    const last = page.items.at(-1)
    if (!page.hasMore || page.lastId === null || last === undefined) {
      await compareWindow(0, windowUpper)
      run.progress("sweep")
      break
    }
    const oldest = last.session.created
    await compareWindow(oldest + 1, windowUpper)
    windowUpper = oldest
    startingAfter = page.lastId
    run.progress("sweep")
    if (!run.dryRun)
      await saveCursor(run.target, run.account, "sweep", { startingAfter, windowUpper, runId: run.runId })
    await run.keepLease()
  }
  if (!run.dryRun) await clearCursor(run.target, run.account, "sweep")
}
