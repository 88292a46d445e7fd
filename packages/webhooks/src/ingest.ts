/**
 * Ingesting one delivery, Effect-native: the signature is checked on the raw bytes, the body
 * decoded by the domain, and the event observed on its session's stream through the store's
 * command handler. Events of other types are acknowledged and ignored. Bad deliveries write
 * nothing.
 *
 * @since 0.1.0
 */
import { accountKeyOf, InvalidPayload, isConnectedAccount, observeEvent } from "@idtrail/domain"
import {
  type Actor,
  EventStore,
  type HandleError,
  type HandleOptions,
  type HandleResult,
} from "@idtrail/store"
import { Effect } from "effect"
import { InvalidAccount, type InvalidSignature, LivemodeMismatch } from "./errors.ts"
import { type SignatureHeader, type VerifyOptions, verifyWebhook, type WebhookBody } from "./signature.ts"

/** A delivery as the endpoint received it: the body's raw bytes and the `Stripe-Signature` header. */
export interface WebhookDelivery {
  readonly rawBody: WebhookBody | null | undefined
  readonly signature: SignatureHeader
}

/** How deliveries are checked and recorded; the store's handling options (`maxRetries`, `dryRun`) too. */
export interface WebhookOptions extends HandleOptions {
  /** The endpoint's signing secret(s), `whsec_…`; several while rotating. Never logged. */
  readonly secrets: VerifyOptions["secrets"]
  /** How old a signature may be, in seconds (default 300, as Stripe's SDK); 0 skips the check. */
  readonly toleranceSeconds?: number
  /**
   * The current time in unix seconds, for the signature's age only: replay protection is the one
   * place where the host's clock is the right one. Default: the host's clock.
   */
  readonly now?: () => number
  /** Who records the event (default: the service `webhooks`). */
  readonly actor?: Actor
  /**
   * The platform account whose endpoint secret this is (default `"default"`): its events are
   * recorded under it. A Connect event (top-level `account: "acct_…"`) is recorded under that
   * connected account instead. Never `acct_…` itself: that names a connected account.
   */
  readonly account?: string
}

/** An event of a type idtrail does not record (payments, accounts, …): acknowledged, ignored. */
export interface IgnoredEvent {
  readonly _tag: "IgnoredEvent"
  readonly stripeEventId: string
  readonly type: string
}

/** What ingesting a delivery did. */
export type WebhookResult = HandleResult | IgnoredEvent

/** Why a delivery was not recorded. */
export type WebhookError = InvalidSignature | InvalidPayload | LivemodeMismatch | InvalidAccount | HandleError

/** Verifies, decodes and records one delivery with the `EventStore` service. */
export const ingestWebhook = Effect.fn("webhooks.ingest")(function* (
  delivery: WebhookDelivery,
  options: WebhookOptions,
): Effect.fn.Return<WebhookResult, WebhookError, EventStore> {
  // Only the store's own options go on to the store: the secrets stay here.
  const { secrets, toleranceSeconds, now, actor, account: platform, ...handleOptions } = options
  if (
    platform !== undefined &&
    (typeof platform !== "string" || platform === "" || isConnectedAccount(platform))
  )
    return yield* new InvalidAccount({
      account: String(platform),
      message:
        "the endpoint's account names a platform account (its own name, not acct_…: Connect events say their connected account themselves)",
    })
  const event = yield* Effect.fromResult(
    verifyWebhook(delivery.rawBody, delivery.signature, {
      secrets,
      ...(now === undefined ? {} : { now: now() }),
      ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }),
    }),
  )
  if ("_tag" in event) {
    return { _tag: "IgnoredEvent", stripeEventId: event.id, type: event.type } as const
  }
  const session = event.data.object
  if (event.account !== undefined && !isConnectedAccount(event.account))
    return yield* new InvalidPayload({
      path: "account",
      message: "a Connect event's account is a connected account's id, acct_…",
    })
  if (event.livemode !== session.livemode)
    return yield* new LivemodeMismatch({
      stripeEventId: event.id,
      eventLivemode: event.livemode,
      sessionLivemode: session.livemode,
      message: `event ${event.id} is ${event.livemode ? "live" : "test"} mode but its session is ${session.livemode ? "live" : "test"} mode`,
    })
  const store = yield* EventStore
  return yield* store.handle(
    session.id,
    observeEvent(event, accountKeyOf(platform)),
    { actor: actor ?? { kind: "service", id: "webhooks" }, causationId: event.id },
    handleOptions,
  )
})
