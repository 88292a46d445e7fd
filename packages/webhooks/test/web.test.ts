/**
 * The Web-standard handler over real `Request`s, against a PGlite store: the statuses Stripe
 * expects, JSON bodies that never echo the request, and no throw whatever arrives.
 */
import { StoreUnavailable } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type WebhookHandlerOptions, webhookHandler } from "../src/index.ts"
import { type Answer, eventBody, sign, snapshot } from "./fixtures.ts"

const SECRET = "whsec_web_tests"
const NOW = 1_760_000_500
const ENDPOINT = "http://localhost/webhooks"

let store: Awaited<ReturnType<typeof openTemporaryStore>>
beforeAll(async () => {
  store = await openTemporaryStore()
})
afterAll(async () => {
  await store?.dispose()
})

const options = (): WebhookHandlerOptions => ({ store, secrets: SECRET, now: () => NOW })
const post = (body: NonNullable<RequestInit["body"]>, headers: Record<string, string> = {}) =>
  new Request(ENDPOINT, { method: "POST", body, headers, duplex: "half" } as RequestInit)
const signed = (raw: string, secret = SECRET) => post(raw, { "stripe-signature": sign(raw, secret, NOW) })
const answer = async (response: Response) => ({
  status: response.status,
  body: (await response.json()) as Answer,
})

describe("webhookHandler (Request → Response)", () => {
  it("a signed delivery is recorded and answered 200 { received: true }", async () => {
    const raw = eventBody("evt_web1", snapshot("vs_web1", "processing"), NOW - 10)
    const response = await webhookHandler(options())(signed(raw))
    expect(response.headers.get("content-type")).toMatch(/^application\/json/)
    expect(await answer(response)).toEqual({ status: 200, body: { received: true } })
    expect(await store.readStream("vs_web1")).toHaveLength(1)
  })

  it("an event of another type is acknowledged and nothing is written", async () => {
    const raw = eventBody("evt_web2", snapshot("vs_web2", "processing"), NOW - 10, "charge.succeeded")
    expect(await answer(await webhookHandler(options())(signed(raw)))).toEqual({
      status: 200,
      body: { received: true },
    })
    expect(await store.readStream("vs_web2")).toEqual([])
  })

  it("anything but POST is answered 405 with Allow: POST", async () => {
    const response = await webhookHandler(options())(new Request(ENDPOINT, { method: "GET" }))
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
    expect(((await response.json()) as Answer).error).toMatchObject({ type: "RequestRefused" })
  })

  it("a body over the limit is answered 413, whether its length is declared or only streamed", async () => {
    const handler = webhookHandler({ ...options(), maxBodyBytes: 1_000 })
    const declared = await handler(post("x".repeat(1_001), { "stripe-signature": "t=1,v1=ab" }))
    expect(declared.status).toBe(413)
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(new Uint8Array(300))
        controller.close()
      },
    })
    const streamed = await handler(post(chunks))
    expect(await answer(streamed)).toMatchObject({ status: 413, body: { error: { type: "RequestRefused" } } })
  })

  it("a bad signature is 400 InvalidSignature, the message shows no secret, and nothing is written", async () => {
    const raw = eventBody("evt_web3", snapshot("vs_web3", "processing"), NOW - 10)
    const { status, body } = await answer(await webhookHandler(options())(signed(raw, "whsec_other")))
    expect(status).toBe(400)
    expect(body.error).toMatchObject({ type: "InvalidSignature" })
    expect(JSON.stringify(body)).not.toMatch(/whsec_/)
    expect(await store.readStream("vs_web3")).toEqual([])
  })

  it("a non-ASCII v1 of the right length is a 400, not a 500", async () => {
    const raw = eventBody("evt_web4", snapshot("vs_web4", "processing"), NOW - 10)
    const response = await webhookHandler(options())(
      post(raw, { "stripe-signature": `t=${NOW},v1=${"é".repeat(64)}` }),
    )
    expect(await answer(response)).toMatchObject({
      status: 400,
      body: { error: { type: "InvalidSignature" } },
    })
  })

  it("a signed body that is no Stripe event is 400 and the answer quotes none of it", async () => {
    const raw =
      '{"id":"evt_web5","object":"event","canary":"vs_1_secret_canary","type":"identity.verification_session.verified"'
    const { status, body } = await answer(await webhookHandler(options())(signed(raw)))
    expect(status).toBe(400)
    expect(body.error).toMatchObject({ type: "InvalidPayload" })
    expect(JSON.stringify(body)).not.toContain("canary")
  })

  it("a store that cannot record answers 500 so Stripe retries, with no detail; onError gets the error", async () => {
    const seen: Array<[string, number]> = []
    const failing = {
      service: {
        ...store.service,
        handle: () =>
          Effect.fail(new StoreUnavailable({ message: "connect ECONNREFUSED 10.0.0.7:5432", cause: null })),
      },
    }
    const handler = webhookHandler({
      ...options(),
      store: failing,
      onError: (error, status) => seen.push([(error as { _tag: string })._tag, status]),
    })
    const raw = eventBody("evt_web6", snapshot("vs_web6", "processing"), NOW - 10)
    const { status, body } = await answer(await handler(signed(raw)))
    expect(status).toBe(500)
    expect(body.error.type).toBe("StoreUnavailable")
    expect(JSON.stringify(body)).not.toContain("10.0.0.7")
    expect(seen).toEqual([["StoreUnavailable", 500]])
  })

  it("a bug (a defect) is a 500 too, and a throwing onError changes nothing", async () => {
    const broken = { service: { ...store.service, handle: () => Effect.die(new Error("bug")) } }
    const handler = webhookHandler({
      ...options(),
      store: broken,
      onError: () => {
        throw new Error("the logger is down")
      },
    })
    const raw = eventBody("evt_web7", snapshot("vs_web7", "processing"), NOW - 10)
    expect(await answer(await handler(signed(raw)))).toMatchObject({
      status: 500,
      body: { error: { type: "InternalError" } },
    })
  })
})
