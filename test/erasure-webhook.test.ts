/**
 * End to end: a redaction at Stripe (the simulator, over real HTTP), seen only through signed
 * webhooks by an endpoint recording into an encrypted store, erases the session by itself: its
 * key is destroyed, readers show nothing personal, and the erasure is listed with no key left.
 * (The same through a sweep: `packages/reconciler/test/cli-erase.test.ts`.)
 *
 * Runs on the embedded PGlite, or on Postgres when DATABASE_URL is set.
 */
import { randomBytes, randomUUID } from "node:crypto"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { type StartedSimulator, startSimulator } from "@idtrail/simulator"
import { localKeyEncryption, openStore, type PromiseStore } from "@idtrail/store"
import { dropSchema } from "@idtrail/store/testing"
import { nodeWebhookHandler } from "@idtrail/webhooks"
import Stripe from "stripe"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const KEY = "sk_test_erasure"
const schema = `idtrail_erasure_${randomUUID().replaceAll("-", "").slice(0, 12)}`
const text = (value: unknown) =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))

let sim: StartedSimulator
let store: PromiseStore
let receiver: Server
let stripe: Stripe
const rejected: Array<string> = []

beforeAll(async () => {
  sim = await startSimulator({ seed: 3, frozenClock: true, startTime: 1_800_000_000, rateLimit: false })
  store = await openStore({
    databaseUrl: process.env.DATABASE_URL,
    schema,
    encryption: { keyEncryption: localKeyEncryption(randomBytes(32)) },
  })
  let secret = ""
  receiver = createServer((req, res) =>
    nodeWebhookHandler({
      store,
      secrets: secret,
      now: () => sim.control.now(),
      onError: (error, status) => rejected.push(`${status}: ${(error as Error).message}`),
    })(req, res),
  )
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
  const { port } = receiver.address() as AddressInfo
  secret = sim.control.addWebhookEndpoint({ url: `http://127.0.0.1:${port}/webhooks` }).secret
  stripe = new Stripe(KEY, {
    apiVersion: "2026-07-29.dahlia",
    host: "127.0.0.1",
    port: sim.port,
    protocol: "http",
    maxNetworkRetries: 0,
  })
})

afterAll(async () => {
  await new Promise<void>((resolve) => receiver?.close(() => resolve()))
  await sim?.close()
  if (store !== undefined) await dropSchema(store)
  await store?.close()
})

describe("a redaction at Stripe, seen by webhooks", () => {
  it("erases the session: no key remains, and no reader shows its personal values", async () => {
    const created = await stripe.identity.verificationSessions.create({
      type: "document",
      client_reference_id: "cust-jane-doe",
      metadata: { email: "jane@example.com" },
    })
    const id = created.id
    sim.control.advanceClock(1)
    sim.control.submit(id)
    sim.control.advanceClock(1)
    sim.control.pass(id)
    await sim.control.flushWebhooks()
    expect((await store.state(id)).facts?.metadata).toEqual({ email: "jane@example.com" })
    expect(await store.erasure.erased({ after: null, limit: 100 })).toEqual([])

    sim.control.advanceClock(1)
    await stripe.identity.verificationSessions.redact(id)
    sim.control.advanceClock(1)
    sim.control.finishRedaction(id)
    await sim.control.flushWebhooks()

    expect(rejected).toEqual([])
    const erased = await store.erasure.erased({ after: null, limit: 100 })
    expect(erased).toMatchObject([{ sessionId: id, keyRemains: false, actor: { kind: "service" } }])
    expect(erased[0]?.reason).toMatch(/^redacted at Stripe \((processing|redacted)\), seen by webhook$/)
    const seen = text([await store.readStream(id), await store.state(id), await store.audit.history(id)])
    expect(seen).not.toContain("jane")
    expect(seen).toContain("[erased]")
    expect((await store.state(id)).facts?.redactionStatus).toBe("redacted")
  })
})
