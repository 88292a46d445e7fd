/**
 * The HTTP routes: Stripe's webhooks recorded by idtrail, and each session's audited history.
 * Everything else a team's service does would sit beside these.
 */
import type { PromiseStore } from "@idtrail/store"
import { webhookHandler } from "@idtrail/webhooks"
import { Hono } from "hono"

/** What the routes need: the open store and the endpoint's signing secret(s). */
export interface AppOptions {
  readonly store: PromiseStore
  readonly webhookSecret: string
}

/** The service's routes. */
export const makeApp = ({ store, webhookSecret }: AppOptions): Hono => {
  const app = new Hono()
  // The handler is Web-standard (Request → Response): Hono hands it the raw request, whose bytes
  // the signature check needs untouched.
  const recordWebhook = webhookHandler({ store, secrets: webhookSecret })
  app.post("/webhooks/stripe", (c) => recordWebhook(c.req.raw))

  app.get("/sessions/:id/history", async (c) => {
    try {
      const history = await store.audit.history(c.req.param("id"))
      if (history.length === 0) return c.json({ error: "no such session" }, 404)
      return c.json({ sessionId: c.req.param("id"), history })
    } catch (error) {
      // The store rejects with tagged errors: a malformed id is the caller's mistake.
      if ((error as { _tag?: string })._tag === "InvalidStreamId")
        return c.json({ error: "bad session id" }, 400)
      throw error
    }
  })

  app.get("/health", (c) => c.json({ ok: true }))
  return app
}
