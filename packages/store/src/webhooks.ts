/**
 * Webhook ingestion: what a team's endpoint calls with the raw request. The signature is checked
 * on the raw bytes, the body decoded, and the event observed on its session's stream. Events of
 * other types are acknowledged and ignored. Bad deliveries write nothing.
 *
 * @since 0.1.0
 */
import {
  type InvalidPayload,
  type InvalidSignature,
  type VerifyOptions,
  verifyWebhook,
} from "@idtrail/domain"
import { Effect, Result } from "effect"
import type { StoreContext } from "./context.ts"
import { type HandleError, type HandleOptions, type HandleResult, observe } from "./handle.ts"
import type { Actor } from "./metadata.ts"

/** A delivery as the endpoint received it: the body's raw bytes and the `Stripe-Signature` header. */
export interface WebhookDelivery {
  readonly rawBody: string | Uint8Array
  readonly signature: string | null | undefined
}

export interface WebhookOptions extends HandleOptions {
  /** The endpoint's signing secret(s), `whsec_…`; several while rotating. Never logged. */
  readonly secrets: VerifyOptions["secrets"]
  /** How old a signature may be, in seconds (default 300, as Stripe's SDK). */
  readonly toleranceSeconds?: number
  /**
   * The current time in unix seconds, for the signature's age only: replay protection is the one
   * place where the host's clock is the right one. Default: the host's clock.
   */
  readonly now?: () => number
  /** Who records the event (default: the service `webhooks`). */
  readonly actor?: Actor
}

/** An event of a type idtrail does not record (payments, accounts, …): acknowledged, ignored. */
export interface IgnoredEvent {
  readonly _tag: "IgnoredEvent"
  readonly stripeEventId: string
  readonly type: string
}

export type WebhookResult = HandleResult | IgnoredEvent
export type WebhookError = InvalidSignature | InvalidPayload | HandleError

/** Verifies, decodes and records one delivery. */
export const ingestWebhook =
  (ctx: StoreContext) =>
  (delivery: WebhookDelivery, options: WebhookOptions): Effect.Effect<WebhookResult, WebhookError> =>
    Effect.suspend((): Effect.Effect<WebhookResult, WebhookError> => {
      const now = options.now?.() ?? Math.floor(Date.now() / 1000)
      const verified = verifyWebhook(delivery.rawBody, delivery.signature, {
        secrets: options.secrets,
        now,
        ...(options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds }),
      })
      if (Result.isFailure(verified)) return Effect.fail(verified.failure)
      const event = verified.success
      if ("_tag" in event) {
        return Effect.succeed({ _tag: "IgnoredEvent", stripeEventId: event.id, type: event.type } as const)
      }
      return observe(ctx)(
        event,
        { actor: options.actor ?? { kind: "service", id: "webhooks" }, causationId: event.id },
        options,
      )
    })

/**
 * The HTTP status an endpoint should answer with. 2xx acknowledges (Stripe stops retrying);
 * 400 for a delivery that can never succeed (bad signature, malformed body, refused by the
 * lifecycle); 500 when the store could not record it, so Stripe delivers it again.
 */
export const webhookResponseStatus = (outcome: WebhookResult | WebhookError): 200 | 400 | 500 => {
  switch (outcome._tag) {
    case "EventsAppended":
    case "NothingToDo":
    case "AlreadyRecorded":
    case "IgnoredEvent":
      return 200
    case "InvalidSignature":
    case "InvalidPayload":
    case "TransitionNotAllowed":
    case "SessionNotFound":
    case "SessionMismatch":
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
