/**
 * The Node adapter on a real `node:http` server on 127.0.0.1, against a PGlite store: it reads
 * the raw body itself, or takes the bytes a framework left in `req.body` (Express's `raw()`), and
 * refuses a body a framework already parsed (Express's `json()`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { openTemporaryStore } from "@idtrail/store/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type NodeWebhookRequest, nodeWebhookHandler } from "../src/index.ts"
import { type Answer, eventBody, sign, snapshot } from "./fixtures.ts"

const SECRET = "whsec_node_tests"
const NOW = 1_760_000_500

let store: Awaited<ReturnType<typeof openTemporaryStore>>
let server: Server
let base = ""
/** What a framework did to the body before the handler ran, per path. */
const frameworks: Record<string, (raw: Buffer) => unknown> = {
  "/raw": (raw) => raw, // express.raw()
  "/text": (raw) => raw.toString("utf8"), // express.text()
  "/json": (raw) => JSON.parse(raw.toString("utf8")), // express.json()
}

beforeAll(async () => {
  store = await openTemporaryStore()
  const handler = nodeWebhookHandler({ store, secrets: SECRET, now: () => NOW, maxBodyBytes: 64 * 1024 })
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const framework = frameworks[req.url ?? ""]
    if (framework === undefined) return handler(req, res)
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () =>
      handler(Object.assign(req, { body: framework(Buffer.concat(chunks)) }) as NodeWebhookRequest, res),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()))
  await store?.dispose()
})

const deliver = async (path: string, body: NonNullable<RequestInit["body"]>, signature?: string) => {
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    body,
    headers: signature === undefined ? {} : { "stripe-signature": signature },
    duplex: "half",
  } as RequestInit)
  return { status: response.status, body: (await response.json()) as Answer }
}

describe("nodeWebhookHandler on node:http", () => {
  it("reads the raw body itself: a signed delivery is recorded and answered 200", async () => {
    const raw = eventBody("evt_n1", snapshot("vs_n1", "processing"), NOW - 10)
    expect(await deliver("/webhooks", raw, sign(raw, SECRET, NOW))).toEqual({
      status: 200,
      body: { received: true },
    })
    expect(await store.readStream("vs_n1")).toHaveLength(1)
  })

  it.each(["/raw", "/text"])("takes the body a framework read as bytes or text (%s)", async (path) => {
    const id = `vs_n2${path.slice(1)}`
    const raw = eventBody(`evt_${id}`, snapshot(id, "requires_input"), NOW - 10)
    expect(await deliver(path, raw, sign(raw, SECRET, NOW))).toEqual({
      status: 200,
      body: { received: true },
    })
    expect(await store.readStream(id)).toHaveLength(1)
  })

  it("refuses a body a framework already parsed as JSON: 400 payload_not_raw, nothing written", async () => {
    const raw = eventBody("evt_n3", snapshot("vs_n3", "processing"), NOW - 10)
    const { status, body } = await deliver("/json", raw, sign(raw, SECRET, NOW))
    expect(status).toBe(400)
    expect(body.error).toMatchObject({ type: "InvalidSignature" })
    expect(body.error.message).toMatch(/raw bytes/)
    expect(await store.readStream("vs_n3")).toEqual([])
  })

  it("anything but POST is 405", async () => {
    const response = await fetch(`${base}/webhooks`)
    expect(response.status).toBe(405)
    expect(response.headers.get("allow")).toBe("POST")
  })

  it("a body over the limit is 413, declared or streamed, and the client still reads the answer", async () => {
    const big = "x".repeat(64 * 1024 + 1)
    expect(await deliver("/webhooks", big, "t=1,v1=ab")).toMatchObject({ status: 413 })
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 80; i++) controller.enqueue(new Uint8Array(1024))
        controller.close()
      },
    })
    expect(await deliver("/webhooks", streamed, "t=1,v1=ab")).toMatchObject({
      status: 413,
      body: { error: { type: "RequestRefused" } },
    })
  })

  it("a missing header and a non-ASCII v1 of the right length are 400s, never 500s", async () => {
    const raw = eventBody("evt_n4", snapshot("vs_n4", "processing"), NOW - 10)
    expect(await deliver("/webhooks", raw)).toMatchObject({
      status: 400,
      body: { error: { type: "InvalidSignature" } },
    })
    expect(await deliver("/webhooks", raw, `t=${NOW},v1=${"é".repeat(64)}`)).toMatchObject({ status: 400 })
    expect(await store.readStream("vs_n4")).toEqual([])
  })
})
