/**
 * A simulator playing Stripe over HTTP, a store in a schema of its own, and the reconciler's
 * Stripe reader pointed at the simulator.
 */
import { type SimulatorOptions, type StartedSimulator, startSimulator } from "@idtrail/simulator"
import type { PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import Stripe from "stripe"
import { apiVersion, type StripeApiOptions, type StripeApiService, stripeApi } from "../src/index.ts"

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
  /** The reconciler's reader (no retries unless asked: failing tests fail fast). */
  readonly api: (options?: Partial<StripeApiOptions>) => StripeApiService
  readonly eventCount: () => Promise<number>
  readonly dispose: () => Promise<void>
}

export const openWorld = async (
  databaseUrl: string | undefined,
  sessions = 0,
  simulator: Partial<SimulatorOptions> = {},
): Promise<World> => {
  const sim = await startSimulator({ sessions, seed: 7, rateLimit: false, ...simulator })
  const store = await openTemporaryStore({ databaseUrl })
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
      stripeApi({ apiKey: KEY, baseUrl: sim.url, maxRequestsPerSecond: 1000, maxRetries: 0, ...options }),
    eventCount: async () => {
      let n = 0
      for await (const page of store.readAllPages({ after: null })) n += page.events.length
      return n
    },
    dispose: async () => {
      await store.dispose()
      await sim.close()
    },
  }
}
