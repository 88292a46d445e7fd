/**
 * Webhook ingestion, as a team's endpoint uses it: raw body and Stripe-Signature header in, a
 * result and the HTTP status to answer with out. A bad delivery writes nothing.
 */
import { createHmac } from "node:crypto"
import { assert, layer } from "@effect/vitest"
import { EventStore } from "@idtrail/store"
import { openTemporaryStore, temporaryLayer } from "@idtrail/store/testing"
import { Cause, Effect, Exit } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ingestWebhook,
  type WebhookDelivery,
  type WebhookOptions,
  webhookResponseStatus,
} from "../src/index.ts"
import { backends, snapshot } from "./fixtures.ts"

const SECRET = "whsec_store_tests"
const NOW = 1_760_000_500

const body = (eventId: string, sessionId: string, status: string, created: number, type?: string) =>
  JSON.stringify({
    id: eventId,
    object: "event",
    type: type ?? `identity.verification_session.${status}`,
    created,
    livemode: false,
    api_version: "2026-07-29.dahlia",
    data: { object: snapshot(sessionId, status) },
  })

const sign = (raw: string, secret = SECRET, t = NOW) =>
  `t=${t},v1=${createHmac("sha256", secret).update(`${t}.${raw}`).digest("hex")}`

const rejection = async (p: Promise<unknown>) => {
  try {
    await p
  } catch (error) {
    return error as { _tag: string; reason?: string; path?: string; message: string }
  }
  throw new Error("expected the delivery to be refused")
}

describe.each(backends)("webhook ingestion on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTemporaryStore>>
  const options = { secrets: SECRET, now: () => NOW }
  /** The Effect-native ingestion on the store's service, as a Promise that rejects with the tagged error. */
  const ingest = async (delivery: WebhookDelivery, opts: WebhookOptions) => {
    const exit = await Effect.runPromiseExit(
      ingestWebhook(delivery, opts).pipe(Effect.provideService(EventStore, store.service)),
    )
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  }
  beforeAll(async () => {
    store = await openTemporaryStore({ databaseUrl })
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it("a signed delivery is recorded on its session's stream with the Stripe event id, and answered 200", async () => {
    const raw = body("evt_w1", "vs_w1", "requires_input", NOW - 10)
    const result = await ingest({ rawBody: raw, signature: sign(raw) }, options)
    expect(result._tag).toBe("EventsAppended")
    expect(webhookResponseStatus(result)).toBe(200)
    const [recorded] = await store.readStream("vs_w1")
    expect(recorded?.metadata).toMatchObject({
      source: "webhook",
      stripeEventId: "evt_w1",
      causationId: "evt_w1",
      actor: { kind: "service", id: "webhooks" },
    })
  })

  it("the same delivery again changes nothing and is still acknowledged", async () => {
    const raw = body("evt_w1", "vs_w1", "requires_input", NOW - 10)
    const again = await ingest({ rawBody: Buffer.from(raw), signature: sign(raw) }, options)
    expect(["AlreadyRecorded", "NothingToDo"]).toContain(again._tag)
    expect(webhookResponseStatus(again)).toBe(200)
    expect(await store.readStream("vs_w1")).toHaveLength(1)
  })

  it("a wrong signature is refused with 400 and nothing is written", async () => {
    const raw = body("evt_w2", "vs_w2", "requires_input", NOW - 10)
    const error = await rejection(ingest({ rawBody: raw, signature: sign(raw, "whsec_wrong") }, options))
    expect(error).toMatchObject({ _tag: "InvalidSignature", reason: "no_match" })
    expect(error.message).not.toContain(SECRET)
    expect(webhookResponseStatus(error as never)).toBe(400)
    expect(await store.readStream("vs_w2")).toEqual([])
  })

  it("a signature older than the tolerance is refused (a replayed delivery)", async () => {
    const raw = body("evt_w3", "vs_w3", "requires_input", NOW - 10)
    const error = await rejection(ingest({ rawBody: raw, signature: sign(raw, SECRET, NOW - 301) }, options))
    expect(error).toMatchObject({ _tag: "InvalidSignature", reason: "too_old" })
    expect(await store.readStream("vs_w3")).toEqual([])
  })

  it("a signed body that is not a Stripe event is refused with the path, and nothing is written", async () => {
    const raw = '{"id":"evt_w4","object":"event","type":"identity.verification_session.created","created":1}'
    const error = await rejection(ingest({ rawBody: raw, signature: sign(raw) }, options))
    expect(error).toMatchObject({ _tag: "InvalidPayload" })
    expect(error.path).toMatch(/^(livemode|data)/)
    const malformed = "{not json"
    expect(
      await rejection(ingest({ rawBody: malformed, signature: sign(malformed) }, options)),
    ).toMatchObject({
      _tag: "InvalidPayload",
      path: "$",
    })
  })

  it("an event of another type is acknowledged and ignored", async () => {
    const raw = body("evt_w5", "vs_w5", "requires_input", NOW - 10, "payment_intent.succeeded")
    const result = await ingest({ rawBody: raw, signature: sign(raw) }, options)
    expect(result).toEqual({
      _tag: "IgnoredEvent",
      stripeEventId: "evt_w5",
      type: "payment_intent.succeeded",
    })
    expect(webhookResponseStatus(result)).toBe(200)
    expect(await store.readStream("vs_w5")).toEqual([])
  })

  it("a dry run answers what it would append, acknowledged, and writes nothing", async () => {
    const raw = body("evt_w6", "vs_w6", "processing", NOW - 10)
    const result = await ingest({ rawBody: raw, signature: sign(raw) }, { ...options, dryRun: true })
    expect(result).toMatchObject({
      _tag: "WouldAppend",
      version: 0,
      state: { facts: { status: "processing" } },
    })
    expect(webhookResponseStatus(result)).toBe(200)
    expect(await store.readStream("vs_w6")).toEqual([])
  })
})

// The Effect-native core, with the store as a layer: refusals are typed failures to catchTag.
layer(temporaryLayer(), { excludeTestServices: true })("ingestWebhook as an Effect", (it) => {
  it.effect("records through the EventStore service, and a bad signature is caught by its tag", () =>
    Effect.gen(function* () {
      const raw = body("evt_e1", "vs_e1", "requires_input", NOW - 10)
      const options = { secrets: SECRET, now: () => NOW }
      const recorded = yield* ingestWebhook({ rawBody: raw, signature: sign(raw) }, options)
      assert.strictEqual(recorded._tag, "EventsAppended")
      const refused = yield* ingestWebhook(
        { rawBody: raw, signature: sign(raw, "whsec_wrong") },
        options,
      ).pipe(
        Effect.map((result) => result._tag as string),
        Effect.catchTag("InvalidSignature", (error) => Effect.succeed(error.reason)),
      )
      assert.strictEqual(refused, "no_match")
      const store = yield* EventStore
      assert.strictEqual((yield* store.readStream("vs_e1")).length, 1)
    }),
  )
})
