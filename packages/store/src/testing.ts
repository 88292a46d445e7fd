/**
 * Helpers for tests of code that uses the store (`@idtrail/store/testing`): a store in a
 * temporary schema of its own, dropped afterwards, so test files running in parallel on one
 * database never collide, and no test outside the store needs kysely.
 *
 * @since 0.1.0
 */
import { Effect, Layer } from "effect"
import { sql } from "kysely"
import { contextOf } from "./context.ts"
import { EventStore, type EventStoreService, makeEventStore, type StoreOptions } from "./event-store.ts"
import { openStore, type PromiseStore } from "./promise.ts"
import { query } from "./sql-errors.ts"

/** A fresh schema name. */
export const freshSchema = (): string => `idtrail_t_${Math.random().toString(36).slice(2, 10)}`

const drop = (store: PromiseStore | EventStoreService) => {
  const ctx = contextOf(store)
  return query("dropSchema", () => sql.raw(`drop schema if exists "${ctx.schema}" cascade`).execute(ctx.db))
}

/** Drops the store's schema with everything in it (the store stays open; close it afterwards). */
export const dropSchema = (store: PromiseStore | EventStoreService): Promise<void> =>
  Effect.runPromise(Effect.asVoid(drop(store)))

/** A Promise store in a fresh schema; `dispose()` drops the schema and closes the store. */
export const openTemporaryStore = async (
  options: StoreOptions = {},
): Promise<PromiseStore & { readonly dispose: () => Promise<void> }> => {
  const store = await openStore({ ...options, schema: options.schema ?? freshSchema() })
  return Object.assign(store, {
    dispose: async () => {
      await dropSchema(store)
      await store.close()
    },
  })
}

/** The store's layer in a fresh schema, dropped when the layer is released. */
export const temporaryLayer = (options: StoreOptions = {}) =>
  Layer.effect(
    EventStore,
    Effect.acquireRelease(
      makeEventStore({ ...options, schema: options.schema ?? freshSchema() }),
      (service) => Effect.ignore(drop(service)),
    ),
  )
