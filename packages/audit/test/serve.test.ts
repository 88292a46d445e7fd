/**
 * `audit serve` is read-only and local by default: it binds 127.0.0.1, answers GET and HEAD of
 * `/` only, refuses a bad window with a 400 naming it, and sends a policy that loads nothing.
 */
import { request } from "node:http"
import type { PromiseStore } from "@idtrail/store"
import { openTemporaryStore } from "@idtrail/store/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { auditViews, contentSecurityPolicy, windowOfQuery } from "../src/index.ts"

const call = (url: string, method = "GET") =>
  new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(url, { method }, (res) => {
      let body = ""
      res.on("data", (c) => (body += c))
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on("error", reject)
    req.end()
  })

describe("audit serve", () => {
  let store: PromiseStore & { dispose: () => Promise<void> }
  let server: Awaited<ReturnType<ReturnType<typeof auditViews>["serve"]>>
  beforeAll(async () => {
    store = await openTemporaryStore({ databaseUrl: process.env.DATABASE_URL })
    server = await auditViews(store).serve({ port: 0 })
  })
  afterAll(async () => {
    await server?.close()
    await store?.dispose()
  })

  it("binds 127.0.0.1 by default and says so on the page", async () => {
    expect(server.host).toBe("127.0.0.1")
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`)
    const page = await call(`${server.url}?from=2026-10-01&to=2026-11-01`)
    expect(page.status).toBe(200)
    expect(page.body).toContain(`served on 127.0.0.1:${server.port} (this machine only)`)
    expect(page.headers["content-security-policy"]).toBe(contentSecurityPolicy)
    expect(page.headers["cache-control"]).toBe("no-store")
  })

  it("is read-only: other methods get 405, other paths 404", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await call(server.url, method)
      expect(r.status).toBe(405)
      expect(r.headers.allow).toBe("GET, HEAD")
    }
    expect((await call(`${server.url}sessions`)).status).toBe(404)
    const head = await call(server.url, "HEAD")
    expect([head.status, head.body]).toEqual([200, ""])
  })

  it("a page of one account and mode keeps them when its form asks for another window; an empty account is no filter", async () => {
    const page = await call(`${server.url}?from=2026-10-01&to=2026-11-01&account=acct_1Conn&livemode=false`)
    expect(page.status).toBe(200)
    expect(page.body).toContain("Account acct_1Conn, test mode.")
    expect(page.body).toContain('<input type="hidden" name="account" value="acct_1Conn">')
    expect(page.body).toContain('<input type="hidden" name="livemode" value="false">')
    const empty = await call(`${server.url}?from=2026-10-01&to=2026-11-01&account=`)
    expect(empty.status).toBe(200)
    expect(empty.body).toContain("Every account, both modes.")
    expect(empty.body).not.toContain('name="account"')
  })

  it("a bad window is a 400 naming what is wrong", async () => {
    const r = await call(`${server.url}?from=2026-11-01&to=2026-10-01`)
    expect([r.status, r.body]).toEqual([400, "from is after to\n"])
    expect((await call(`${server.url}?from=soon`)).body).toMatch(/^from must be a date/)
  })

  it("the default window is the 30 days up to the end of today (UTC)", () => {
    const now = new Date("2026-12-04T17:00:00Z")
    expect(windowOfQuery(new URLSearchParams(), now)).toEqual({
      from: new Date("2026-11-05T00:00:00Z"),
      to: new Date("2026-12-05T00:00:00Z"),
    })
  })

  it("a port it cannot bind is an InvalidArgument, and nothing keeps running", async () => {
    await expect(auditViews(store).serve({ port: server.port })).rejects.toMatchObject({
      _tag: "InvalidArgument",
      argument: "port",
    })
    await expect(auditViews(store).serve({ port: 70_000 })).rejects.toMatchObject({ _tag: "InvalidArgument" })
  })
})
