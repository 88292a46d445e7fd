/** How a run's `Exit` becomes the command's exit code: one code per thing to do next. */
import { OutputFailed } from "@idtrail/audit"
import { StoreFailure, StoreUnavailable } from "@idtrail/store"
import { Exit } from "effect"
import { describe, expect, it } from "vitest"
import {
  exitCodeOf,
  exitCodes,
  InvalidConfig,
  type Report,
  RunInProgress,
  StripeAuthRefused,
  StripeReadFailed,
} from "../src/index.ts"

const report = (complete: boolean) => ({ complete }) as Report

describe("the exit code of a run", () => {
  type Case = { name: string; exit: Exit.Exit<Report, { readonly _tag: string }>; code: number }
  const cases: ReadonlyArray<Case> = [
    { name: "a complete run", exit: Exit.succeed(report(true)), code: exitCodes.complete },
    { name: "an incomplete run", exit: Exit.succeed(report(false)), code: exitCodes.incomplete },
    {
      name: "a bad configuration",
      exit: Exit.fail(new InvalidConfig({ setting: "x", message: "x" })),
      code: exitCodes.badConfig,
    },
    {
      name: "an output file that cannot be written",
      exit: Exit.fail(
        new OutputFailed({ target: "/no/such/dir/report.html", message: "cannot write it: ENOENT" }),
      ),
      code: exitCodes.badConfig,
    },
    {
      name: "a held lease",
      exit: Exit.fail(new RunInProgress({ account: "a", message: "held" })),
      code: exitCodes.runInProgress,
    },
    {
      name: "an unreachable database",
      exit: Exit.fail(new StoreUnavailable({ message: "down", cause: null })),
      code: exitCodes.databaseUnavailable,
    },
    {
      name: "a database that cannot be used",
      exit: Exit.fail(new StoreFailure({ operation: "migrate", message: "no such database", cause: null })),
      code: exitCodes.databaseUnavailable,
    },
    {
      name: "a refused key",
      exit: Exit.fail(new StripeAuthRefused({ status: 401, message: "refused" })),
      code: exitCodes.stripeAuthRefused,
    },
    {
      name: "any other error",
      exit: Exit.fail(new StripeReadFailed({ operation: "x", status: 400, retryable: false, message: "x" })),
      code: exitCodes.incomplete,
    },
  ]
  it.each(cases)("$name exits $code", ({ exit, code }) => {
    expect(exitCodeOf(exit)).toBe(code)
  })

  it("an interrupted run exits 143 after SIGTERM and 130 after SIGINT", () => {
    expect(exitCodeOf(Exit.interrupt(), "SIGTERM")).toBe(143)
    expect(exitCodeOf(Exit.interrupt(), "SIGINT")).toBe(130)
  })

  it("the codes are distinct", () => {
    const codes = Object.values(exitCodes)
    expect(new Set(codes).size).toBe(codes.length)
  })
})
