/**
 * `@idtrail/webhooks`: Stripe's pushes into the store. The signature checked on the raw bytes,
 * the body decoded by the domain, the event recorded through the store's command handler, and
 * the answer Stripe expects, as an Effect (`ingestWebhook`), a Web `Request → Response` handler
 * (`webhookHandler`) and a Node `http` adapter (`nodeWebhookHandler`).
 *
 * @since 0.1.0
 */
export * from "./errors.ts"
export {
  type IgnoredEvent,
  ingestWebhook,
  type WebhookDelivery,
  type WebhookError,
  type WebhookOptions,
  type WebhookResult,
} from "./ingest.ts"
export { type NodeWebhookRequest, nodeWebhookHandler } from "./node.ts"
export { defaultMaxBodyBytes, type WebhookHandlerOptions } from "./respond.ts"
export {
  defaultToleranceSeconds,
  type SignatureHeader,
  type VerifyOptions,
  verifyWebhook,
  verifyWebhookSignature,
  type WebhookBody,
} from "./signature.ts"
export {
  type WebhookOutcome,
  type WebhookResponseBody,
  webhookResponseBody,
  webhookResponseStatus,
} from "./status.ts"
export { webhookHandler } from "./web.ts"
