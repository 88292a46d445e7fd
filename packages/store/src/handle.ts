/**
 * Command handling: read the session's state, let the domain decide, append with the expected
 * version, and on losing a race decide again on the new state (a bounded number of times). This
 * is what the webhook ingester and the reconciler call.
 *
 * @since 0.1.0
 */
import {
  type DecideError,
  decider,
  observeEvent,
  type SessionCommand,
  type SessionEvent,
  type SessionState,
  type StripeEvent,
} from "@idtrail/domain"
import { Effect, Result } from "effect"
import { appendToStream, loadState } from "./append.ts"
import type { StoreContext } from "./context.ts"
import {
  type AppendInputError,
  ConflictRetriesExhausted,
  type CorruptEvent,
  type DatabaseError,
  InvalidArgument,
} from "./errors.ts"
import { checkStreamId } from "./guards.ts"
import type { CommandContext, EventMetadata } from "./metadata.ts"

/** The command produced events, now stored at `positions`. */
export interface EventsAppended {
  readonly _tag: "EventsAppended"
  readonly events: ReadonlyArray<SessionEvent>
  readonly nextVersion: number
  readonly positions: ReadonlyArray<number>
  readonly state: SessionState
}

/** The command changes nothing (a repeated, stale or already-known observation). */
export interface NothingToDo {
  readonly _tag: "NothingToDo"
  readonly version: number
  readonly state: SessionState
}

/** The command's Stripe event was already stored. */
export interface AlreadyRecorded {
  readonly _tag: "AlreadyRecorded"
  readonly stripeEventId: string
}

/** What handling a command did. */
export type HandleResult = EventsAppended | NothingToDo | AlreadyRecorded

/** Everything `handle` can fail with: the domain's refusals, bad input, the database. */
export type HandleError =
  | DecideError
  | AppendInputError
  | ConflictRetriesExhausted
  | CorruptEvent
  | DatabaseError

/** Options of {@link handle}. */
export interface HandleOptions {
  /** How many times to decide again after losing a race for the next version (default 5). */
  readonly maxRetries?: number
}

/** The event metadata a command implies, completed by what the caller says. */
export const metadataFor = (command: SessionCommand, context: CommandContext): EventMetadata => {
  const observe = command._tag === "Observe" ? command : undefined
  const stripeEventId = observe?.stripeEventId ?? null
  return {
    source: observe?.source ?? "local",
    stripeEventId,
    stripeEventType: observe?.stripeEventType ?? null,
    observedAt: command._tag === "Observe" ? command.observedAt : command.requestedAt,
    causationId: context.causationId ?? stripeEventId,
    correlationId: context.correlationId ?? null,
    actor: context.actor,
  }
}

/** Decides `command` on the stream's current state and appends the result. */
export const handle =
  (ctx: StoreContext) =>
  (
    streamId: string,
    command: SessionCommand,
    context: CommandContext,
    options: HandleOptions = {},
  ): Effect.Effect<HandleResult, HandleError> =>
    Effect.gen(function* () {
      const id = yield* Effect.fromResult(checkStreamId(streamId))
      const maxRetries = options.maxRetries ?? 5
      if (!Number.isSafeInteger(maxRetries) || maxRetries < 0) {
        return yield* new InvalidArgument({
          argument: "maxRetries",
          message: `maxRetries must be a non-negative integer, got ${maxRetries}`,
        })
      }
      const metadata = metadataFor(command, context)
      for (let attempt = 0; attempt <= maxRetries; attempt++) {
        const state = yield* loadState(ctx)(id)
        const decision = decider.decide(command, state)
        if (Result.isFailure(decision)) return yield* Effect.fail(decision.failure)
        const events = decision.success
        if (events.length === 0) return { _tag: "NothingToDo", version: state.version, state } as const
        const result = yield* appendToStream(ctx)(id, events, {
          expectedVersion: state.version,
          stripeEventId: metadata.stripeEventId,
          metadata,
          state,
        })
        switch (result._tag) {
          case "Appended":
            return {
              _tag: "EventsAppended",
              events,
              nextVersion: result.nextVersion,
              positions: result.positions,
              state: result.state,
            } as const
          case "Duplicate":
            return { _tag: "AlreadyRecorded", stripeEventId: result.stripeEventId } as const
          case "VersionConflict":
            // Back off a little, with jitter, so racing writers stop colliding in lockstep.
            yield* Effect.sleep(Math.floor(Math.random() * (2 + 4 * attempt)))
        }
      }
      return yield* new ConflictRetriesExhausted({
        streamId: id,
        attempts: maxRetries + 1,
        message: `${id}: lost the race for the next version ${maxRetries + 1} times; try again later`,
      })
    })

/** Handles a decoded Stripe webhook event: the `Observe` it stands for, on its session's stream. */
export const observe =
  (ctx: StoreContext) =>
  (
    event: StripeEvent,
    context: CommandContext,
    options?: HandleOptions,
  ): Effect.Effect<HandleResult, HandleError> =>
    handle(ctx)(event.data.object.id, observeEvent(event), context, options)
