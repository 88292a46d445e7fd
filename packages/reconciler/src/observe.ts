/**
 * The heart of a run: a session as Stripe answered becomes an authoritative `Observe` (source
 * `reconciler`, Stripe's time), and the domain decides. A real run stores what it decides through
 * the store's `handle`, with the run's id as actor, causation and correlation; a dry run asks the
 * decider the same question and stores nothing. One session's failure is counted, never thrown.
 *
 * @since 0.1.0
 */
import { decide, type Observe } from "@idtrail/domain"
import { Result } from "effect"
import type { Run } from "./run.ts"
import type { Observation } from "./stripe-api.ts"

export const observe = async (run: Run, { session, observedAt }: Observation): Promise<void> => {
  const command: Observe = { _tag: "Observe", session, source: "reconciler", observedAt }
  try {
    if (run.dryRun) {
      const state = await run.store.state(session.id)
      const decision = decide(command, state)
      if (Result.isFailure(decision)) throw decision.failure
      run.tally.observed(session.id, decision.success, state.version === 0)
      return
    }
    const result = await run.store.handle(session.id, command, {
      actor: { kind: "reconciler", id: run.runId },
      causationId: run.runId,
      correlationId: run.runId,
    })
    const events = result._tag === "EventsAppended" ? result.events : []
    run.tally.observed(
      session.id,
      events,
      result._tag === "EventsAppended" && result.nextVersion === events.length,
    )
  } catch (error) {
    run.tally.failed(session.id, error)
  }
}

/** Reads one session from Stripe and observes it; a failed read is counted, never thrown. */
export const retrieveAndObserve = async (run: Run, sessionId: string): Promise<void> => {
  let observation: Observation
  try {
    observation = await run.stripe.retrieve(sessionId)
  } catch (error) {
    run.tally.failed(sessionId, error)
    return
  }
  await observe(run, observation)
}
