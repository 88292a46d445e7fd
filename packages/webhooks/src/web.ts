/**
 * The endpoint as a Web-standard function, `(request: Request) => Promise<Response>`: it mounts as
 * it is in Hono, Next.js route handlers, Bun and Deno.
 *
 * @since 0.1.0
 */
import { RequestRefused } from "./errors.ts"
import {
  answerFor,
  bodyTooLarge,
  bodyUnreadable,
  defaultMaxBodyBytes,
  deliver,
  methodNotAllowed,
  type WebhookAnswer,
  type WebhookHandlerOptions,
} from "./respond.ts"

/** The body's bytes, read up to `limit`: a declared or streamed excess stops reading at once. */
const readBody = async (request: Request, limit: number): Promise<Uint8Array | RequestRefused> => {
  if (Number(request.headers.get("content-length") ?? 0) > limit) return bodyTooLarge(limit)
  if (request.body === null) return new Uint8Array(0)
  const reader = request.body.getReader()
  const chunks: Array<Uint8Array> = []
  let size = 0
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      size += chunk.value.byteLength
      if (size > limit) {
        await reader.cancel().catch(() => undefined)
        return bodyTooLarge(limit)
      }
      chunks.push(chunk.value)
    }
  } catch {
    return bodyUnreadable()
  }
  const body = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    body.set(chunk, at)
    at += chunk.byteLength
  }
  return body
}

const toResponse = (answer: WebhookAnswer): Response =>
  new Response(answer.body, { status: answer.status, headers: answer.headers })

/**
 * A webhook endpoint for Stripe's deliveries: POST only, the raw body checked against the
 * `Stripe-Signature` header, the event recorded in `store`, and an answer in JSON
 * (`{ received: true }` or `{ error: { type, message } }`) with the status Stripe expects.
 *
 * ```ts
 * const store = await openStore({ databaseUrl: process.env.DATABASE_URL })
 * export const POST = webhookHandler({ store, secrets: process.env.STRIPE_WEBHOOK_SECRET! })
 * ```
 */
export const webhookHandler =
  (options: WebhookHandlerOptions) =>
  async (request: Request): Promise<Response> => {
    if (request.method !== "POST") return toResponse(answerFor(methodNotAllowed(), options))
    const body = await readBody(request, options.maxBodyBytes ?? defaultMaxBodyBytes)
    if (body instanceof RequestRefused) return toResponse(answerFor(body, options))
    return toResponse(
      await deliver({ rawBody: body, signature: request.headers.get("stripe-signature") }, options),
    )
  }
