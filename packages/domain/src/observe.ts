/**
 * The interpreter of the observation rules: runs `observationRules` in order over one
 * observation, folding each rule's events so the next rule sees them, until a rule stops or
 * refuses.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { accountKeyOf } from "./account.ts"
import { isAuthoritative, type Observe } from "./commands.ts"
import type { DecideError } from "./errors.ts"
import type { SessionEvent } from "./events.ts"
import { capturedOutputFields, maskedFactsOf } from "./facts.ts"
import type { Observation } from "./observation.ts"
import { observationRules } from "./rules.ts"
import { evolve, type SessionState } from "./state.ts"

/** The events a command produces and the state they leave, already folded. */
export interface Decided {
  readonly events: ReadonlyArray<SessionEvent>
  readonly state: SessionState
}

/** Records a rule's events: appended, and folded into the state the next rule sees. */
const record = (o: Observation, events: ReadonlyArray<SessionEvent>): Observation => {
  if (events.length === 0) return o
  let state = o.state
  for (const event of events) state = evolve(state, event)
  return { ...o, state, current: state.facts ?? o.current, events: [...o.events, ...events] }
}

/** Decides an observation by the rules, handing back the events and the state after them. */
export const observe = (command: Observe, state: SessionState): Result.Result<Decided, DecideError> => {
  const { facts: remote, masked } = maskedFactsOf(command.session)
  let o: Observation = {
    sessionId: command.session.id,
    account: accountKeyOf(command.account),
    source: command.source,
    stripeEventType: command.stripeEventType ?? null,
    at: command.observedAt,
    authoritative: isAuthoritative(command.source),
    remote,
    masked,
    outputs: capturedOutputFields(command.session.verified_outputs),
    before: state,
    local: state.facts ?? remote,
    state,
    current: state.facts ?? remote,
    events: [],
  }
  for (const rule of observationRules) {
    const verdict = rule.decide(o)
    if (verdict._tag === "Refuse") return Result.fail(verdict.error)
    o = record(o, verdict.events)
    if (verdict._tag === "Stop") break
  }
  return Result.succeed({ events: o.events, state: o.state })
}
