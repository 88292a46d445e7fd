/**
 * What a repair's report calls drift. A late step (a webhook retried after later steps, or the
 * Events API's replay of one) fills in history only: the present never differed, so a run that
 * records nothing else reports no drift for the session.
 */
import type { SessionEvent } from "@idtrail/domain"
import { describe, expect, it } from "vitest"
import { driftOf } from "../src/drift.ts"

const failed = (late: boolean): SessionEvent => ({
  _tag: "VerificationFailed",
  sessionId: "vs_drift",
  at: 1_700_000_120,
  code: "document_expired",
  reason: null,
  lastVerificationReport: null,
  ...(late ? { late: true } : {}),
})

describe("drift of a repair", () => {
  it("a failure recorded in time is a status drift (processing → requires_input)", () => {
    expect(driftOf([failed(false)])).toEqual([{ what: "status", from: "processing", to: "requires_input" }])
  })

  it("a late failure, history only, is no drift: the present never differed", () => {
    expect(driftOf([failed(true)])).toEqual([])
  })
})
