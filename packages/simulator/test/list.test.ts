/**
 * Listing sessions: newest first, cursors both ways, the SDK's auto-pagination, every filter,
 * and pages whose cost does not grow with their depth.
 */
import Stripe from "stripe"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { page } from "../src/list.ts"
import { failure, type Harness, startHarness } from "./support/harness.ts"

const T0 = 1_780_000_000
let h: Harness
let stripe: Stripe
/** Ids of the sessions this file created, oldest first. */
const created: Stripe.Identity.VerificationSession[] = []

beforeAll(async () => {
  h = await startHarness({ seed: 11, startTime: T0, frozenClock: true })
  stripe = h.stripe
  // 25 sessions, one every 10 seconds; every third for user_a, every other one for cus_1.
  for (let i = 0; i < 25; i++) {
    created.push(
      await stripe.identity.verificationSessions.create({
        type: "document",
        client_reference_id: i % 3 === 0 ? "user_a" : `user_${i}`,
        ...(i % 2 === 0 ? { related_customer: "cus_1" } : {}),
      }),
    )
    h.sim.control.advanceClock(10)
  }
  // Give a few sessions other statuses.
  for (const i of [1, 4, 7]) h.sim.control.submit(created[i]!.id)
  h.sim.control.pass(created[4]!.id)
  await stripe.identity.verificationSessions.cancel(created[2]!.id)
})
afterAll(async () => {
  expect(h.violations()).toEqual([])
  await h.close()
})

const newestFirst = () => [...created].reverse().map((s) => s.id)
const ids = (list: { data: Array<{ id: string }> }) => list.data.map((s) => s.id)

describe("list", () => {
  it("returns the newest 10 by default, with has_more and Stripe's list envelope", async () => {
    const list = await stripe.identity.verificationSessions.list()
    expect(list.object).toBe("list")
    expect(list.url).toBe("/v1/identity/verification_sessions")
    expect(ids(list)).toEqual(newestFirst().slice(0, 10))
    expect(list.has_more).toBe(true)
  })

  it("auto-paginates across pages with for await, newest first, each session once", async () => {
    const seen: string[] = []
    for await (const s of stripe.identity.verificationSessions.list({ limit: 4 })) seen.push(s.id)
    expect(seen).toEqual(newestFirst())
  })

  it("autoPagingToArray collects every page", async () => {
    const all = await stripe.identity.verificationSessions
      .list({ limit: 7 })
      .autoPagingToArray({ limit: 1000 })
    expect(all.map((s) => s.id)).toEqual(newestFirst())
  })

  it("pages backwards with ending_before; auto-pagination then yields oldest to newest", async () => {
    const pivot = created[5]!.id
    const page1 = await stripe.identity.verificationSessions.list({ ending_before: pivot, limit: 3 })
    expect(ids(page1)).toEqual([created[8]!.id, created[7]!.id, created[6]!.id])
    expect(page1.has_more).toBe(true)
    const newer: string[] = []
    for await (const s of stripe.identity.verificationSessions.list({ ending_before: pivot, limit: 3 }))
      newer.push(s.id)
    expect(newer).toEqual(created.slice(6).map((s) => s.id))
  })

  it("starts after a cursor and reports has_more false on the last page", async () => {
    const list = await stripe.identity.verificationSessions.list({
      starting_after: created[3]!.id,
      limit: 10,
    })
    expect(ids(list)).toEqual([created[2]!.id, created[1]!.id, created[0]!.id])
    expect(list.has_more).toBe(false)
  })

  it("filters by status", async () => {
    const processing = await stripe.identity.verificationSessions.list({ status: "processing" })
    expect(ids(processing)).toEqual([created[7]!.id, created[1]!.id])
    const verified = await stripe.identity.verificationSessions.list({ status: "verified" })
    expect(ids(verified)).toEqual([created[4]!.id])
    const canceled = await stripe.identity.verificationSessions.list({ status: "canceled" })
    expect(ids(canceled)).toEqual([created[2]!.id])
  })

  it("filters by client_reference_id, across pages", async () => {
    const all = await stripe.identity.verificationSessions
      .list({ client_reference_id: "user_a", limit: 2 })
      .autoPagingToArray({ limit: 100 })
    expect(all.map((s) => s.id)).toEqual(newestFirst().filter((_, k) => (24 - k) % 3 === 0))
    const none = await stripe.identity.verificationSessions.list({ client_reference_id: "nobody" })
    expect(none.data).toEqual([])
    expect(none.has_more).toBe(false)
  })

  it("filters by related_customer", async () => {
    const all = await stripe.identity.verificationSessions
      .list({ related_customer: "cus_1", limit: 100 })
      .autoPagingToArray({ limit: 100 })
    expect(all).toHaveLength(13)
    expect(all.every((s) => s.related_customer === "cus_1")).toBe(true)
  })

  it("filters by created: gt, gte, lt, lte and an exact second", async () => {
    const at = (i: number) => T0 + 10 * i
    const list = (created: Stripe.RangeQueryParam | number) =>
      stripe.identity.verificationSessions.list({ created, limit: 100 }).then(ids)
    expect(await list({ gte: at(20) })).toEqual(newestFirst().slice(0, 5))
    expect(await list({ gt: at(20) })).toEqual(newestFirst().slice(0, 4))
    expect(await list({ lt: at(2) })).toEqual([created[1]!.id, created[0]!.id])
    expect(await list({ lte: at(2) })).toEqual([created[2]!.id, created[1]!.id, created[0]!.id])
    expect(await list({ gte: at(3), lt: at(5) })).toEqual([created[4]!.id, created[3]!.id])
    expect(await list(at(6))).toEqual([created[6]!.id])
  })

  it("combines filters with cursors", async () => {
    const list = await stripe.identity.verificationSessions.list({
      client_reference_id: "user_a",
      related_customer: "cus_1",
      starting_after: created[18]!.id,
      limit: 100,
    })
    expect(ids(list)).toEqual([created[12]!.id, created[6]!.id, created[0]!.id])
  })

  it.each([
    [{ limit: 0 }, "limit"],
    [{ limit: 101 }, "limit"],
    [{ limit: "abc" }, "limit"],
    [{ status: "done" }, "status"],
    [{ created: { after: 1 } }, "created[after]"],
    [{ created: { gt: "soon" } }, "created[gt]"],
    [{ colour: "red" }, "colour"],
  ])("rejects %j, naming %s", async (params, param) => {
    const e = await failure(
      stripe.identity.verificationSessions.list(
        params as unknown as Stripe.Identity.VerificationSessionListParams,
      ),
    )
    expect(e).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError)
    expect(e.statusCode).toBe(400)
    expect(e.param).toBe(param)
  })

  it("refuses starting_after together with ending_before", async () => {
    const e = await failure(
      stripe.identity.verificationSessions.list({
        starting_after: created[1]!.id,
        ending_before: created[3]!.id,
      }),
    )
    expect(e.statusCode).toBe(400)
    expect(e.code).toBe("parameters_exclusive")
  })

  it("answers 404 for a cursor that names no session", async () => {
    const e = await failure(stripe.identity.verificationSessions.list({ starting_after: "vs_nope" }))
    expect(e.statusCode).toBe(404)
    expect(e.code).toBe("resource_missing")
    expect(e.param).toBe("starting_after")
  })

  it("expands verified_outputs on list items with data.verified_outputs", async () => {
    const list = await stripe.identity.verificationSessions.list({
      status: "verified",
      expand: ["data.verified_outputs"],
    })
    expect(list.data[0]?.verified_outputs?.first_name).toEqual(expect.any(String))
    const e = await failure(stripe.identity.verificationSessions.list({ expand: ["verified_outputs"] }))
    expect(e.param).toBe("expand[0]")
  })
})

describe("page cost does not depend on depth", () => {
  const visits = (startingAfter: number | undefined, matches?: (i: number) => boolean) => {
    let n = 0
    page({
      size: 1_000_000,
      firstAtOrAfter: () => 0,
      startingAfter,
      limit: 100,
      matches: (i) => {
        n++
        return matches ? matches(i) : true
      },
    })
    return n
  }

  it("visits limit + 1 rows for the first page and for a page past 900,000", () => {
    expect(visits(undefined)).toBe(101)
    expect(visits(95_000)).toBe(101)
  })

  it("with a filter, visits only the rows between the cursor and the next matches", () => {
    expect(visits(95_000, (i) => i % 10 === 0)).toBeLessThanOrEqual(1010)
  })

  it("serves a page deep inside 100,000 generated sessions through the SDK", async () => {
    const big = await startHarness({ seed: 3, sessions: 100_000 })
    try {
      const deep = big.sim.control.simulator.sessionIds.encode(95_000)
      const list = await big.stripe.identity.verificationSessions.list({ starting_after: deep, limit: 100 })
      expect(list.data).toHaveLength(100)
      expect(list.data[0]!.id).toBe(big.sim.control.simulator.sessionIds.encode(94_999))
      expect(list.data.every((s, k) => k === 0 || s.created <= list.data[k - 1]!.created)).toBe(true)
      expect(big.violations()).toEqual([])
    } finally {
      await big.close()
    }
  })
})
