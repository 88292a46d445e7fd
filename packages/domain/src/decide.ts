/**
 * `decide(command, state)`: what a command means for a session, as events or a typed error, and
 * `decideAndFold`, which also hands back the state after those events. Pure and total.
 * Observations follow the rules in `rules.ts`; requests the action rules in `requests.ts`.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import { isAuthoritative, type SessionCommand } from "./commands.ts"
import type { DecideError } from "./errors.ts"
import type { SessionEvent } from "./events.ts"
import { type Decided, observe } from "./observe.ts"
import { requestCancel, requestRedact, requestUpdate } from "./requests.ts"
import { confirmedBy, fold, type SessionState } from "./state.ts"

export type { Decided } from "./observe.ts"

/** The events a command produces, or why it is refused. */
export type Decision = Result.Result<ReadonlyArray<SessionEvent>, DecideError>

const folded =
  (state: SessionState) =>
  (events: ReadonlyArray<SessionEvent>): Decided => ({ events, state: fold(events, state) })

/**
 * Decides a command and hands back the state after its events: `state` equals
 * `fold(events, state)`, computed once (the observation rules fold as they go), so a caller
 * that appends the events need not fold them again.
 */
export const decideAndFold = (
  command: SessionCommand,
  state: SessionState,
): Result.Result<Decided, DecideError> => {
  switch (command._tag) {
    case "Observe":
      return observe(command, state)
    case "RequestCancel":
      return Result.map(requestCancel(command, state), folded(state))
    case "RequestRedact":
      return Result.map(requestRedact(command, state), folded(state))
    case "RequestUpdate":
      return Result.map(requestUpdate(command, state), folded(state))
  }
}

/**
 * Decides what a command means for the session in `state`.
 *
 * Observations never fail for being late, duplicated or out of order: they produce fewer events.
 * Requests fail with `TransitionNotAllowed` when Stripe would refuse them.
 */
export const decide = (command: SessionCommand, state: SessionState): Decision =>
  Result.map(decideAndFold(command, state), (decided) => decided.events)

/**
 * The confirm step, after `decideAndFold`: the state once `command` is handled. An authoritative
 * read moves `confirmedAt` to its time (forward only), whether or not it produced events, so an
 * older read handled after it is stale; anything else leaves `state` as it is. Kept apart from
 * the fold because no event records it: the store keeps it beside the stream.
 */
export const confirm = (command: SessionCommand, state: SessionState): SessionState =>
  command._tag === "Observe" && isAuthoritative(command.source)
    ? confirmedBy(state, command.observedAt)
    : state
