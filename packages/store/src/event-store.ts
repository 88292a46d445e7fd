/**
 * The event store as an Effect service: `EventStore`, with layers for a `DATABASE_URL`, an
 * embedded PGlite, or whichever the environment says.
 *
 * Opening a store connects, migrates (unless told not to) and checks the transaction ids: a log
 * restored into a new cluster by a logical dump carries transaction ids the server has not
 * reached yet, and readers would skip events written after the restore, so the store refuses to
 * start (`TransactionIdsAhead`).
 *
 * @since 0.1.0
 */
import type { SessionCommand, SessionEvent, SessionState, StripeEvent } from "@idtrail/domain"
import { Config, Context, Effect, Layer, Option, type Scope, type Stream } from "effect"
import { sql } from "kysely"
import { type AppendOptions, type AppendResult, appendToStream, loadState } from "./append.ts"
import { type Audit, audit } from "./audit.ts"
import { type AuditReportQueries, auditReport, type RunRecorder, runRecorder } from "./audit-report.ts"
import { makeContext, registerContext, type StoreContext } from "./context.ts"
import { makePersonalCodec, registerCodec } from "./crypto/codec.ts"
import type { KeyEncryptionKeyInvalid, KeyEncryptionKeyMissing } from "./crypto/errors.ts"
import { type KeyEncryptionService, keyEncryptionFromEnv } from "./crypto/kek.ts"
import { withPersonalData } from "./crypto/service.ts"
import { checkKeyEncryption, sessionKeys } from "./crypto/session-keys.ts"
import { type ConnectionOptions, connect } from "./database.ts"
import { type Erasure, erasure } from "./erasure.ts"
import {
  type AppendInputError,
  type CorruptEvent,
  type DatabaseError,
  InvalidArgument,
  type InvalidStreamId,
  TransactionIdsAhead,
} from "./errors.ts"
import { checkGroupCommitOptions, type GroupCommitOptions } from "./group-commit.ts"
import { checkStreamId } from "./guards.ts"
import { type HandleError, type HandleOptions, type HandleResult, handle, observe } from "./handle.ts"
import type { CommandContext } from "./metadata.ts"
import { defaultSchema, isValidSchemaName, migrate } from "./migrations.ts"
import { type PoolState, poolState } from "./pool-state.ts"
import {
  type CatchUpResult,
  catchUp,
  checkpointOf,
  type Projection,
  type ProjectionOptions,
  type ProjectionProgress,
  rebuildProjection,
  rebuildSessions,
  subscribe,
} from "./projections.ts"
import {
  type Checkpoint,
  type ReadAllOptions,
  type ReadAllPage,
  type RecordedEvent,
  readAll,
  readAllPages,
  readStream,
} from "./read.ts"
import { type RunState, runState } from "./run-state.ts"
import { type SessionQueries, sessions } from "./sessions.ts"
import { query } from "./sql-errors.ts"
import { checkEventVersions, type EventVersions } from "./upcasting.ts"
import { type Vault, vault } from "./vault.ts"

/** How to open a store. */
export interface StoreOptions extends ConnectionOptions {
  /** The Postgres schema holding the store's tables (default `idtrail`). */
  readonly schema?: string | undefined
  /** Run the migrations when opening (default `true`). */
  readonly migrate?: boolean | undefined
  /** How concurrent appends share round trips and commits (see `group-commit.ts`). */
  readonly groupCommit?: GroupCommitOptions | undefined
  /**
   * The event shapes this code writes and the upcasters from older ones (default: idtrail's own,
   * `event-versions.ts`). Replace only to test an upgrade (see `upcasting.ts`).
   */
  readonly eventVersions?: EventVersions | undefined
  /**
   * Personal values under per-session keys (see the README's "Personal data and erasure"):
   * a key-encryption key (`keyEncryption`), or `"off"` (kept in clear; erasure refused). When
   * absent: `IDTRAIL_KEK` / `IDTRAIL_KEK_FILE` from the environment, else off. A schema whose
   * keys are wrapped by a KEK refuses to open without that KEK (`KeyEncryptionKeyMissing`) or
   * with another (`KeyEncryptionKeyInvalid`).
   */
  readonly encryption?:
    | { readonly keyEncryption: KeyEncryptionService; readonly keyCacheMs?: number | undefined }
    | "off"
    | undefined
}

/** The store's operations. Every one is an Effect; bad input fails before anything is written. */
export interface EventStoreService {
  /** The Postgres schema in use. */
  readonly schema: string
  /** `postgres` on a `DATABASE_URL`, `pglite` when embedded. */
  readonly kind: "postgres" | "pglite"
  /** The URL the store's pool connects to (for PGlite, its embedded server's). */
  readonly url: string
  /** Brings the schema up to date (idempotent, safe from several processes). */
  readonly migrate: () => Effect.Effect<void, DatabaseError>
  /** Appends a batch in one round trip; see {@link AppendResult}. */
  readonly appendToStream: (
    streamId: string,
    events: ReadonlyArray<SessionEvent>,
    options: AppendOptions,
  ) => Effect.Effect<AppendResult, AppendInputError | CorruptEvent | DatabaseError | KeyEncryptionKeyInvalid>
  /** Decides a command on the stream's state and appends the outcome (unless `dryRun`), retrying lost races. */
  readonly handle: (
    streamId: string,
    command: SessionCommand,
    context: CommandContext,
    options?: HandleOptions,
  ) => Effect.Effect<HandleResult, HandleError>
  /** Handles a decoded Stripe webhook event on its session's stream. */
  readonly observe: (
    event: StripeEvent,
    context: CommandContext,
    options?: HandleOptions,
  ) => Effect.Effect<HandleResult, HandleError>
  /** The session's current state (the inline projection's row, or the stream folded). */
  readonly state: (
    streamId: string,
  ) => Effect.Effect<SessionState, AppendInputError | CorruptEvent | DatabaseError>
  /** A stream's events in version order. */
  readonly readStream: (
    streamId: string,
    options?: { readonly fromVersion?: number },
  ) => Effect.Effect<
    ReadonlyArray<RecordedEvent>,
    InvalidStreamId | InvalidArgument | CorruptEvent | DatabaseError
  >
  /** The next page of the global order; never skips a late commit. */
  readonly readAll: (
    options: ReadAllOptions,
  ) => Effect.Effect<ReadAllPage, InvalidArgument | CorruptEvent | DatabaseError>
  /** Catch-up: every page after `after` until caught up, the next page fetched while this one decodes. */
  readonly readAllPages: (options: {
    readonly after: Checkpoint | null
    readonly pageSize?: number
  }) => Stream.Stream<ReadAllPage, CorruptEvent | DatabaseError>
  /** An endless stream of batches applied to an asynchronous projection. */
  readonly subscribe: (
    projection: Projection,
    options?: ProjectionOptions,
  ) => Stream.Stream<ProjectionProgress, CorruptEvent | DatabaseError>
  /**
   * Applies batches to a projection until it has caught up, or is held back by an open
   * transaction (`heldBack`); returns the events applied, the checkpoint and the lag.
   */
  readonly catchUp: (
    projection: Projection,
    options?: ProjectionOptions,
  ) => Effect.Effect<CatchUpResult, CorruptEvent | DatabaseError>
  /** A projection's saved checkpoint. */
  readonly checkpoint: (name: string) => Effect.Effect<Checkpoint | null, DatabaseError>
  /**
   * Truncate + replay: an asynchronous projection, or `"verification_sessions"` (the inline
   * projection). Returns the number of events (or sessions) replayed.
   */
  readonly rebuild: (
    projection: Projection | "verification_sessions",
    options?: ProjectionOptions,
  ) => Effect.Effect<number, CorruptEvent | DatabaseError>
  /** The audit queries, and those of the audit views (`audit-report.ts`). */
  readonly audit: Audit & AuditReportQueries
  /** Paged queries on the sessions' projection, for jobs that walk every session (the reconciler). */
  readonly sessions: SessionQueries
  /** A scheduled job's state between runs: lease, cursors, quarantined sessions (the reconciler). */
  readonly runState: RunState & RunRecorder & PoolState
  /** Erasing a session's personal data (destroying its key), and the list of erased sessions. */
  readonly erasure: Erasure
  /** The opt-in vault: verified outputs and provided details, encrypted, with a retention; reads recorded. */
  readonly vault: Vault
  /** `encrypted` when personal values are kept under per-session keys, `clear` when not. */
  readonly personalData: "encrypted" | "clear"
}

/** Refuses to start when the log holds transaction ids the server has not reached (a restore into a new cluster). */
export const checkTransactionIds = (
  ctx: StoreContext,
): Effect.Effect<void, TransactionIdsAhead | DatabaseError> =>
  Effect.gen(function* () {
    const result = yield* query("checkTransactionIds", () =>
      sql<{ stored_max: string | null; server_next: string }>`select
          (select transaction_id from ${ctx.ref("events")} order by transaction_id desc limit 1)::text as stored_max,
          pg_snapshot_xmax(pg_current_snapshot())::text as server_next`.execute(ctx.db),
    )
    const row = result.rows[0]!
    if (row.stored_max !== null && BigInt(row.stored_max) >= BigInt(row.server_next)) {
      return yield* new TransactionIdsAhead({
        storedMax: row.stored_max,
        serverNext: row.server_next,
        message:
          `the event log in schema ${ctx.schema} holds transaction id ${row.stored_max}, but the server is only at ` +
          `${row.server_next}: it was restored into another cluster, and readers would skip new events. ` +
          "Re-append the log into a fresh schema (or advance the cluster's transaction ids) before starting.",
      })
    }
  })

/** With `migrate: false`, the schema must already hold the event log. */
const checkMigrated = (ctx: StoreContext): Effect.Effect<void, InvalidArgument | DatabaseError> =>
  Effect.flatMap(
    query("checkMigrated", () =>
      sql<{
        present: boolean
      }>`select to_regclass(${`"${ctx.schema}".events`}) is not null as present`.execute(ctx.db),
    ),
    (result) =>
      result.rows[0]?.present === true
        ? Effect.void
        : Effect.fail(
            new InvalidArgument({
              argument: "migrate",
              message:
                `schema ${ctx.schema} has no event log yet and migrate is false: run the migrations first ` +
                "(`idtrail migrate`, or open the store with migrate: true)",
            }),
          ),
  )

/** Opens a store in the current scope: connect, migrate, check. Closed when the scope closes. */
export const makeEventStore = (
  options: StoreOptions = {},
): Effect.Effect<
  EventStoreService,
  InvalidArgument | TransactionIdsAhead | DatabaseError | KeyEncryptionKeyMissing | KeyEncryptionKeyInvalid,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const schema = options.schema ?? defaultSchema
    if (!isValidSchemaName(schema)) {
      return yield* new InvalidArgument({
        argument: "schema",
        message: `schema ${JSON.stringify(schema)} must be lower-case letters, digits and _, at most 63 characters`,
      })
    }
    const groupCommitProblem = checkGroupCommitOptions(options.groupCommit ?? {})
    if (groupCommitProblem !== undefined) {
      return yield* new InvalidArgument({ argument: "groupCommit", message: groupCommitProblem })
    }
    const keyCacheMs =
      typeof options.encryption === "object" ? (options.encryption.keyCacheMs ?? 10_000) : 10_000
    if (!Number.isSafeInteger(keyCacheMs) || keyCacheMs < 0) {
      return yield* new InvalidArgument({
        argument: "encryption.keyCacheMs",
        message: `keyCacheMs must be a non-negative integer, got ${String(keyCacheMs)}`,
      })
    }
    // Before connecting: a malformed IDTRAIL_KEK is refused with nothing opened.
    const configuredKek =
      options.encryption === "off"
        ? undefined
        : typeof options.encryption === "object"
          ? options.encryption.keyEncryption
          : yield* keyEncryptionFromEnv(process.env)
    const versionsProblem = checkEventVersions(options.eventVersions ?? {})
    if (versionsProblem !== undefined) {
      return yield* new InvalidArgument({ argument: "eventVersions", message: versionsProblem })
    }
    const connection = yield* Effect.acquireRelease(
      query("connect", () => connect(options)),
      (c) => Effect.promise(() => c.close()),
    )
    const ctx = makeContext(connection, schema, options.groupCommit, options.eventVersions)
    const runMigrations = () => query("migrate", () => migrate(ctx.db, schema))
    if (options.migrate !== false) yield* runMigrations()
    // Without migrating, a schema that was never migrated would fail below on a missing table:
    // say what to do instead.
    if (options.migrate === false) yield* checkMigrated(ctx)
    yield* checkTransactionIds(ctx)
    // Refuses a wrong KEK, and a missing one for a schema whose keys are wrapped by one.
    yield* checkKeyEncryption(ctx, configuredKek)
    // Without a KEK the store is as it was before encryption: no codec, no wrapping, no cost.
    const codec =
      configuredKek === undefined
        ? undefined
        : makePersonalCodec("encrypted", sessionKeys(ctx, configuredKek, keyCacheMs))
    if (codec !== undefined) registerCodec(ctx, codec)
    const service: EventStoreService = {
      schema,
      kind: connection.kind,
      url: connection.url,
      migrate: runMigrations,
      appendToStream: appendToStream(ctx),
      handle: handle(ctx),
      observe: observe(ctx),
      state: (streamId) => Effect.flatMap(Effect.fromResult(checkStreamId(streamId)), loadState(ctx)),
      readStream: readStream(ctx),
      readAll: readAll(ctx),
      readAllPages: readAllPages(ctx),
      subscribe: subscribe(ctx),
      catchUp: catchUp(ctx),
      checkpoint: checkpointOf(ctx),
      rebuild: (projection, opts) =>
        projection === "verification_sessions"
          ? rebuildSessions(ctx)(opts?.batchSize === undefined ? {} : { batchSize: opts.batchSize })
          : rebuildProjection(ctx)(projection, opts),
      audit: { ...audit(ctx), ...auditReport(ctx) },
      sessions: sessions(ctx),
      runState: { ...runState(ctx), ...runRecorder(ctx), ...poolState(ctx) },
      erasure: erasure(ctx),
      vault: vault(ctx),
      personalData: codec === undefined ? "clear" : "encrypted",
    }
    return registerContext(codec === undefined ? service : withPersonalData(service, codec), ctx)
  })

/** The store as a service. */
export class EventStore extends Context.Service<EventStore, EventStoreService>()(
  "@idtrail/store/EventStore",
) {
  /** A store opened with explicit options. */
  static readonly layer = (options: StoreOptions = {}) => Layer.effect(EventStore, makeEventStore(options))

  /** A store on a real Postgres. */
  static readonly layerPostgres = (databaseUrl: string, options: Omit<StoreOptions, "databaseUrl"> = {}) =>
    EventStore.layer({ ...options, databaseUrl })

  /** A store on an embedded PGlite (in `dataDir`; without one, a temporary directory). */
  static readonly layerPglite = (options: Omit<StoreOptions, "databaseUrl"> = {}) =>
    EventStore.layer({ ...options, databaseUrl: undefined })

  /** `DATABASE_URL` when set, else an embedded PGlite in a temporary directory. */
  static readonly layerFromEnv = (options: Omit<StoreOptions, "databaseUrl"> = {}) =>
    Layer.unwrap(
      Effect.map(Config.option(Config.String("DATABASE_URL")), (url) =>
        EventStore.layer({ ...options, databaseUrl: Option.getOrUndefined(url) }),
      ).pipe(Effect.orDie),
    )
}
