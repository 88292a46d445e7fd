/**
 * `audit.stateAt(…, { clock: "stripe" })` with late steps (issue 12): a step recorded after later
 * ones sits at its Stripe time, so the state at a Stripe time shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { actor, backends, observation, openTestStore, snapshot } from "./fixtures.ts"

describe.each(backends)("stateAt on Stripe's clock with late steps ($name)", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  const failed = { code: "document_unverified_other", reason: "unreadable" } as const
  const deliver = (status: string, at: number, evt: string, overrides = {}) =>
    store.handle("vs_late", observation(snapshot("vs_late", status, overrides), at, "webhook", evt), {
      actor,
    })

  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
    await deliver("requires_input", 100, "evt_l1")
    await deliver("processing", 110, "evt_l2")
    await deliver("verified", 140, "evt_l5")
    // Retried late: the failed check at 120 and the second submission at 130.
    await deliver("requires_input", 120, "evt_l3", { last_error: failed })
    await deliver("processing", 130, "evt_l4")
  }, 60_000)
  afterAll(async () => {
    await store?.dispose()
  })

  it("the status at a Stripe time is the last step at or before it, a late one included", async () => {
    const at = async (seconds: number) =>
      (await store.audit.stateAt("vs_late", new Date(seconds * 1000), { clock: "stripe" })).facts
    expect((await at(115))?.status).toBe("processing")
    expect(await at(125)).toMatchObject({ status: "requires_input", lastError: failed })
    expect((await at(135))?.status).toBe("processing")
    expect((await at(145))?.status).toBe("verified")
    // The present is the newest knowledge, whatever arrived late.
    expect((await store.state("vs_late")).facts?.status).toBe("verified")
  })
})
