/**
 * Local requests (cancel, redact, update): guarded by the lifecycle's action rules and Stripe's
 * parameter limits, and recorded as intent events before anything is sent to Stripe.
 *
 * @since 0.1.0
 */
import { Result } from "effect"
import type { RequestCancel, RequestRedact, RequestUpdate } from "./commands.ts"
import { type DecideError, InvalidRequest, SessionNotFound, TransitionNotAllowed } from "./errors.ts"
import type { SessionEvent } from "./events.ts"
import { isRedacted, type SessionFacts } from "./facts.ts"
import { type Action, isActionAllowed } from "./lifecycle.ts"
import { maskMetadata } from "./secrets.ts"
import type { SessionState } from "./state.ts"

type Requested = Result.Result<ReadonlyArray<SessionEvent>, DecideError>

const guard = (
  action: Action,
  sessionId: string,
  state: SessionState,
): Result.Result<SessionFacts, DecideError> => {
  if (state.facts === null || state.sessionId !== sessionId) {
    return Result.fail(
      new SessionNotFound({
        sessionId,
        action,
        message: `cannot ${action} ${sessionId}: no session with this id has been observed`,
      }),
    )
  }
  const status = state.facts.status
  if (!isActionAllowed(action, status)) {
    return Result.fail(
      new TransitionNotAllowed({
        sessionId,
        status,
        action,
        message: `cannot ${action} ${sessionId}: its status is ${status}`,
      }),
    )
  }
  if (isRedacted(state.facts.redactionStatus)) {
    return Result.fail(
      new TransitionNotAllowed({
        sessionId,
        status,
        action,
        message: `cannot ${action} ${sessionId}: it is redacted`,
      }),
    )
  }
  return Result.succeed(state.facts)
}

const METADATA_KEYS = 50
const METADATA_KEY_LENGTH = 40
const METADATA_VALUE_LENGTH = 500

const validateUpdate = (command: RequestUpdate): InvalidRequest | undefined => {
  if (command.type !== undefined && command.type !== "document" && command.type !== "id_number") {
    return new InvalidRequest({
      param: "type",
      message: `type must be "document" or "id_number", got ${JSON.stringify(command.type)}`,
    })
  }
  const metadata = command.metadata ?? {}
  const keys = Object.keys(metadata)
  if (keys.length > METADATA_KEYS) {
    return new InvalidRequest({ param: "metadata", message: `metadata has ${keys.length} keys; at most 50` })
  }
  for (const key of keys) {
    if (key.length === 0 || key.length > METADATA_KEY_LENGTH || key.includes("[") || key.includes("]")) {
      return new InvalidRequest({
        param: `metadata[${key}]`,
        message: "metadata keys are 1 to 40 characters, without [ or ]",
      })
    }
    if ((metadata[key] ?? "").length > METADATA_VALUE_LENGTH) {
      return new InvalidRequest({
        param: `metadata[${key}]`,
        message: "metadata values are at most 500 characters",
      })
    }
  }
  return undefined
}

/** A cancel request, if Stripe would accept it now. */
export const requestCancel = (command: RequestCancel, state: SessionState): Requested =>
  Result.map(guard("cancel", command.sessionId, state), () => [
    { _tag: "CancelRequested", sessionId: command.sessionId, at: command.requestedAt } as const,
  ])

/** A redact request, if Stripe would accept it now. */
export const requestRedact = (command: RequestRedact, state: SessionState): Requested =>
  Result.map(guard("redact", command.sessionId, state), () => [
    { _tag: "RedactionRequested", sessionId: command.sessionId, at: command.requestedAt } as const,
  ])

/** An update request, if its parameters are valid and Stripe would accept it now. */
export const requestUpdate = (command: RequestUpdate, state: SessionState): Requested => {
  const invalid = validateUpdate(command)
  if (invalid !== undefined) return Result.fail(invalid)
  return Result.map(guard("update", command.sessionId, state), (): ReadonlyArray<SessionEvent> => {
    const event: {
      -readonly [K in keyof Extract<SessionEvent, { _tag: "UpdateRequested" }>]: Extract<
        SessionEvent,
        { _tag: "UpdateRequested" }
      >[K]
    } = {
      _tag: "UpdateRequested",
      sessionId: command.sessionId,
      at: command.requestedAt,
      providedDetailsFields: (["email", "phone"] as const).filter(
        (k) => command.provided_details?.[k] !== undefined,
      ),
    }
    if (command.metadata !== undefined) {
      // The merchant's values go to Stripe as they are; the log keeps secret-shaped ones masked.
      const masked: Array<string> = []
      event.metadata = maskMetadata(command.metadata, masked)
      if (masked.length > 0) event.masked = masked
    }
    if (command.options !== undefined) event.options = command.options
    if (command.type === "document" || command.type === "id_number") event.type = command.type
    return [event]
  })
}
