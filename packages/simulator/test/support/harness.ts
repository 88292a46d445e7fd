/**
 * Test harness: a simulator on a random port, a `stripe` SDK client pointed at it, and a check
 * that every response the simulator sent on Stripe's routes conforms to Stripe's schemas.
 */
import Stripe from "stripe"
import { type SimulatorOptions, type StartedSimulator, startSimulator } from "../../src/index.ts"
import { kindOf, schemaProblems } from "./schemas.ts"

/** A parsed JSON body from raw HTTP; tests read known paths of it. */
// biome-ignore lint/suspicious/noExplicitAny: raw bodies are probed field by field in assertions.
export type RawBody = any

/** A running simulator with an SDK client and a schema audit of everything it answered. */
export interface Harness {
  readonly sim: StartedSimulator
  readonly stripe: Stripe
  /** A client with another API key. */
  readonly client: (key: string, options?: Partial<Stripe.StripeConfig>) => Stripe
  /** Stripe-route responses seen so far. */
  readonly responses: () => number
  /** Schema violations seen so far (should stay empty). */
  readonly violations: () => string[]
  /** Raw HTTP against the simulator, authenticated unless `auth` is null. */
  readonly raw: (
    method: string,
    path: string,
    init?: { body?: string; headers?: Record<string, string>; auth?: string | null },
  ) => Promise<{ status: number; body: RawBody; headers: Headers }>
  readonly close: () => Promise<void>
}

export const API_VERSION = "2026-07-29.dahlia"
export const KEY = "sk_test_simulator"

/** Starts a simulator (rate limit off unless given) and its client. */
export const startHarness = async (options: SimulatorOptions = {}): Promise<Harness> => {
  let responses = 0
  const violations: string[] = []
  const sim = await startSimulator({
    rateLimit: false,
    ...options,
    onResponse: (r) => {
      options.onResponse?.(r)
      if (r.control) return
      responses++
      let body: unknown
      try {
        body = JSON.parse(r.body)
      } catch {
        violations.push(`${r.method} ${r.path}: body is not JSON`)
        return
      }
      for (const p of schemaProblems(kindOf(body as { object?: string }), body))
        violations.push(`${r.method} ${r.path} → ${r.status}: ${p}`)
    },
  })
  const client = (key: string, extra: Partial<Stripe.StripeConfig> = {}) =>
    new Stripe(key, {
      apiVersion: API_VERSION as Stripe.LatestApiVersion,
      host: "127.0.0.1",
      port: sim.port,
      protocol: "http",
      maxNetworkRetries: 0,
      ...extra,
    })
  return {
    sim,
    stripe: client(KEY),
    client,
    responses: () => responses,
    violations: () => [...violations],
    raw: async (method, path, init = {}) => {
      const headers: Record<string, string> = { ...(init.headers ?? {}) }
      if (init.auth !== null) headers.authorization = `Bearer ${init.auth ?? KEY}`
      if (init.body !== undefined && headers["content-type"] === undefined)
        headers["content-type"] = "application/x-www-form-urlencoded"
      const res = await fetch(`${sim.url}${path}`, {
        method,
        headers,
        ...(init.body === undefined ? {} : { body: init.body }),
      })
      const text = await res.text()
      return { status: res.status, body: text === "" ? undefined : JSON.parse(text), headers: res.headers }
    },
    close: () => sim.close(),
  }
}

/** The error a Stripe call rejects with; fails the test if the call succeeds. */
export const failure = async (p: Promise<unknown>): Promise<Stripe.errors.StripeError> => {
  try {
    await p
  } catch (e) {
    return e as Stripe.errors.StripeError
  }
  throw new Error("expected the call to fail")
}
