/**
 * The answer Stripe gets: an outcome's HTTP status, and a JSON body that says why without
 * echoing anything the request carried.
 *
 * @since 0.1.0
 */
import type { RequestRefused } from "./errors.ts"
import type { WebhookError, WebhookResult } from "./ingest.ts"

/** Everything a delivery can end in. */
export type WebhookOutcome = WebhookResult | WebhookError | RequestRefused

/**
 * The HTTP status an endpoint should answer with. 2xx acknowledges (Stripe stops retrying);
 * 400 for a delivery that can never succeed (bad signature, malformed body, refused by the
 * lifecycle); 405 and 413 for a request that is no delivery; 500 when the store could not
 * record it, so Stripe delivers it again.
 */
export const webhookResponseStatus = (outcome: WebhookOutcome): 200 | 400 | 405 | 413 | 500 => {
  switch (outcome._tag) {
    case "EventsAppended":
    case "NothingToDo":
    case "AlreadyRecorded":
    case "WouldAppend": // a dry run: acknowledged, though nothing was written
    case "IgnoredEvent":
      return 200
    case "RequestRefused":
      return outcome.reason === "method_not_allowed" ? 405 : outcome.reason === "body_too_large" ? 413 : 400
    case "InvalidSignature":
    case "InvalidPayload":
    case "TransitionNotAllowed":
    case "SessionNotFound":
    case "SessionMismatch":
    case "AccountMismatch":
    case "LivemodeMismatch":
    case "InvalidRequest":
    case "InvalidStreamId":
    case "InvalidEvent":
    case "ForbiddenField":
    case "PayloadTooLarge":
    case "InvalidArgument":
      return 400
    default:
      return 500
  }
}

/** The JSON body of an answer. */
export type WebhookResponseBody =
  | { readonly received: true }
  | { readonly error: { readonly type: string; readonly message: string } }

/**
 * What to tell the sender. Only messages written by this package are passed on as they are; other
 * refusals name their type (and path), since a message from elsewhere may quote the body.
 */
export const webhookResponseBody = (outcome: WebhookOutcome): WebhookResponseBody => {
  const status = webhookResponseStatus(outcome)
  if (status === 200) return { received: true }
  const type = outcome._tag
  if (type === "InvalidSignature" || type === "RequestRefused") {
    return { error: { type, message: (outcome as { readonly message: string }).message } }
  }
  if (status === 500) {
    return { error: { type, message: "the delivery could not be recorded now; deliver it again" } }
  }
  const path = "path" in outcome && typeof outcome.path === "string" ? ` at ${outcome.path}` : ""
  return { error: { type, message: `the delivery can never be recorded: ${type}${path}` } }
}
