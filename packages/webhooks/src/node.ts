/**
 * The endpoint for Node's `http` server, `(req, res) => void`, usable from Express and Fastify:
 * it reads the raw body itself, or takes `req.body` when a framework already read it as bytes
 * (Express's `raw()`, Fastify's buffer parser). A body already parsed as JSON cannot be verified
 * and is refused with `InvalidSignature { reason: "payload_not_raw" }`.
 *
 * @since 0.1.0
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { RequestRefused } from "./errors.ts"
import {
  answerFor,
  bodyTooLarge,
  bodyUnreadable,
  defaultMaxBodyBytes,
  deliver,
  internalError,
  methodNotAllowed,
  type WebhookAnswer,
  type WebhookHandlerOptions,
} from "./respond.ts"
import type { WebhookBody } from "./signature.ts"

/** A Node request, with the body a framework may have read already. */
export type NodeWebhookRequest = IncomingMessage & { readonly body?: unknown }

const byteLength = (body: unknown): number =>
  typeof body === "string" ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : 0

/**
 * The raw body, up to `limit` bytes. Past the limit the rest is read and dropped rather than
 * cut off, so the client still gets its 413 instead of a reset connection.
 */
const readBody = (req: NodeWebhookRequest, limit: number): Promise<unknown> => {
  if (req.body !== undefined)
    return Promise.resolve(byteLength(req.body) > limit ? bodyTooLarge(limit) : req.body)
  if (Number(req.headers["content-length"] ?? 0) > limit) {
    req.resume()
    return Promise.resolve(bodyTooLarge(limit))
  }
  return new Promise((resolve) => {
    const chunks: Array<Buffer> = []
    let size = 0
    let settled = false
    const settle = (value: unknown) => {
      if (settled) return
      settled = true
      resolve(value)
    }
    req.on("data", (chunk: Buffer | string) => {
      if (settled) return
      const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk
      size += bytes.byteLength
      if (size > limit) settle(bodyTooLarge(limit))
      else chunks.push(bytes)
    })
    req.on("end", () => settle(Buffer.concat(chunks)))
    req.on("error", () => settle(bodyUnreadable()))
    req.on("close", () => settle(bodyUnreadable()))
  })
}

const send = (res: ServerResponse, answer: WebhookAnswer): void => {
  if (res.headersSent || res.destroyed) return
  res.writeHead(answer.status, answer.headers).end(answer.body)
}

/**
 * A webhook endpoint for Node's `http` (and Express, Fastify): the same checks and answers as
 * `webhookHandler`.
 *
 * ```ts
 * app.post("/webhooks", express.raw({ type: "application/json" }), nodeWebhookHandler({ store, secrets }))
 * ```
 */
export const nodeWebhookHandler =
  (options: WebhookHandlerOptions) =>
  (req: NodeWebhookRequest, res: ServerResponse): void => {
    const respond = async (): Promise<WebhookAnswer> => {
      if (req.method !== "POST") {
        req.resume()
        return answerFor(methodNotAllowed(), options)
      }
      const body = await readBody(req, options.maxBodyBytes ?? defaultMaxBodyBytes)
      if (body instanceof RequestRefused) return answerFor(body, options)
      // Whatever a framework left in req.body is checked at run time: only raw bytes verify.
      return deliver({ rawBody: body as WebhookBody, signature: req.headers["stripe-signature"] }, options)
    }
    respond().then(
      (answer) => send(res, answer),
      () => send(res, internalError),
    )
  }
