/**
 * `@idtrail/store`: the Postgres event store for Stripe Identity VerificationSessions. Appends in
 * one round trip, a global order that never skips a late commit, the inline session projection,
 * asynchronous projections, audit queries, and an embedded PGlite when there is no database.
 *
 * @since 0.1.0
 */
export type { Appended, AppendOptions, AppendResult, Duplicate, VersionConflict } from "./append.ts"
export type {
  Audit,
  FailureCount,
  HistoryEntry,
  RedactionEntry,
  StatusCount,
  TimeToVerified,
  TimeWindow,
  TransitionCount,
} from "./audit.ts"
export type {
  AuditReportQueries,
  DailyFailureCount,
  Funnel,
  HistogramBucket,
  KindCount,
  RunRecord,
  RunRecorder,
  RunReport,
  SessionCursor,
  SessionRow,
} from "./audit-report.ts"
export * from "./crypto/errors.ts"
export {
  ephemeralKeyEncryption,
  KeyEncryption,
  type KeyEncryptionService,
  keyEncryptionFromEnv,
  localKeyEncryption,
} from "./crypto/kek.ts"
export type { ErasedSession } from "./crypto/session-keys.ts"
export type { ConnectionOptions } from "./database.ts"
export type { Erased, Erasure, ErasureRequest } from "./erasure.ts"
export * from "./errors.ts"
export { EventStore, type EventStoreService, makeEventStore, type StoreOptions } from "./event-store.ts"
export type { Promised } from "./facade.ts"
export type { GroupCommitOptions } from "./group-commit.ts"
export {
  checkStreamId,
  findForbidden,
  forbiddenKeys,
  isForbiddenKey,
  maxEventBytes,
  maxStreamIdLength,
} from "./guards.ts"
export type {
  AlreadyRecorded,
  EventsAppended,
  HandleError,
  HandleOptions,
  HandleResult,
  NothingToDo,
  WouldAppend,
} from "./handle.ts"
export type { HeldBack } from "./held-back.ts"
export { Actor, type CommandContext, EventMetadata, EventSource } from "./metadata.ts"
export { defaultSchema, isValidSchemaName } from "./migrations.ts"
export type { PoolState, RoundStatus } from "./pool-state.ts"
export type { CatchUpResult, Projection, ProjectionOptions, ProjectionProgress } from "./projections.ts"
export { openStore, type PromiseStore } from "./promise.ts"
export type { Checkpoint, ReadAllOptions, ReadAllPage, RecordedEvent } from "./read.ts"
export type { CursorKind, QuarantinedSession, QuarantineEntry, RunState } from "./run-state.ts"
export {
  type CreatedSession,
  checkFilter,
  maxPage,
  type SessionFilter,
  type SessionQueries,
  type UnsettledSession,
} from "./sessions.ts"
export { type EventTypeVersions, type EventVersions, type Upcaster, versionKey } from "./upcasting.ts"
export type {
  KeepOptions,
  Kept,
  ProvidedDetails as VaultProvidedDetails,
  ReadOptions as VaultReadOptions,
  Vault,
  VaultContents,
  VaultValues,
} from "./vault.ts"
