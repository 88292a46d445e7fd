/**
 * The session lifecycle as pure functions: the transition table of the fact sheet (§2.2–2.3),
 * checked action by action and status by status, without a server.
 */
import { describe, expect, it } from "vitest"
import { emptyRecord, makeVerifiedOutputs } from "../src/generate.ts"
import { makeRandom } from "../src/random.ts"
import {
  type Redaction,
  type SessionAction,
  type SessionState,
  type Status,
  transition,
} from "../src/sessions.ts"

const state = (status: Status, redaction: Redaction = null): SessionState => ({
  status,
  redaction,
  record: { ...emptyRecord("document"), metadata: { k: "v" }, provided_details: { email: "a@b.c" } },
})
const outputs = makeVerifiedOutputs(makeRandom(1), emptyRecord("document"))
const actions: Record<string, SessionAction> = {
  update: {
    kind: "update",
    apply: (r) => {
      r.metadata = { changed: "yes" }
    },
  },
  cancel: { kind: "cancel" },
  redact: { kind: "redact" },
  submit: { kind: "submit" },
  pass: { kind: "pass", outputs, report: 1, now: 10 },
  fail: { kind: "fail", code: "document_expired", reason: "Expired.", report: 2, now: 10 },
  finish_redaction: { kind: "finish_redaction" },
}

// [action, from, to status, redaction after, events] — every row not listed is refused.
const TABLE: Array<[string, Status, Status, Redaction, string[]]> = [
  ["update", "requires_input", "requires_input", null, []],
  ["cancel", "requires_input", "canceled", null, ["canceled"]],
  ["redact", "requires_input", "canceled", "processing", ["canceled"]],
  ["redact", "verified", "verified", "processing", []],
  ["submit", "requires_input", "processing", null, ["processing"]],
  ["pass", "processing", "verified", null, ["verified"]],
  ["fail", "processing", "requires_input", null, ["requires_input"]],
]
const STATUSES: Status[] = ["requires_input", "processing", "verified", "canceled"]

describe("transition", () => {
  for (const [name, action] of Object.entries(actions)) {
    if (name === "finish_redaction") continue
    for (const from of STATUSES) {
      const row = TABLE.find(([a, f]) => a === name && f === from)
      if (row) {
        const [, , to, redaction, events] = row
        it(`${name} from ${from} → ${to}${redaction ? ` (redaction ${redaction})` : ""}, emitting [${events.join(", ")}]`, () => {
          const t = transition(state(from), action)
          expect(t.ok).toBe(true)
          if (!t.ok) return
          expect(t.state.status).toBe(to)
          expect(t.state.redaction).toBe(redaction)
          expect(t.events).toEqual(events.map((e) => `identity.verification_session.${e}`))
        })
      } else {
        it(`${name} from ${from} is refused`, () => {
          const t = transition(state(from), action)
          expect(t).toEqual({ ok: false, reason: `it has a status of ${from}` })
        })
      }
    }
  }

  it("does not modify the state it was given", () => {
    const before = state("requires_input")
    const copy = structuredClone({ ...before, record: { ...before.record } })
    transition(before, actions.update!)
    transition(before, actions.redact!)
    expect(before.record.metadata).toEqual(copy.record.metadata)
    expect(before.status).toBe("requires_input")
  })

  it("refuses update and redact once redacted, whatever the status", () => {
    for (const status of STATUSES) {
      expect(transition(state(status, "processing"), actions.update!).ok).toBe(false)
      expect(transition(state(status, "redacted"), actions.redact!).ok).toBe(false)
    }
  })

  it("finishes a redaction only while one is processing, emitting redacted", () => {
    const t = transition(state("verified", "processing"), actions.finish_redaction!)
    expect(t).toMatchObject({
      ok: true,
      state: { redaction: "redacted" },
      events: ["identity.verification_session.redacted"],
    })
    expect(transition(state("verified"), actions.finish_redaction!).ok).toBe(false)
    expect(transition(state("verified", "redacted"), actions.finish_redaction!).ok).toBe(false)
  })

  it("redaction erases metadata and replaces personal values with [redacted]", () => {
    const verified = transition(state("processing"), actions.pass!)
    if (!verified.ok) throw new Error("pass failed")
    const t = transition(verified.state, actions.redact!)
    if (!t.ok) throw new Error("redact failed")
    expect(t.state.record.metadata).toEqual({})
    expect(t.state.record.provided_details).toEqual({ email: "[redacted]" })
    expect(t.state.record.verified_outputs).toMatchObject({
      first_name: "[redacted]",
      last_name: "[redacted]",
    })
  })

  it("a failed check sets last_error and a new report; a pass clears last_error and stores outputs", () => {
    const failed = transition(state("processing"), actions.fail!)
    if (!failed.ok) throw new Error("fail refused")
    expect(failed.state.record.last_error).toEqual({ code: "document_expired", reason: "Expired." })
    expect(failed.state.record.report).toBe(2)
    const resubmitted = transition(failed.state, actions.submit!)
    if (!resubmitted.ok) throw new Error("submit refused")
    const passed = transition(resubmitted.state, actions.pass!)
    if (!passed.ok) throw new Error("pass refused")
    expect(passed.state.record.last_error).toBeNull()
    expect(passed.state.record.verified_outputs).toEqual(outputs)
    // One submission on top of the attempt already in processing.
    expect(passed.state.record.attempts).toBe(1)
  })
})
