/**
 * What the Web handler and the Node adapter share: their options, and turning a delivery into an
 * answer by running {@link ingestWebhook} on the store's Effect service. Whatever happens, the
 * answer is a status and a JSON body; nothing is thrown at the framework.
 *
 * @since 0.1.0
 */
import { EventStore, type EventStoreService } from "@idtrail/store"
import { Cause, Effect, Exit, Result } from "effect"
import { RequestRefused } from "./errors.ts"
import { ingestWebhook, type WebhookDelivery, type WebhookError, type WebhookOptions } from "./ingest.ts"
import { type WebhookOutcome, webhookResponseBody, webhookResponseStatus } from "./status.ts"

/** Options of `webhookHandler` and `nodeWebhookHandler`. */
export interface WebhookHandlerOptions extends WebhookOptions {
  /** The store to record into: an opened `PromiseStore` (or anything holding its Effect `service`). */
  readonly store: { readonly service: EventStoreService }
  /** The largest body accepted, in bytes (default 1 MiB); a bigger one is answered 413. */
  readonly maxBodyBytes?: number
  /**
   * Called with every refusal (a tagged error, or what a bug threw) and the status answered, for
   * the host's logs. The error messages never contain a secret.
   */
  readonly onError?: (error: WebhookError | RequestRefused | unknown, status: number) => void
}

/** Stripe's events are a few kilobytes; a megabyte leaves room for large metadata. */
export const defaultMaxBodyBytes = 1024 * 1024

/** A request that is not a POST. */
export const methodNotAllowed = (): RequestRefused =>
  new RequestRefused({ reason: "method_not_allowed", message: "Stripe delivers webhooks with POST" })

/** A body over the limit, declared or streamed. */
export const bodyTooLarge = (limit: number): RequestRefused =>
  new RequestRefused({ reason: "body_too_large", message: `the body is larger than ${limit} bytes` })

/** A body whose stream broke (the sender went away). */
export const bodyUnreadable = (): RequestRefused =>
  new RequestRefused({ reason: "body_unreadable", message: "the body could not be read to its end" })

/** An HTTP answer, ready for any framework. */
export interface WebhookAnswer {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const json = { "content-type": "application/json; charset=utf-8" }

/** The answer for an outcome; also tells `onError` about refusals. */
export const answerFor = (outcome: WebhookOutcome, options: WebhookHandlerOptions): WebhookAnswer => {
  const status = webhookResponseStatus(outcome)
  if (status !== 200) report(options, outcome, status)
  const headers = status === 405 ? { ...json, allow: "POST" } : json
  return { status, headers, body: JSON.stringify(webhookResponseBody(outcome)) }
}

const report = (options: WebhookHandlerOptions, error: unknown, status: number): void => {
  try {
    options.onError?.(error, status)
  } catch {
    // A failing logger must not change the answer Stripe gets.
  }
}

/** The answer to a bug rather than an input: 500, so Stripe delivers it again. */
export const internalError: WebhookAnswer = {
  status: 500,
  headers: json,
  body: JSON.stringify({
    error: { type: "InternalError", message: "the delivery could not be recorded now" },
  }),
}

/** Ingests a delivery and answers; a defect (a bug, not an input) is a 500 so Stripe retries. */
export const deliver = async (
  delivery: WebhookDelivery,
  options: WebhookHandlerOptions,
): Promise<WebhookAnswer> => {
  // The handler's own options stay here; the rest is how to ingest.
  const { store, maxBodyBytes, onError, ...ingestOptions } = options
  const exit = await Effect.runPromiseExit(
    ingestWebhook(delivery, ingestOptions).pipe(Effect.provideService(EventStore, store.service)),
  )
  if (Exit.isSuccess(exit)) return answerFor(exit.value, options)
  const error = Cause.findError(exit.cause)
  if (Result.isSuccess(error)) return answerFor(error.success, options)
  report(options, Cause.squash(exit.cause), 500)
  return internalError
}
