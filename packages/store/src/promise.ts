/**
 * A small Promise facade for teams that do not use Effect: the same operations, resolving to
 * the same values, rejecting with the same tagged errors (check `error._tag`).
 *
 * @since 0.1.0
 */
import type { SessionCommand, SessionEvent, SessionState, StripeEvent } from "@idtrail/domain"
import { Effect, Exit, Scope, Stream } from "effect"
import { type AppendOptions, type AppendResult, appendToStreamPromise } from "./append.ts"
import type {
  FailureCount,
  HistoryEntry,
  RedactionEntry,
  StatusCount,
  TimeToVerified,
  TimeWindow,
  TransitionCount,
} from "./audit.ts"
import type { StoreContext } from "./context.ts"
import { type EventStoreService, openEventStore, type StoreOptions } from "./event-store.ts"
import type { HandleOptions, HandleResult } from "./handle.ts"
import type { CommandContext } from "./metadata.ts"
import type { Projection, ProjectionOptions } from "./projections.ts"
import type { Checkpoint, ReadAllOptions, ReadAllPage, RecordedEvent } from "./read.ts"
import { runToPromise } from "./run.ts"
import type { CreatedSession } from "./sessions.ts"
import type { WebhookDelivery, WebhookOptions, WebhookResult } from "./webhooks.ts"

/** The store, with Promises. */
export interface PromiseStore {
  readonly schema: string
  readonly kind: "postgres" | "pglite"
  readonly url: string
  /** The Effect service underneath, for code that moves to Effect later. */
  readonly service: EventStoreService
  appendToStream(
    streamId: string,
    events: ReadonlyArray<SessionEvent>,
    options: AppendOptions,
  ): Promise<AppendResult>
  handle(
    streamId: string,
    command: SessionCommand,
    context: CommandContext,
    options?: HandleOptions,
  ): Promise<HandleResult>
  observe(event: StripeEvent, context: CommandContext, options?: HandleOptions): Promise<HandleResult>
  /** Verifies, decodes and records a webhook delivery; rejects with `InvalidSignature`, `InvalidPayload`, … */
  ingestWebhook(delivery: WebhookDelivery, options: WebhookOptions): Promise<WebhookResult>
  state(streamId: string): Promise<SessionState>
  readStream(
    streamId: string,
    options?: { readonly fromVersion?: number },
  ): Promise<ReadonlyArray<RecordedEvent>>
  readAll(options: ReadAllOptions): Promise<ReadAllPage>
  /** Catch-up: every page after `after` until caught up (`for await`). */
  readAllPages(options: {
    readonly after: Checkpoint | null
    readonly pageSize?: number
  }): AsyncIterable<ReadAllPage>
  catchUp(projection: Projection, options?: ProjectionOptions): Promise<number>
  checkpoint(name: string): Promise<Checkpoint | null>
  rebuild(projection: Projection | "verification_sessions", options?: ProjectionOptions): Promise<number>
  readonly audit: {
    history(sessionId: string): Promise<ReadonlyArray<HistoryEntry>>
    stateAt(
      sessionId: string,
      at: Date,
      options?: { readonly clock?: "recorded" | "stripe" },
    ): Promise<SessionState>
    transitions(window: TimeWindow): Promise<ReadonlyArray<TransitionCount>>
    countsByStatus(): Promise<ReadonlyArray<StatusCount>>
    failureReasons(window: TimeWindow): Promise<ReadonlyArray<FailureCount>>
    timeToVerified(window: TimeWindow): Promise<TimeToVerified>
    redactions(): Promise<ReadonlyArray<RedactionEntry>>
  }
  /** Paged queries on the sessions' projection (see `sessions.ts`). */
  readonly sessions: {
    unsettled(options: {
      readonly after: string | null
      readonly limit: number
    }): Promise<ReadonlyArray<string>>
    createdBetween(options: {
      readonly from: number
      readonly to: number | null
      readonly after?: CreatedSession | null | undefined
      readonly limit: number
    }): Promise<ReadonlyArray<CreatedSession>>
  }
  /** Closes the pool (and the embedded PGlite). */
  close(): Promise<void>
}

const run = runToPromise

/**
 * Opens a store: `DATABASE_URL` (or `databaseUrl`) → Postgres, otherwise an embedded PGlite.
 *
 * ```ts
 * const store = await openStore({ databaseUrl: process.env.DATABASE_URL })
 * await store.handle(sessionId, command, { actor: { kind: "service", id: "webhooks" } })
 * await store.close()
 * ```
 */
export const openStore = async (options: StoreOptions = {}): Promise<PromiseStore> => {
  const scope = await Effect.runPromise(Scope.make())
  let s: EventStoreService
  let ctx: StoreContext
  try {
    ;({ service: s, context: ctx } = await run(Scope.provide(openEventStore(options), scope)))
  } catch (error) {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw error
  }
  return {
    schema: s.schema,
    kind: s.kind,
    url: s.url,
    service: s,
    // The hottest path skips the Effect runtime; same validation, same results, same errors.
    appendToStream: appendToStreamPromise(ctx),
    handle: (streamId, command, context, opts) => run(s.handle(streamId, command, context, opts)),
    observe: (event, context, opts) => run(s.observe(event, context, opts)),
    ingestWebhook: (delivery, opts) => run(s.ingestWebhook(delivery, opts)),
    state: (streamId) => run(s.state(streamId)),
    readStream: (streamId, opts) => run(s.readStream(streamId, opts)),
    readAll: (opts) => run(s.readAll(opts)),
    readAllPages: (opts) => Stream.toAsyncIterable(s.readAllPages(opts)),
    catchUp: (projection, opts) => run(s.catchUp(projection, opts)),
    checkpoint: (name) => run(s.checkpoint(name)),
    rebuild: (projection, opts) => run(s.rebuild(projection, opts)),
    audit: {
      history: (id) => run(s.audit.history(id)),
      stateAt: (id, at, opts) => run(s.audit.stateAt(id, at, opts)),
      transitions: (w) => run(s.audit.transitions(w)),
      countsByStatus: () => run(s.audit.countsByStatus()),
      failureReasons: (w) => run(s.audit.failureReasons(w)),
      timeToVerified: (w) => run(s.audit.timeToVerified(w)),
      redactions: () => run(s.audit.redactions()),
    },
    sessions: {
      unsettled: (opts) => run(s.sessions.unsettled(opts)),
      createdBetween: (opts) => run(s.sessions.createdBetween(opts)),
    },
    close: () => Effect.runPromise(Scope.close(scope, Exit.void)),
  }
}
