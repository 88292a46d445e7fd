/**
 * A simulator playing Stripe over HTTP, a store in a schema of its own, and the reconciler's
 * Stripe reader pointed at the simulator.
 */
import { type SimulatorOptions, type StartedSimulator, startSimulator } from "@idtrail/simulator"
import type { PromiseStore, RecordedEvent } from "@idtrail/store"
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
    eventCount: async () => (await everyEvent(store)).length,
    dispose: async () => {
      await store.dispose()
      await sim.close()
    },
  }
}

/**
 * Every event of the log, read through the global order. On a server shared with other work
 * (other test files' transactions, in any schema) the order stops at the oldest open
 * transaction and says so (`heldBack`): read again until nothing holds it back.
 */
export const everyEvent = async (store: PromiseStore): Promise<ReadonlyArray<RecordedEvent>> => {
  for (let attempt = 0; ; attempt++) {
    const all: Array<RecordedEvent> = []
    let held = false
    for await (const page of store.readAllPages({ after: null })) {
      all.push(...page.events)
      if (page.heldBack !== undefined) held = true
    }
    if (!held || attempt >= 200) return all
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
