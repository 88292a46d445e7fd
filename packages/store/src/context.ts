/**
 * What every store operation needs: the kysely handle and the schema's table names.
 *
 * @since 0.1.0
 */
import { type Kysely, type RawBuilder, sql } from "kysely"
import type { Connection } from "./database.ts"
import { eventVersions as idtrailEventVersions } from "./event-versions.ts"
import { type GroupCommit, type GroupCommitOptions, makeGroupCommit } from "./group-commit.ts"
import { makeStateReads, type StateReads } from "./state-reads.ts"
import type { EventVersions } from "./upcasting.ts"

/** An open connection bound to one Postgres schema. */
export interface StoreContext {
  readonly connection: Connection
  readonly db: Kysely<unknown>
  readonly schema: string
  /** A table, view or function of the store's schema, quoted. */
  readonly ref: (name: string) => RawBuilder<unknown>
  /** Quoted, schema-qualified names for hand-written SQL on the hot paths. */
  readonly tables: { readonly events: string }
  /** Sends appends, grouping those that arrive while others are in flight. */
  readonly appends: GroupCommit
  /** Reads session rows, grouping those asked for while others are in flight. */
  readonly stateReads: StateReads
  /** The event shapes writers write, and how readers upcast older ones. */
  readonly eventVersions: EventVersions
}

export const makeContext = (
  connection: Connection,
  schema: string,
  groupCommit: GroupCommitOptions = {},
  eventVersions: EventVersions = idtrailEventVersions,
): StoreContext => ({
  eventVersions,
  connection,
  appends: makeGroupCommit(
    {
      pool: connection.pool,
      schema,
      prepared: connection.kind === "postgres",
      poolSize: connection.pool.options.max,
    },
    groupCommit,
  ),
  stateReads: makeStateReads(connection.pool, schema),
  db: connection.db,
  schema,
  ref: (name) => sql.raw(`"${schema}"."${name}"`),
  tables: { events: `"${schema}".events` },
})

// Each open service's context, for the store's own tests (see `contextOf`); never exported from the package.
const contexts = new WeakMap<object, StoreContext>()

/** Remembers the context a service was built on; returns the service. */
export const registerContext = <S extends object>(service: S, ctx: StoreContext): S => {
  contexts.set(service, ctx)
  return service
}

/**
 * The context of an open store (its service, or a Promise store's `service`): the kysely handle
 * and the schema, for tests that look at the tables. Internal to the store.
 */
export const contextOf = (store: object): StoreContext => {
  const ctx = contexts.get(store) ?? contexts.get((store as { service?: object }).service ?? store)
  if (ctx === undefined) throw new Error("not a store opened by @idtrail/store")
  return ctx
}
