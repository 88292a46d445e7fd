/**
 * Sends the app Stripe Identity webhooks signed as Stripe signs them (the official SDK's
 * `generateTestHeaderString`): for each of N sessions, `created`, `processing` and `verified`,
 * with the first two swapped, as Stripe may deliver them. Prints the session ids, one a line.
 *
 *   node dist/send-test-webhooks.js [baseUrl] [sessions]   # env STRIPE_WEBHOOK_SECRET
 */
import Stripe from "stripe"

const baseUrl = process.argv[2] ?? "http://127.0.0.1:3000"
const sessions = Number(process.argv[3] ?? 3)
const secret = process.env.STRIPE_WEBHOOK_SECRET ?? "whsec_local_example"
const stripe = new Stripe("sk_test_only_used_to_sign", { apiVersion: "2026-07-29.dahlia" })

/** A session as Stripe renders it in an event (test mode, synthetic). */
const session = (id: string, created: number, status: string) => ({
  id,
  object: "identity.verification_session",
  client_reference_id: null,
  client_secret: null,
  created,
  last_error: null,
  last_verification_report: status === "verified" ? `vr_${id.slice(3)}` : null,
  livemode: false,
  metadata: {},
  options: { document: { require_matching_selfie: true } },
  redaction: null,
  related_customer: null,
  related_customer_account: null,
  status: status === "created" ? "requires_input" : status,
  type: "document",
  url: null,
})

const deliver = async (payload: string): Promise<void> => {
  const signature = stripe.webhooks.generateTestHeaderString({ payload, secret })
  const response = await fetch(`${baseUrl}/webhooks/stripe`, {
    method: "POST",
    headers: { "content-type": "application/json", "stripe-signature": signature },
    body: payload,
  })
  if (!response.ok) throw new Error(`webhook refused: ${response.status} ${await response.text()}`)
}

const run = Date.now().toString(36)
const created = Math.floor(Date.now() / 1000) - 60
for (let i = 0; i < sessions; i++) {
  const id = `vs_example${run}${i}`
  const steps = ["created", "processing", "verified"].map((status, step) =>
    JSON.stringify({
      id: `evt_example${run}${i}_${step}`,
      object: "event",
      type: `identity.verification_session.${status}`,
      created: created + step * 10,
      livemode: false,
      api_version: "2026-07-29.dahlia",
      data: { object: session(id, created, status) },
    }),
  )
  const [created_, processing, verified] = steps as [string, string, string]
  for (const payload of [processing, created_, verified]) await deliver(payload)
  console.log(id)
}
