/**
 * `@idtrail/simulator`: a stateful stand-in for Stripe's Identity VerificationSessions API, its
 * Events API and signed webhooks, for tests, benchmarks and sandboxes. Point the official
 * `stripe` SDK at {@link StartedSimulator.url} and drive sessions with
 * {@link StartedSimulator.control}.
 *
 * This module is the whole public API.
 *
 * @module
 */
import type { AddressInfo } from "node:net"
import { makeControl, type SimulatorControl } from "./control.ts"
import { type ApiFaults, FaultInjector, RateLimiter } from "./faults.ts"
import { createSimulatorServer, type ObservedResponse } from "./server.ts"
import { Simulator, type SimulatorCoreOptions } from "./simulator.ts"
import type { RetryPolicy, WebhookFaults } from "./webhooks.ts"

export type { SimulatorControl, SimulatorStats } from "./control.ts"
export { ApiError } from "./errors.ts"
export type { ApiFaults } from "./faults.ts"
export { parseForm, stringifyForm } from "./form.ts"
export type { ObservedResponse } from "./server.ts"
export type { EventType, Status, VerifiedOutputs } from "./sessions.ts"
export { EVENT_TYPES, LAST_ERROR_REASONS, STATUSES } from "./sessions.ts"
export type {
  ApiAction,
  ConnectedInit,
  ForbiddenActionOptions,
  SimulatorCoreOptions,
} from "./simulator.ts"
export { ACCOUNT_ID, API_VERSION, Simulator } from "./simulator.ts"
export type { RetryPolicy, WebhookEndpoint, WebhookFaults, WebhookStats } from "./webhooks.ts"
export { signPayload } from "./webhooks.ts"

/** Options for {@link startSimulator}. */
export interface SimulatorOptions extends SimulatorCoreOptions {
  /** Port to listen on; 0 (the default) picks a free one. */
  readonly port?: number
  /** Interface to bind. Default 127.0.0.1. */
  readonly host?: string
  /** Sessions to generate at start (random legal histories from `seed`). Default 0. */
  readonly sessions?: number
  /** Days the generated sessions' creation times spread over. Default 90. */
  readonly spanDays?: number
  /** Requests per second per API key (Stripe's sandbox: 25). `false` or 0 turns it off. */
  readonly rateLimit?: number | false
  /** Accepted API keys. Default: any `sk_test_…` or `rk_test_…` key. */
  readonly apiKeys?: ReadonlyArray<string>
  /** When set, `/_sim/` routes require `Authorization: Bearer <controlToken>`. */
  readonly controlToken?: string
  readonly apiFaults?: Partial<ApiFaults>
  readonly webhookFaults?: Partial<WebhookFaults>
  readonly webhookRetry?: Partial<RetryPolicy>
  /** Called with every response the server sends (logging, schema checks in tests). */
  readonly onResponse?: (response: ObservedResponse) => void
  /** Webhook endpoints to register at start; `connect: true` makes a Connect endpoint. */
  readonly webhookEndpoints?: ReadonlyArray<{
    url: string
    secret?: string
    enabled_events?: string[]
    connect?: boolean
  }>
  /**
   * Connected accounts (`acct_…`) to create at start, in this order. Requests with the
   * `Stripe-Account` header act as one of them. Default none.
   */
  readonly connectedAccounts?: ReadonlyArray<string>
  /** Sessions to generate at start in each connected account (over `spanDays`). Default 0. */
  readonly connectedSessions?: number
}

/** A running simulator. */
export interface StartedSimulator {
  /** Base URL, e.g. `http://127.0.0.1:12111`. */
  readonly url: string
  readonly port: number
  readonly host: string
  readonly control: SimulatorControl
  /** Stops the server and webhook delivery. */
  readonly close: () => Promise<void>
}

/** Starts a simulator listening on HTTP. */
export const startSimulator = async (options: SimulatorOptions = {}): Promise<StartedSimulator> => {
  const simulator = new Simulator(options)
  const faults = new FaultInjector(simulator.seed)
  if (options.apiFaults) faults.set(options.apiFaults)
  const limiter = new RateLimiter(options.rateLimit === false ? 0 : (options.rateLimit ?? 25))
  const control = makeControl(simulator, faults, limiter)
  if (options.webhookFaults) control.setWebhookFaults(options.webhookFaults)
  if (options.webhookRetry) control.setWebhookRetry(options.webhookRetry)
  for (const e of options.webhookEndpoints ?? []) control.addWebhookEndpoint(e)
  if (options.sessions)
    control.generate(options.sessions, {
      seed: simulator.seed,
      ...(options.spanDays === undefined ? {} : { spanDays: options.spanDays }),
    })
  for (const id of options.connectedAccounts ?? []) {
    const account = simulator.addConnectedAccount(id)
    if (options.connectedSessions)
      account.generate(options.connectedSessions, {
        seed: account.seed,
        ...(options.spanDays === undefined ? {} : { spanDays: options.spanDays }),
      })
  }
  const server = createSimulatorServer({
    simulator,
    control,
    faults,
    limiter,
    apiKeys: options.apiKeys,
    controlToken: options.controlToken,
    onResponse: options.onResponse,
  })
  const host = options.host ?? "127.0.0.1"
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    host,
    control,
    close: async () => {
      simulator.close()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
