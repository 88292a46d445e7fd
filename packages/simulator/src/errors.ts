/**
 * Stripe's error responses as values. Handlers return or throw an {@link ApiError}; the server
 * turns it into `{ error: { type, code?, message, param?, doc_url? } }` with its HTTP status.
 *
 * @module
 */

/** The `type` values Stripe's spec allows on an error. */
export type ErrorType = "api_error" | "card_error" | "idempotency_error" | "invalid_request_error"

/** A Stripe API error: an HTTP status plus the body's fields. */
export class ApiError extends Error {
  readonly status: number
  readonly type: ErrorType
  readonly code: string | undefined
  readonly param: string | undefined
  readonly headers: Readonly<Record<string, string>>
  constructor(
    status: number,
    type: ErrorType,
    message: string,
    extra: { code?: string | undefined; param?: string | undefined; headers?: Record<string, string> } = {},
  ) {
    super(message)
    this.name = "ApiError"
    this.status = status
    this.type = type
    this.code = extra.code
    this.param = extra.param
    this.headers = extra.headers ?? {}
  }

  /** The JSON body Stripe sends for this error. */
  body(): { error: Record<string, string> } {
    const error: Record<string, string> = { type: this.type, message: this.message }
    if (this.code !== undefined) {
      error.code = this.code
      // Stripe links every coded error to its page under /docs/error-codes.
      error.doc_url = `https://stripe.com/docs/error-codes/${this.code.replaceAll("_", "-")}`
    }
    if (this.param !== undefined) error.param = this.param
    return { error }
  }
}

/** 400 `invalid_request_error`, optionally naming the offending parameter. */
export const invalidRequest = (message: string, param?: string, code?: string): ApiError =>
  new ApiError(400, "invalid_request_error", message, { param, code })

/** 400 for a parameter Stripe does not know. Stripe's wording, as seen in its API responses. */
export const unknownParameter = (param: string): ApiError =>
  invalidRequest(`Received unknown parameter: ${param}`, param, "parameter_unknown")

/** 400 for a missing required parameter. */
export const missingParameter = (param: string): ApiError =>
  invalidRequest(`Missing required param: ${param}.`, param, "parameter_missing")

/** 404 `resource_missing` for an id that names nothing. */
export const resourceMissing = (noun: string, id: string, param = "id"): ApiError =>
  new ApiError(404, "invalid_request_error", `No such ${noun}: '${id}'`, { code: "resource_missing", param })

/** An API key as Stripe echoes it in errors: the first 8 and last 4 characters, the rest as `*`. */
export const maskKey = (key: string): string =>
  `${key.slice(0, 8)}${"*".repeat(Math.max(0, key.length - 12))}${key.slice(-4)}`

/**
 * 403 `account_invalid`: the `Stripe-Account` header names no account this key may act as.
 * Status, code and wording as public integrations record them (README, "Connect"); the SDK
 * raises `StripePermissionError` for a 403.
 */
export const accountInvalid = (apiKey: string, account: string): ApiError =>
  new ApiError(
    403,
    "invalid_request_error",
    `The provided key '${maskKey(apiKey)}' does not have access to account '${account}' (or that account does not exist). Application access may have been revoked.`,
    { code: "account_invalid" },
  )

/** 401 for a missing or unacceptable API key. */
export const authentication = (message: string): ApiError =>
  new ApiError(401, "invalid_request_error", message)

/** 429: Stripe's rate-limit error (type `invalid_request_error`, code `rate_limit`). */
export const rateLimited = (reason: "global-rate" | "endpoint-rate" | "resource-specific"): ApiError =>
  new ApiError(
    429,
    "invalid_request_error",
    "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits.",
    { code: "rate_limit", headers: { "Stripe-Rate-Limited-Reason": reason } },
  )

/** 400 `idempotency_error`: a key reused with a different request. Stripe's documented wording. */
export const idempotencyMismatch = (key: string): ApiError =>
  new ApiError(
    400,
    "idempotency_error",
    `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  )

/** 409: the same idempotency key is being executed by a concurrent request. */
export const idempotencyKeyInUse = (key: string): ApiError =>
  new ApiError(
    409,
    "invalid_request_error",
    `There is currently another in-progress request using this Idempotent Key (probably because of a network error). Please retry your request with the same key: '${key}'.`,
    { code: "idempotency_key_in_use", headers: { "Stripe-Should-Retry": "true" } },
  )

/** A 5xx `api_error`, as injected by the fault configuration. */
export const serverError = (status = 500): ApiError =>
  new ApiError(
    status,
    "api_error",
    "An unknown error occurred while processing your request (simulated fault).",
  )
