/**
 * Sweeps when Stripe created more sessions in one second than a page holds (bulk creation: a
 * migration, a batch KYC campaign): a page all of one second closes no window of the comparison.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { reconcile } from "../src/index.ts"
import { backends, openWorld, type World } from "./fixtures.ts"

const crowd = 150

describe.each(backends)(
  "a sweep on $name when more than a page of sessions share a second",
  ({ databaseUrl }) => {
    let w: World
    let second: number
    beforeEach(async () => {
      // Stripe's clock stands still: every session below is created in the same second.
      w = await openWorld(databaseUrl, 0, { frozenClock: true, startTime: 1_800_000_000 })
      for (let i = 0; i < 3; i++) await w.stripe.identity.verificationSessions.create({ type: "document" })
      w.sim.control.advanceClock(1)
      second = w.sim.control.now()
      for (let i = 0; i < crowd; i++)
        await w.stripe.identity.verificationSessions.create({ type: "document" })
    })
    afterEach(async () => {
      await w?.dispose()
    })

    it("records every session, finds none missing, and a second sweep changes nothing", async () => {
      const first = await reconcile(w.store, w.api(), { mode: "sweep" })
      expect(first).toMatchObject({ complete: true, examined: crowd + 3, started: crowd + 3, errors: [] })
      expect(first.missingRemotelyCount).toBe(0)
      const again = await reconcile(w.store, w.api(), { mode: "sweep" })
      expect(again).toMatchObject({
        complete: true,
        examined: crowd + 3,
        unchanged: crowd + 3,
        missingRemotelyCount: 0,
      })
    })

    it("a local session of the crowded second that Stripe does not list is reported missing there", async () => {
      await reconcile(w.store, w.api(), { mode: "sweep" })
      const known = (await w.stripe.identity.verificationSessions.list({ limit: 1 })).data[0]!
      expect(known.created).toBe(second)
      const stray = { ...known, id: "vs_stray_in_the_crowd" }
      await w.store.handle(
        stray.id,
        { _tag: "Observe", session: stray as never, source: "api", observedAt: second },
        { actor: { kind: "service", id: "tests" } },
      )
      const sweep = await reconcile(w.store, w.api(), { mode: "sweep" })
      expect(sweep).toMatchObject({ complete: true, missingRemotelyCount: 1, missingRemotely: [stray.id] })
    })

    it("a sweep that crashed after a page inside the crowded second resumes and completes", async () => {
      const firstPage = await w.stripe.identity.verificationSessions.list({ limit: 100 })
      expect(firstPage.data.every((s) => s.created === second)).toBe(true)
      await w.store.runState.saveCursor("default", "sweep", {
        startingAfter: firstPage.data.at(-1)!.id,
        windowUpper: second,
        runId: "recon_crashed_in_the_crowd",
      })
      const resumed = await reconcile(w.store, w.api(), { mode: "sweep" })
      expect(resumed).toMatchObject({ complete: true, examined: crowd + 3 - 100, errors: [] })
      expect(resumed.warnings.join()).toMatch(/resumed the sweep of run recon_crashed_in_the_crowd/)
      expect((await reconcile(w.store, w.api(), { mode: "sweep" })).examined).toBe(crowd + 3)
    })
  },
)
