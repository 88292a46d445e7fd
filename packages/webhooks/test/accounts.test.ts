/**
 * Webhooks and accounts (issue 13): an endpoint records its platform account's events under that
 * account (`account`, default "default"), a Connect event under its connected account
 * (`event.account`), and an event whose `livemode` contradicts its session's is refused (400).
 * Hand-signed deliveries, as Stripe signs them; the simulator's Connect endpoint is exercised end
 * to end in the repository's `test/accounts.test.ts`.
 */
import { createHmac } from "node:crypto"
import { openTemporaryStore } from "@idtrail/store/testing"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { webhookHandler } from "../src/index.ts"
import { type Answer, backends, snapshot } from "./fixtures.ts"

const SECRET = "whsec_accounts_tests"
const NOW = 1_760_000_500

const sign = (raw: string, t = NOW) =>
  `t=${t},v1=${createHmac("sha256", SECRET).update(`${t}.${raw}`).digest("hex")}`

const event = (
  id: string,
  sessionId: string,
  extra: { account?: string; livemode?: boolean; sessionLivemode?: boolean } = {},
) =>
  JSON.stringify({
    id,
    object: "event",
    type: "identity.verification_session.created",
    created: 1_760_000_100,
    livemode: extra.livemode ?? false,
    api_version: "2026-07-29.dahlia",
    ...(extra.account === undefined ? {} : { account: extra.account }),
    data: { object: snapshot(sessionId, "requires_input", { livemode: extra.sessionLivemode ?? false }) },
  })

describe.each(backends)("webhooks and accounts ($name)", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTemporaryStore>>
  const refused: Array<unknown> = []
  const post = (raw: string, account?: string) =>
    webhookHandler({
      store,
      secrets: SECRET,
      now: () => NOW,
      ...(account === undefined ? {} : { account }),
      onError: (e) => refused.push(e),
    })(
      new Request("http://localhost/webhooks", {
        method: "POST",
        body: raw,
        headers: { "stripe-signature": sign(raw) },
      }),
    )
  const answer = async (raw: string, account?: string) => {
    const response = await post(raw, account)
    return { status: response.status, body: (await response.json()) as Answer }
  }
  const metadataOf = async (sessionId: string) => (await store.readStream(sessionId)).map((e) => e.metadata)

  beforeAll(async () => {
    store = await openTemporaryStore({ databaseUrl })
  }, 60_000)
  afterAll(async () => {
    await store?.dispose()
  })

  it('an endpoint without an account records under "default"', async () => {
    expect((await answer(event("evt_a1", "vs_a1"))).status).toBe(200)
    expect((await store.state("vs_a1")).account).toBe("default")
    expect(await metadataOf("vs_a1")).toEqual([
      expect.objectContaining({ account: "default", livemode: false }),
    ])
  })

  it("a platform account's endpoint records its events under that account", async () => {
    expect((await answer(event("evt_a2", "vs_a2"), "second")).status).toBe(200)
    expect((await store.state("vs_a2")).account).toBe("second")
    expect(await metadataOf("vs_a2")).toEqual([expect.objectContaining({ account: "second" })])
  })

  it("a Connect event records under its connected account, whichever platform's endpoint got it", async () => {
    expect((await answer(event("evt_a3", "vs_a3", { account: "acct_1Conn" }), "second")).status).toBe(200)
    expect((await store.state("vs_a3")).account).toBe("acct_1Conn")
    expect(await metadataOf("vs_a3")).toEqual([expect.objectContaining({ account: "acct_1Conn" })])
  })

  it("a live event records livemode true in the metadata and the session's row", async () => {
    const raw = event("evt_a4", "vs_a4", { livemode: true, sessionLivemode: true })
    expect((await answer(raw)).status).toBe(200)
    expect(await metadataOf("vs_a4")).toEqual([expect.objectContaining({ livemode: true })])
    expect((await store.state("vs_a4")).facts?.livemode).toBe(true)
  })

  it("an event whose livemode differs from its session's is refused with 400 LivemodeMismatch, nothing written", async () => {
    const { status, body } = await answer(
      event("evt_a5", "vs_a5", { livemode: true, sessionLivemode: false }),
    )
    expect(status).toBe(400)
    expect(body.error.type).toBe("LivemodeMismatch")
    expect(refused.at(-1)).toMatchObject({
      _tag: "LivemodeMismatch",
      eventLivemode: true,
      sessionLivemode: false,
    })
    expect(await store.readStream("vs_a5")).toEqual([])
  })

  it("a later event of a session through another account is refused with 400 AccountMismatch, nothing written", async () => {
    const before = await store.readStream("vs_a1")
    const { status, body } = await answer(event("evt_a6", "vs_a1", { account: "acct_1Other" }))
    expect(status).toBe(400)
    expect(body.error.type).toBe("AccountMismatch")
    expect(await store.readStream("vs_a1")).toEqual(before)
  })

  it("a Connect event whose account is not acct_… is refused as InvalidPayload at account", async () => {
    const { status, body } = await answer(event("evt_a7", "vs_a7", { account: "second" }))
    expect(status).toBe(400)
    expect(body.error).toMatchObject({ type: "InvalidPayload" })
    expect(body.error.message).toMatch(/at account/)
    expect(await store.readStream("vs_a7")).toEqual([])
  })

  it("an endpoint configured with acct_… as its platform account answers 500 (a setting to fix; Stripe delivers again) and writes nothing", async () => {
    const { status } = await answer(event("evt_a8", "vs_a8"), "acct_1Conn")
    expect(status).toBe(500)
    expect(refused.at(-1)).toMatchObject({ _tag: "InvalidAccount", account: "acct_1Conn" })
    expect(await store.readStream("vs_a8")).toEqual([])
  })
})
