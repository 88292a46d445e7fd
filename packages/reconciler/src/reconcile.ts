/**
 * One reconciliation run: read Stripe, observe every session read as an authoritative
 * `Observe` (source `reconciler`), and let the domain decide. Repairs are the domain's ordinary
 * events, stored with the run's id as actor and correlation id, so a second run right after the
 * first finds nothing to do. A dry run asks the decider the same question and writes nothing.
 *
 * - **incremental**: the Identity events since the saved cursor name the sessions that changed;
 *   those, and every local session that is not final or waits for a refresh, are re-read. Cost
 *   grows with changes, not with history. The Events API reaches back 30 days only.
 * - **sweep** (the backstop): every session, page by page (100 a page), compared both ways:
 *   drift and sessions missing locally are repaired; local sessions Stripe does not list are
 *   reported. Memory stays at a page: the "missing at Stripe" check compares, window by window of
 *   Stripe's `created`, the page just read with the local sessions of the same window.
 *
 * One run per account at a time (a lease in Postgres), the sweep's place saved after every page
 * (a crashed sweep resumes there), requests under a shared rate limit, and a run with any error
 * never counts as complete: its cursor does not move.
 *
 * @since 0.1.0
 */
import { decide, type Observe, type SessionEvent, type SessionState } from "@idtrail/domain"
import type { PromiseStore } from "@idtrail/store"
import { Result } from "effect"
import type { Progress, Repair, Report } from "./report.ts"
import {
  acquireLease,
  clearCursor,
  type EventsCursor,
  ensureTables,
  loadCursor,
  localSessionsCreatedBetween,
  openSessionIds,
  type RunStateTarget,
  releaseLease,
  renewLease,
  type SweepCursor,
  saveCursor,
} from "./run-state.ts"
import type { Observation, StripeApi } from "./stripe-api.ts"

export interface ReconcileOptions {
  readonly mode: "incremental" | "sweep"
  /** Report what would change; write nothing (no events, no cursor). */
  readonly dryRun?: boolean | undefined
  /** The Stripe account the store records (default `default`): one run per account at a time. */
  readonly account?: string | undefined
  /** Default: `recon_<time>_<random>`. */
  readonly runId?: string | undefined
  /** How long the run's lease lasts without renewal (default 300 s; renewed after every page). */
  readonly leaseSeconds?: number | undefined
  readonly onProgress?: ((progress: Progress) => void) | undefined
  /** Open sessions read from the store per query in an incremental run (default 1,000). */
  readonly openSessionsPageSize?: number | undefined
}

const maxListedRepairs = 100
/** How far back Stripe's Events API reaches. */
const eventsHorizonSeconds = 30 * 86_400
const maxListedMissing = 1000

/** Runs one reconciliation of `store` against `stripe`. Rejects only when the run cannot start or continue (lease, database). */
export const reconcile = async (
  store: PromiseStore,
  stripe: StripeApi,
  options: ReconcileOptions,
): Promise<Report> => {
  const account = options.account ?? "default"
  const runId = options.runId ?? `recon_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
  const dryRun = options.dryRun ?? false
  const leaseSeconds = options.leaseSeconds ?? 300
  const target: RunStateTarget = { db: store.service.db, schema: store.schema }
  const startedAt = new Date().toISOString()
  const requestsBefore = stripe.requests()

  let examined = 0
  let started = 0
  let repaired = 0
  let pages = 0
  let eventsRead = 0
  let missingRemotelyCount = 0
  const missingRemotely: Array<string> = []
  const eventsByType: Record<string, number> = {}
  const repairs: Array<Repair> = []
  const warnings: Array<string> = []
  const errors: Array<{ sessionId: string | null; message: string }> = []
  const progress = (phase: Progress["phase"]) =>
    options.onProgress?.({ phase, pages, examined, repaired, started, errors: errors.length })
  const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

  /** Observes one session as Stripe answered; records the outcome, never throws for one session. */
  const observe = async ({ session, observedAt }: Observation): Promise<void> => {
    examined++
    const command: Observe = { _tag: "Observe", session, source: "reconciler", observedAt }
    try {
      let events: ReadonlyArray<SessionEvent>
      let versionBefore: number
      if (dryRun) {
        const state: SessionState = await store.state(session.id)
        const decision = decide(command, state)
        if (Result.isFailure(decision)) throw decision.failure
        events = decision.success
        versionBefore = state.version
      } else {
        const result = await store.handle(session.id, command, {
          actor: { kind: "reconciler", id: runId },
          causationId: runId,
          correlationId: runId,
        })
        events = result._tag === "EventsAppended" ? result.events : []
        versionBefore = result._tag === "EventsAppended" ? result.nextVersion - result.events.length : -1
      }
      if (events.length === 0) return
      if (versionBefore === 0) started++
      else repaired++
      for (const e of events) eventsByType[e._tag] = (eventsByType[e._tag] ?? 0) + 1
      if (repairs.length < maxListedRepairs)
        repairs.push({ sessionId: session.id, events: events.map((e) => e._tag) })
    } catch (error) {
      errors.push({ sessionId: session.id, message: messageOf(error) })
    }
  }

  const retrieveAndObserve = async (sessionId: string): Promise<void> => {
    let observation: Observation
    try {
      observation = await stripe.retrieve(sessionId)
    } catch (error) {
      examined++
      errors.push({ sessionId, message: messageOf(error) })
      return
    }
    await observe(observation)
  }

  const incremental = async (): Promise<void> => {
    const cursor = await loadCursor<EventsCursor>(target, account, "events")
    if (cursor === null) {
      warnings.push(
        "no saved cursor: this run read every Identity event the Events API still has (30 days); run a sweep for older changes",
      )
    }
    const since = cursor?.created ?? 0
    const skip = new Set(cursor?.ids ?? [])
    const changed = new Set<string>()
    let newest = cursor ?? null
    let startingAfter: string | null = null
    for (;;) {
      const page = await stripe.listEvents(since, startingAfter)
      pages++
      if (pages === 1 && cursor !== null && cursor.created < page.observedAt - eventsHorizonSeconds) {
        warnings.push(
          `the cursor (${new Date(cursor.created * 1000).toISOString()}) is older than the Events API's 30 days: ` +
            "changes from before the horizon may be gone from it; run a sweep",
        )
      }
      for (const e of page.items) {
        if (e.created === since && skip.has(e.id)) continue
        eventsRead++
        changed.add(e.sessionId)
        if (newest === null || e.created > newest.created) newest = { created: e.created, ids: [e.id] }
        else if (e.created === newest.created && !newest.ids.includes(e.id))
          newest = { created: newest.created, ids: [...newest.ids, e.id] }
      }
      progress("events")
      if (!page.hasMore || page.lastId === null) break
      startingAfter = page.lastId
      if (!dryRun) await renewLease(target, account, runId, leaseSeconds)
    }
    let read = 0
    const reread = async (id: string) => {
      await retrieveAndObserve(id)
      if (++read % 100 === 0) {
        progress("sessions")
        if (!dryRun) await renewLease(target, account, runId, leaseSeconds)
      }
    }
    for (const id of [...changed].sort()) await reread(id)
    // Open sessions a page at a time: memory grows with the changes, not with the account.
    const pageSize = options.openSessionsPageSize ?? 1000
    for (let after: string | null = null; ; ) {
      const open = await openSessionIds(target, after, pageSize)
      for (const id of open) if (!changed.has(id)) await reread(id)
      if (open.length < pageSize) break
      after = open.at(-1)!
    }
    progress("sessions")
    if (!dryRun && errors.length === 0 && newest !== null) await saveCursor(target, account, "events", newest)
  }

  const sweep = async (): Promise<void> => {
    const resume = dryRun ? null : await loadCursor<SweepCursor>(target, account, "sweep")
    if (resume !== null)
      warnings.push(`resumed the sweep of run ${resume.runId} after session ${resume.startingAfter}`)
    let startingAfter = resume?.startingAfter ?? null
    // Remote sessions of the window being compared: created within (page minimum, windowUpper].
    // A resumed sweep lost the remote sessions of the second its last page ended in: skip that second.
    let windowUpper: number | null =
      resume === null ? null : resume.windowUpper === null ? null : resume.windowUpper - 1
    let pending = new Map<string, number>()
    // `to` is null only when Stripe listed no session at all: then every local one is missing there.
    // Otherwise the first page sets it, and local sessions newer than the listing are not compared.
    const compareWindow = async (from: number, to: number | null) => {
      const local = await localSessionsCreatedBetween(target, from, to)
      for (const { id } of local) {
        if (pending.has(id)) continue
        missingRemotelyCount++
        if (missingRemotely.length < maxListedMissing) missingRemotely.push(id)
      }
      pending = new Map([...pending].filter(([, created]) => created < from))
    }
    for (;;) {
      const page = await stripe.listSessions(startingAfter)
      pages++
      if (windowUpper === null && startingAfter === null) windowUpper = page.items[0]?.session.created ?? null
      for (const observation of page.items) {
        pending.set(observation.session.id, observation.session.created)
        await observe(observation)
      }
      const last = page.items.at(-1)
      if (!page.hasMore || page.lastId === null || last === undefined) {
        await compareWindow(0, windowUpper)
        progress("sweep")
        break
      }
      // The page's oldest second may continue on the next page: compare up to the second after it.
      const minCreated = last.session.created
      await compareWindow(minCreated + 1, windowUpper)
      windowUpper = minCreated
      startingAfter = page.lastId
      progress("sweep")
      if (!dryRun) {
        await saveCursor(target, account, "sweep", { startingAfter, windowUpper, runId })
        await renewLease(target, account, runId, leaseSeconds)
      }
    }
    if (!dryRun) await clearCursor(target, account, "sweep")
  }

  await ensureTables(target)
  if (!dryRun) await acquireLease(target, account, runId, leaseSeconds)
  try {
    try {
      await (options.mode === "sweep" ? sweep() : incremental())
    } catch (error) {
      // A page that cannot be read ends the run; what was done so far stays, and the run is incomplete.
      if ((error as { _tag?: string })._tag === "RunInProgress") throw error
      errors.push({ sessionId: null, message: messageOf(error) })
    }
  } finally {
    if (!dryRun) await releaseLease(target, account, runId)
  }
  return {
    runId,
    account,
    mode: options.mode,
    dryRun,
    startedAt,
    finishedAt: new Date().toISOString(),
    complete: errors.length === 0,
    examined,
    started,
    repaired,
    unchanged: examined - started - repaired - errors.filter((e) => e.sessionId !== null).length,
    eventsByType,
    repairs,
    missingRemotelyCount,
    missingRemotely,
    eventsRead,
    requests: stripe.requests() - requestsBefore,
    warnings,
    errors,
  }
}
