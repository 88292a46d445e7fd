/**
 * A simulator playing Stripe over HTTP, a store in a schema of its own, and the reconciler's
 * Stripe reader pointed at the simulator.
 */
import { type StartedSimulator, startSimulator } from "@idtrail/simulator"
import { openStore, type PromiseStore } from "@idtrail/store"
import { sql } from "kysely"
import Stripe from "stripe"
import { apiVersion, type StripeApi, type StripeApiOptions, stripeApi } from "../src/index.ts"

export const KEY = "sk_test_reconciler"

/** The backends every test runs on: PGlite always, Postgres when DATABASE_URL is set. */
export const backends: ReadonlyArray<{ readonly name: string; readonly databaseUrl: string | undefined }> = [
  { name: "pglite", databaseUrl: undefined },
  ...(process.env.DATABASE_URL ? [{ name: "postgres", databaseUrl: process.env.DATABASE_URL }] : []),
]

export interface World {
  readonly sim: StartedSimulator
  readonly store: PromiseStore
  /** The SDK, as a user of Stripe (creates and changes sessions). */
  readonly stripe: Stripe
  /** The reconciler's reader. */
  readonly api: (options?: Partial<StripeApiOptions>) => StripeApi
  readonly eventCount: () => Promise<number>
  readonly dispose: () => Promise<void>
}

export const openWorld = async (databaseUrl: string | undefined, sessions = 0): Promise<World> => {
  const sim = await startSimulator({ sessions, seed: 7, rateLimit: false })
  const schema = `idtrail_r_${Math.random().toString(36).slice(2, 10)}`
  const store = await openStore({ databaseUrl, schema })
  const url = new URL(sim.url)
  const stripe = new Stripe(KEY, {
    apiVersion,
    host: url.hostname,
    port: Number(url.port),
    protocol: "http",
    maxNetworkRetries: 0,
  })
  return {
    sim,
    store,
    stripe,
    api: (options = {}) =>
      stripeApi({
        apiKey: KEY,
        baseUrl: sim.url,
        maxRequestsPerSecond: 1000,
        maxNetworkRetries: 0,
        ...options,
      }),
    eventCount: async () =>
      Number(
        (
          await sql<{ n: string }>`select count(*) as n from ${sql.raw(`"${schema}".events`)}`.execute(
            store.service.db,
          )
        ).rows[0]!.n,
      ),
    dispose: async () => {
      if (databaseUrl !== undefined)
        await sql.raw(`drop schema if exists "${schema}" cascade`).execute(store.service.db)
      await store.close()
      await sim.close()
    },
  }
}
