/**
 * Starts the service: opens the store (Postgres on `DATABASE_URL`, otherwise an embedded PGlite in
 * memory), which runs its migrations, and serves the routes on `PORT` (default 3000).
 */
import { serve } from "@hono/node-server"
import { openStore } from "@idtrail/store"
import { makeApp } from "./app.js"

const databaseUrl = process.env.DATABASE_URL || undefined
const port = Number(process.env.PORT ?? 3000)

// Stripe's signing secret for this endpoint. Only the in-memory sandbox may go without one.
const webhookSecret =
  process.env.STRIPE_WEBHOOK_SECRET ?? (databaseUrl === undefined ? "whsec_local_example" : undefined)
if (webhookSecret === undefined) {
  console.error("STRIPE_WEBHOOK_SECRET is required with DATABASE_URL")
  process.exit(2)
}

// Opening the store runs its migrations (idempotent, and safe from several instances at once).
const store = await openStore({ databaseUrl })

const server = serve({ fetch: makeApp({ store, webhookSecret }).fetch, port }, (info) => {
  const where = store.kind === "postgres" ? "Postgres (DATABASE_URL)" : "embedded PGlite in memory"
  console.log(`webhook-app on http://127.0.0.1:${info.port} (node ${process.version}), store: ${where}`)
})

const stop = () => {
  server.close()
  void store.close().then(() => process.exit(0))
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
