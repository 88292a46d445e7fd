/**
 * The HTTP front: node:http, Stripe's request conventions (auth, form bodies, `Request-Id`,
 * idempotency keys, rate limits) around api.ts, and the `/_sim/` control routes around
 * control.ts.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { resolveRoute, unrecognizedUrl } from "./api.ts"
import { handleControl, type SimulatorControl } from "./control.ts"
import {
  ApiError,
  authentication,
  idempotencyKeyInUse,
  idempotencyMismatch,
  maskKey,
  rateLimited,
  serverError,
} from "./errors.ts"
import type { FaultInjector, RateLimiter } from "./faults.ts"
import { parseForm } from "./form.ts"
import { IdempotencyStore } from "./idempotency.ts"
import { hash32, makeRandom, randomToken } from "./random.ts"
import type { Simulator } from "./simulator.ts"

/** What the server needs. */
export interface ServerDeps {
  readonly simulator: Simulator
  readonly control: SimulatorControl
  readonly faults: FaultInjector
  readonly limiter: RateLimiter
  /** Accepted API keys; undefined accepts any test-mode secret or restricted key. */
  readonly apiKeys?: ReadonlyArray<string> | undefined
  /** When set, control routes require `Authorization: Bearer <controlToken>`. */
  readonly controlToken?: string | undefined
  readonly onResponse?: ((response: ObservedResponse) => void) | undefined
}

/** One response as the server sent it, for {@link ServerDeps.onResponse}. */
export interface ObservedResponse {
  readonly method: string
  readonly path: string
  readonly status: number
  readonly body: string
  /** True for `/_sim/` control routes, false for Stripe's routes. */
  readonly control: boolean
}

const TEST_KEY = /^(sk|rk)_test_[A-Za-z0-9_]+$/
const MAX_BODY = 1 << 20

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on("data", (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY) {
        reject(new ApiError(413, "invalid_request_error", "Request body too large."))
        req.destroy()
      } else chunks.push(c)
    })
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

/** The API key of a request (Bearer, or Basic with the key as user name), or a 401. */
const authenticate = (req: IncomingMessage, accepted: ReadonlyArray<string> | undefined): string => {
  const header = req.headers.authorization ?? ""
  let key = ""
  const [scheme, value = ""] = header.split(" ", 2)
  if (scheme?.toLowerCase() === "bearer") key = value.trim()
  else if (scheme?.toLowerCase() === "basic")
    key = Buffer.from(value, "base64").toString("utf8").split(":")[0] ?? ""
  if (key === "")
    throw authentication(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    )
  const ok = accepted === undefined ? TEST_KEY.test(key) : accepted.includes(key)
  if (!ok) throw authentication(`Invalid API Key provided: ${maskKey(key)}`)
  return key
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Creates the HTTP server (not yet listening). */
export const createSimulatorServer = (deps: ServerDeps): Server => {
  const { simulator: sim } = deps
  const idempotency = new IdempotencyStore()
  const requestIds = makeRandom(hash32(sim.seed, 0x4e9))

  const send = (
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void => {
    const req = res.req
    deps.onResponse?.({
      method: req.method ?? "GET",
      path: req.url ?? "/",
      status,
      body,
      control: (req.url ?? "").startsWith("/_sim/"),
    })
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "stripe-version": sim.apiVersion,
      // Stripe's clock, not the host's: clients order API reads against event.created with it.
      date: new Date(sim.clock.nowSeconds() * 1000).toUTCString(),
      ...headers,
    })
    res.end(body)
  }

  const handleStripe = async (req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) => {
    const method = req.method ?? "GET"
    const base = { "request-id": requestId }
    const fail = (e: ApiError) => send(res, e.status, JSON.stringify(e.body()), { ...base, ...e.headers })
    let apiKey: string
    let account: Simulator
    // Limits and idempotency keys are per API key and account (Stripe: "per Stripe account").
    let scope: string
    try {
      apiKey = authenticate(req, deps.apiKeys)
      const header = req.headers["stripe-account"]
      account = sim.actingAs(Array.isArray(header) ? header.join(", ") : header, apiKey)
      scope = `${apiKey}\n${account.accountId}`
      if (!deps.limiter.allow(scope, Date.now())) throw rateLimited("global-rate")
    } catch (e) {
      if (e instanceof ApiError) return fail(e)
      throw e
    }
    const idemKey =
      method === "POST" ? ((req.headers["idempotency-key"] as string | undefined) ?? null) : null
    let reserved = false
    try {
      const raw = await readBody(req)
      const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
      if (raw !== "" && contentType !== "" && contentType !== "application/x-www-form-urlencoded")
        throw new ApiError(
          400,
          "invalid_request_error",
          `Invalid request: Stripe's v1 API takes application/x-www-form-urlencoded bodies, not ${contentType}.`,
        )
      if (idemKey !== null && idemKey.length > 255)
        throw new ApiError(400, "invalid_request_error", "Idempotency-Key must be at most 255 characters.")
      const found = resolveRoute(method, url.pathname)
      if (found === undefined) throw unrecognizedUrl(method, url.pathname)
      if (idemKey !== null) {
        const fingerprint = `${method} ${url.pathname}?${url.search}\n${raw}`
        const lookup = idempotency.begin(scope, idemKey, fingerprint, sim.clock.nowSeconds())
        if (lookup.kind === "mismatch") throw idempotencyMismatch(idemKey)
        if (lookup.kind === "in_progress") throw idempotencyKeyInUse(idemKey)
        if (lookup.kind === "replay") {
          // Stripe replays the saved status and body, and says so in a header.
          return send(res, lookup.response.status, lookup.response.body, {
            ...base,
            "idempotent-replayed": "true",
          })
        }
        reserved = true
      }
      const { latencyMs } = deps.faults.faults
      if (latencyMs > 0) await sleep(latencyMs)
      const fault = deps.faults.draw()
      if (fault === "rate_limit") throw rateLimited("resource-specific")
      if (fault === "server_error") throw serverError(deps.faults.faults.serverErrorStatus)
      const form =
        method === "GET" || method === "DELETE"
          ? parseForm(url.search.slice(1))
          : { ...parseForm(url.search.slice(1)), ...parseForm(raw) }
      const execute = found.route(account, form, { requestId, idempotencyKey: idemKey }, found.id)
      // From here the request has started executing: its outcome, success or error, is saved.
      let status: number
      let body: string
      try {
        const result = execute()
        status = result.status
        body = JSON.stringify(result.body)
      } catch (e) {
        if (!(e instanceof ApiError)) throw e
        status = e.status
        body = JSON.stringify(e.body())
      }
      if (reserved) {
        idempotency.save(scope, idemKey!, { status, body })
        reserved = false
      }
      send(res, status, body, base)
    } catch (e) {
      if (reserved) idempotency.release(scope, idemKey!)
      if (e instanceof ApiError) return fail(e)
      throw e
    }
  }

  const handleControlRequest = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    requestId: string,
  ) => {
    const base = { "request-id": requestId }
    try {
      if (deps.controlToken !== undefined && req.headers.authorization !== `Bearer ${deps.controlToken}`)
        throw authentication("The control API needs 'Authorization: Bearer <controlToken>'.")
      const raw = await readBody(req)
      let body: Record<string, unknown> = {}
      if (raw.trim() !== "") {
        try {
          body = JSON.parse(raw) as Record<string, unknown>
        } catch {
          throw new ApiError(400, "invalid_request_error", "The control API takes a JSON body.")
        }
        if (typeof body !== "object" || body === null || Array.isArray(body))
          throw new ApiError(400, "invalid_request_error", "The control API takes a JSON object.")
      }
      const result = await handleControl(
        deps.control,
        req.method ?? "GET",
        url.pathname.slice(5),
        body,
        url.searchParams,
      )
      send(res, result.status, JSON.stringify(result.body), base)
    } catch (e) {
      if (e instanceof ApiError)
        return send(res, e.status, JSON.stringify(e.body()), { ...base, ...e.headers })
      throw e
    }
  }

  return createServer((req, res) => {
    const requestId = `req_${randomToken(requestIds, 14)}`
    const url = new URL(req.url ?? "/", "http://simulator.local")
    const handler = url.pathname.startsWith("/_sim/") ? handleControlRequest : handleStripe
    handler(req, res, url, requestId).catch((e: unknown) => {
      // A bug, not a simulated fault: answer like Stripe's 500 and keep serving.
      const err = new ApiError(500, "api_error", `Internal simulator error: ${(e as Error)?.message ?? e}`)
      if (!res.headersSent) send(res, 500, JSON.stringify(err.body()), { "request-id": requestId })
      else res.destroy()
    })
  })
}
