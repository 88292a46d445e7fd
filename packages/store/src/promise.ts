/**
 * The Promise facade for teams that do not use Effect, derived from the Effect service (see
 * `facade.ts`): the same operations under the same names, resolving to the same values, rejecting
 * with the same tagged errors (check `error._tag`). A `ManagedRuntime` over the store's layer owns
 * the connection; `close()` disposes it.
 *
 * @since 0.1.0
 */
import { ManagedRuntime } from "effect"
import { EventStore, type EventStoreService, type StoreOptions } from "./event-store.ts"
import { type Promised, promised, type Runner } from "./facade.ts"

/** The store, with Promises: every operation of {@link EventStoreService}, derived. */
export type PromiseStore = Promised<EventStoreService> & {
  /** The Effect service underneath, so Promise callers can hand the store to Effect code. */
  readonly service: EventStoreService
  /** Closes the pool (and the embedded PGlite). */
  close(): Promise<void>
}

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
  const runtime = ManagedRuntime.make(EventStore.layer(options))
  const run: Runner = (effect) => runtime.runPromise(effect)
  let service: EventStoreService
  try {
    service = await runtime.runPromise(EventStore)
  } catch (error) {
    await runtime.dispose()
    throw error
  }
  return { ...promised(service, run), service, close: () => runtime.dispose() }
}
