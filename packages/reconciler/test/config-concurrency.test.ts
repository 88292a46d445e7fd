/**
 * `--concurrency` as the command reads it: a sweep's sessions of a page at once, 1 to 100, or
 * absent for the store's default. A value that cannot work is refused before anything runs.
 */
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { type ReconcileFlags, readConfig } from "../src/config.ts"

const flags = (concurrency: string | undefined): ReconcileFlags => ({
  mode: "sweep",
  dryRun: false,
  json: false,
  account: "default",
  dataDir: undefined,
  simulate: "10",
  every: undefined,
  concurrency,
})

const read = (concurrency: string | undefined) =>
  Effect.runPromise(Effect.result(readConfig(flags(concurrency), {})))

describe("--concurrency", () => {
  it("is the store's default when absent, and the number given from 1 to 100", async () => {
    expect(await read(undefined)).toMatchObject({ success: { concurrency: undefined } })
    expect(await read("1")).toMatchObject({ success: { concurrency: 1 } })
    expect(await read("100")).toMatchObject({ success: { concurrency: 100 } })
  })

  it.each(["0", "101", "2.5", "many"])(
    "%s is refused with InvalidConfig naming --concurrency",
    async (raw) => {
      expect(await read(raw)).toMatchObject({
        failure: { _tag: "InvalidConfig", setting: "--concurrency", message: expect.stringContaining(raw) },
      })
    },
  )
})
