/**
 * Command handling: read the session's state, let the domain decide (and fold what it decided),
 * append with the expected version, and on losing a race decide again on the new state (a bounded
 * number of times, backing off on a `Schedule`). A dry run stops after deciding. This is what the
 * webhook ingester and the reconciler call.
 *
 * @since 0.1.0
 */
import {
  accountKeyOf,
  accountOf,
  confirm,
  type DecideError,
  decideAndFold,
  erasePersonalSession,
  isRedacted,
  observeEvent,
  type SessionCommand,
  type SessionEvent,
  type SessionState,
  type StripeEvent,
  sessionHoldsPersonal,
} from "@idtrail/domain"
import { Data, Effect, Schedule } from "effect"
import { appendFolded, loadState } from "./append.ts"
import { confirmSession } from "./confirm.ts"
import type { StoreContext } from "./context.ts"
import { codecOf } from "./crypto/codec.ts"
import type { EncryptionOff, KeyEncryptionKeyInvalid } from "./crypto/errors.ts"
import { eraseSession } from "./erasure.ts"
import {
  type AppendInputError,
  ConflictRetriesExhausted,
  type CorruptEvent,
  type DatabaseError,
  InvalidArgument,
} from "./errors.ts"
import { checkStreamId } from "./guards.ts"
import { type CommandContext, type EventMetadata, withSessionAccount } from "./metadata.ts"

/** The command produced events, now stored at `positions`. */
export interface EventsAppended {
  readonly _tag: "EventsAppended"
  readonly events: ReadonlyArray<SessionEvent>
  readonly nextVersion: number
  readonly positions: ReadonlyArray<number>
  readonly state: SessionState
}

/**
 * The command changes nothing (a repeated, stale or already-known observation). An authoritative
 * read may still have moved the session's `confirmedAt` (no event, same version).
 */
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

/** A dry run's decision: the events the command would append on the stream at `version`, and the state after them. Nothing was written. */
export interface WouldAppend {
  readonly _tag: "WouldAppend"
  readonly events: ReadonlyArray<SessionEvent>
  /** The stream's version the events were decided on (before them). */
  readonly version: number
  /** The session's state after the events. */
  readonly state: SessionState
}

/** What handling a command did (or, for a dry run, would do). */
export type HandleResult = EventsAppended | NothingToDo | AlreadyRecorded | WouldAppend

/** Everything `handle` can fail with: the domain's refusals, bad input, the database. */
export type HandleError =
  | DecideError
  | AppendInputError
  | ConflictRetriesExhausted
  | CorruptEvent
  | DatabaseError
  | KeyEncryptionKeyInvalid
  | EncryptionOff

/** Options of {@link handle}. */
export interface HandleOptions {
  /** How many times to decide again after losing a race for the next version (default 5). */
  readonly maxRetries?: number
  /** Decide only: return `WouldAppend` (or `NothingToDo`) and write nothing. */
  readonly dryRun?: boolean
}

/**
 * The event metadata a command implies, completed by what the caller says. The account and
 * `livemode` are the observation's (the account it was seen through, the snapshot's mode); a
 * request's are the session's, from `state`.
 */
export const metadataFor = (
  command: SessionCommand,
  context: CommandContext,
  state?: SessionState,
): EventMetadata => {
  const observe = command._tag === "Observe" ? command : undefined
  const stripeEventId = observe?.stripeEventId ?? null
  const account =
    observe === undefined ? (state === undefined ? null : accountOf(state)) : accountKeyOf(observe.account)
  const livemode = observe === undefined ? state?.facts?.livemode : observe.session.livemode
  return withSessionAccount(
    {
      source: observe?.source ?? "local",
      stripeEventId,
      stripeEventType: observe?.stripeEventType ?? null,
      observedAt: command._tag === "Observe" ? command.observedAt : command.requestedAt,
      causationId: context.causationId ?? stripeEventId,
      correlationId: context.correlationId ?? null,
      actor: context.actor,
    },
    account,
    livemode,
  )
}

/** Lost the race for the next version: decide again on the new state. Never leaves this module. */
class LostRace extends Data.TaggedError("LostRace") {}

// Racing writers back off a little, with jitter, so they stop colliding in lockstep.
const raceBackoff = Schedule.jittered(Schedule.exponential("2 millis", 2))

const checkMaxRetries = (maxRetries: unknown): Effect.Effect<number, InvalidArgument> =>
  Number.isSafeInteger(maxRetries) && (maxRetries as number) >= 0
    ? Effect.succeed(maxRetries as number)
    : Effect.fail(
        new InvalidArgument({
          argument: "maxRetries",
          message: `maxRetries must be a non-negative integer, got ${String(maxRetries)}`,
        }),
      )

/**
 * Decides `command` on the stream's current state and, unless `dryRun`, appends the outcome with
 * the version it was decided on; a lost race is decided again on the new state, at most
 * `maxRetries` times.
 */
export const handle = (ctx: StoreContext) => {
  const append = appendFolded(ctx)
  const confirmOnly = confirmSession(ctx)
  return Effect.fn("store.handle")(function* (
    streamId: string,
    command: SessionCommand,
    context: CommandContext,
    options: HandleOptions = {},
  ): Effect.fn.Return<HandleResult, HandleError> {
    const id = yield* Effect.fromResult(checkStreamId(streamId))
    const maxRetries = yield* checkMaxRetries(options.maxRetries ?? 5)
    const codec = codecOf(ctx)
    const once = Effect.gen(function* () {
      const stored = yield* loadState(ctx)(id)
      // Decided on plain values; an erased session's observation is decided without its
      // personal values, so an old payload brings nothing back.
      const state = codec === undefined ? stored : yield* codec.readState(id, stored)
      const erased =
        codec !== undefined &&
        command._tag === "Observe" &&
        sessionHoldsPersonal(command.session) &&
        (yield* codec.isErased(id))
      const decidedOn =
        erased && command._tag === "Observe"
          ? { ...command, session: erasePersonalSession(command.session) }
          : command
      const decided = yield* Effect.fromResult(decideAndFold(decidedOn, state))
      const metadata = metadataFor(command, context, state)
      // The confirm step: an authoritative read moves confirmedAt, with or without events.
      const after = confirm(command, decided.state)
      if (decided.events.length === 0) {
        if (after !== decided.state && options.dryRun !== true) {
          // Nothing to record, but older observations are stale from now on; on the version decided.
          const moved = yield* confirmOnly(id, state.version, after.confirmedAt!)
          if (!moved) return yield* new LostRace()
        }
        return { _tag: "NothingToDo", version: state.version, state: after } as const
      }
      if (options.dryRun === true) {
        return {
          _tag: "WouldAppend",
          events: decided.events,
          version: state.version,
          state: after,
        } as const
      }
      const written =
        codec === undefined
          ? { events: decided.events, states: [stored, after] }
          : yield* codec.forWriting(id, decided.events, [stored, after])
      const result = yield* append(id, written.events, {
        expectedVersion: state.version,
        stripeEventId: metadata.stripeEventId,
        metadata,
        state: written.states[0],
        expectedConfirmedAt: state.confirmedAt ?? null,
        after: written.states[1]!,
      })
      switch (result._tag) {
        case "Appended":
          // A redaction observed from any source destroys the session's key (crypto-shredding).
          if (
            codec?.mode === "encrypted" &&
            isRedacted(after.facts?.redactionStatus ?? null) &&
            !(yield* codec.isErased(id))
          ) {
            yield* eraseSession(ctx)(id, {
              actor: context.actor,
              reason: `redacted at Stripe (${after.facts?.redactionStatus}), seen by ${metadata.source}`,
            })
          }
          return {
            _tag: "EventsAppended",
            events: decided.events,
            nextVersion: result.nextVersion,
            positions: result.positions,
            state: codec === undefined ? result.state : after,
          } as const
        case "Duplicate":
          return { _tag: "AlreadyRecorded", stripeEventId: result.stripeEventId } as const
        case "VersionConflict":
          return yield* new LostRace()
      }
    })
    return yield* once.pipe(
      Effect.retry({ schedule: raceBackoff, times: maxRetries, while: (e) => e._tag === "LostRace" }),
      Effect.catchTag("LostRace", () =>
        Effect.fail(
          new ConflictRetriesExhausted({
            streamId: id,
            attempts: maxRetries + 1,
            message: `${id}: lost the race for the next version ${maxRetries + 1} times; try again later`,
          }),
        ),
      ),
    )
  })
}

/**
 * Handles a decoded Stripe webhook event: the `Observe` it stands for, on its session's stream,
 * under the event's connected account when it has one (Connect), else the default account (an
 * endpoint of another platform account names it: `@idtrail/webhooks`' `account`).
 */
export const observe = (ctx: StoreContext) => {
  const handleIn = handle(ctx)
  return (
    event: StripeEvent,
    context: CommandContext,
    options?: HandleOptions,
  ): Effect.Effect<HandleResult, HandleError> =>
    handleIn(event.data.object.id, observeEvent(event), context, options)
}
