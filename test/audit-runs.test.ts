/**
 * The reconciler's runs as the audit views see them: each run the reconciler makes is recorded
 * with its report's figures (a dry run is not: it writes nothing), and `recordRun` refuses bad
 * input and a run id recorded before, writing nothing.
 */

import { reconcile } from "@idtrail/reconciler"
import type { PromiseStore, RunReport } from "@idtrail/store"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runReports } from "../packages/audit/test/month.ts"
import { openWorld, type World } from "../packages/reconciler/test/fixtures.ts"

const always = { from: new Date(0), to: new Date(Date.UTC(2100, 0, 1)) }

describe("reconciler runs in the audit views", () => {
  let world: World
  let store: PromiseStore
  beforeAll(async () => {
    world = await openWorld(process.env.DATABASE_URL, 12)
    store = world.store
  })
  afterAll(async () => {
    await world?.dispose()
  })

  it("a run is recorded with its report's figures; a dry run is not", async () => {
    const dry = await reconcile(store, world.api(), { mode: "sweep", dryRun: true })
    expect(dry.started).toBe(12)
    expect(await store.audit.runs(always)).toEqual([])
    const report = await reconcile(store, world.api(), { mode: "sweep" })
    const [run] = await store.audit.runs(always)
    expect(run).toEqual({
      runId: report.runId,
      account: "default",
      mode: "sweep",
      dryRun: false,
      startedAt: new Date(report.startedAt),
      finishedAt: new Date(report.finishedAt),
      complete: true,
      stoppedBy: null,
      examined: report.examined,
      started: 12,
      repaired: report.repaired,
      unchanged: report.unchanged,
      missingRemotelyCount: 0,
      quarantinedCount: 0,
      errorCount: 0,
      eventsByType: report.eventsByType,
    })
  })

  it("bad figures and a run recorded twice are refused, and nothing is written", async () => {
    const base: RunReport = { ...runReports[0]!, runId: "recon_refused" }
    const bad: ReadonlyArray<[Partial<RunReport>, string]> = [
      [{ runId: "" }, "runId"],
      [{ mode: "full" as never }, "mode"],
      [{ startedAt: "not a time" }, "startedAt"],
      [{ examined: -1 }, "examined"],
      [{ repaired: 1.5 }, "repaired"],
      [{ eventsByType: { SessionStarted: -2 } }, "eventsByType"],
      [{ errors: "none" as never }, "errors"],
    ]
    for (const [change, named] of bad) {
      const refused = await store.runState.recordRun({ ...base, ...change }).catch((e) => e)
      expect(refused).toMatchObject({ _tag: "InvalidArgument", argument: "run" })
      expect(refused.message).toContain(named)
    }
    const before = await store.audit.runs(always)
    await store.runState.recordRun(base)
    await expect(store.runState.recordRun(base)).rejects.toMatchObject({ _tag: "StoreFailure" })
    expect((await store.audit.runs(always)).length).toBe(before.length + 1)
  })
})
