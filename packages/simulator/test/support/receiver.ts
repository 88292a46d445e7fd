/** A real webhook endpoint for tests: node:http on a random port, recording what arrives. */
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"

/** One request the endpoint received. */
export interface Received {
  readonly body: string
  readonly signature: string | undefined
  readonly at: number
}

/** A running receiver. */
export interface Receiver {
  readonly url: string
  readonly received: Received[]
  /** Decides the status of each request (default 200). */
  respond: (body: string, attempt: number) => number
  readonly close: () => Promise<void>
}

/** Starts a receiver on 127.0.0.1, port 0. */
export const startReceiver = async (): Promise<Receiver> => {
  const received: Received[] = []
  const attempts = new Map<string, number>()
  const receiver: Receiver = {
    url: "",
    received,
    respond: () => 200,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8")
      const n = (attempts.get(body) ?? 0) + 1
      attempts.set(body, n)
      received.push({
        body,
        signature: req.headers["stripe-signature"] as string | undefined,
        at: performance.now(),
      })
      res.writeHead(receiver.respond(body, n)).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  ;(receiver as { url: string }).url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`
  return receiver
}
