import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { backends, openTestStore } from "./fixtures.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  )

describe.each(backends)("run state on $name", ({ databaseUrl }) => {
  let store: Awaited<ReturnType<typeof openTestStore>>
  beforeAll(async () => {
    store = await openTestStore(databaseUrl)
  })
  afterAll(async () => {
    await store?.dispose()
  })

  it("a lease is taken by one run, refused to another while held, kept by its holder, and free once released", async () => {
    const { runState } = store
    await runState.acquireLease("acct_1", "run_a", 60)
    const refused = await refusal(runState.acquireLease("acct_1", "run_b", 60))
    expect(refused).toMatchObject({ _tag: "RunInProgress", account: "acct_1" })
    expect((refused as Error).message).toMatch(/run run_a, lease until \d{4}-/)
    await runState.acquireLease("acct_1", "run_a", 60) // its holder takes it again
    await runState.renewLease("acct_1", "run_a", 60)
    await runState.releaseLease("acct_1", "run_b") // not the holder: changes nothing
    expect(await refusal(runState.acquireLease("acct_1", "run_b", 60))).toMatchObject({
      _tag: "RunInProgress",
    })
    await runState.acquireLease("acct_2", "run_b", 60) // another account is independent
    await runState.releaseLease("acct_1", "run_a")
    await runState.acquireLease("acct_1", "run_b", 60)
  })

  it("an expired lease (a crashed run) is taken by the next run, and the old holder's renewal is refused: it lost the lease", async () => {
    const { runState } = store
    await runState.acquireLease("acct_3", "run_crashed", 0.2)
    await sleep(400)
    await runState.acquireLease("acct_3", "run_next", 60)
    const lost = await refusal(runState.renewLease("acct_3", "run_crashed", 60))
    expect(lost).toMatchObject({ _tag: "RunInProgress", account: "acct_3" })
    expect((lost as Error).message).toMatch(/run_crashed lost the lease/)
    await runState.renewLease("acct_3", "run_next", 60)
  })

  it("the lease's refusal is a tagged error Effect code can catch by tag", async () => {
    const caught = await Effect.runPromise(
      store.service.runState.acquireLease("acct_1", "run_c", 60).pipe(
        Effect.as("taken"),
        Effect.catchTag("RunInProgress", (e) => Effect.succeed(e.account)),
      ),
    )
    expect(caught).toBe("acct_1")
  })

  it("cursors round trip as JSON, per account and kind; saving replaces, clearing removes", async () => {
    const { runState } = store
    expect(await runState.loadCursor("acct_c", "events")).toBeNull()
    const events = { created: 1_760_000_000, ids: ["evt_1", "evt_2"] }
    await runState.saveCursor("acct_c", "events", events)
    const sweep = { startingAfter: "vs_9", windowUpper: null, runId: "run_s" }
    await runState.saveCursor("acct_c", "sweep", sweep)
    expect(await runState.loadCursor("acct_c", "events")).toEqual(events)
    expect(await runState.loadCursor("acct_c", "sweep")).toEqual(sweep)
    expect(await runState.loadCursor("acct_other", "events")).toBeNull()
    await runState.saveCursor("acct_c", "events", { created: 1_760_000_100, ids: [] })
    expect(await runState.loadCursor("acct_c", "events")).toEqual({ created: 1_760_000_100, ids: [] })
    await runState.clearCursor("acct_c", "sweep")
    expect(await runState.loadCursor("acct_c", "sweep")).toBeNull()
    expect(await runState.loadCursor("acct_c", "events")).not.toBeNull()
  })

  it("quarantine upserts: a second failure counts an attempt and keeps the latest error; release removes the session", async () => {
    const { runState } = store
    const entry = {
      account: "acct_q",
      sessionId: "vs_q1",
      runId: "run_1",
      errorTag: "StoreFailure",
      message: "boom",
    }
    await runState.quarantine(entry)
    await runState.quarantine({ ...entry, sessionId: "vs_q2" })
    await runState.quarantine({ ...entry, account: "acct_q_other" })
    await sleep(20)
    await runState.quarantine({
      ...entry,
      runId: "run_2",
      errorTag: "InvalidEvent",
      message: "bad \u0000 \ud800 input",
    })
    const listed = await runState.quarantined("acct_q")
    expect(listed.map((q) => [q.sessionId, q.runId, q.errorTag, q.attempts])).toEqual([
      ["vs_q1", "run_2", "InvalidEvent", 2],
      ["vs_q2", "run_1", "StoreFailure", 1],
    ])
    const first = listed[0]!
    expect(first.message).toBe("bad  \ufffd input") // what a text column cannot hold is dropped or replaced
    expect(first.firstAt).toBeInstanceOf(Date)
    expect(first.lastAt.getTime()).toBeGreaterThan(first.firstAt.getTime())
    await runState.release("acct_q", "vs_q1")
    expect((await runState.quarantined("acct_q")).map((q) => q.sessionId)).toEqual(["vs_q2"])
    expect(await runState.quarantined("acct_q_other")).toHaveLength(1)
  })
})

describe.runIf(process.env.DATABASE_URL)("run state on postgres, concurrently", () => {
  it("six runs of one account starting at once: exactly one takes the lease", async () => {
    const store = await openTestStore(process.env.DATABASE_URL, { poolSize: 6 })
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) => store.runState.acquireLease("acct_race", `run_${i}`, 60)),
      )
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1)
      for (const o of outcomes)
        if (o.status === "rejected") expect(o.reason).toMatchObject({ _tag: "RunInProgress" })
    } finally {
      await store.dispose()
    }
  })
})
