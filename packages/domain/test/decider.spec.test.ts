/**
 * The decider, specified from design.md §3 ("How decide treats an observation"), one `describe`
 * per observation rule (the README's rule table), and the action rules of the fact sheet §2.3:
 * given events, when a command, then events or an error.
 */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decide,
  factsOf,
  lifecycleDiagram,
  looksLikeSecret,
  type ObservationRuleName,
  observationRules,
  pathBetween,
  stepsInStripeOrder,
} from "../src/index.ts"
import { apiRead, given, SESSION_ID, session, started, stringsIn, webhook } from "./support/sessions.ts"

const created = session()
const processing = session({ status: "processing", client_secret: null, url: null })
const verified = session({
  status: "verified",
  client_secret: null,
  url: null,
  last_verification_report: "vr_1",
})
const failed = session({
  last_error: { code: "document_expired", reason: "The document is expired." },
  last_verification_report: "vr_1",
})
const canceled = session({ status: "canceled", client_secret: null, url: null })

/** The observation rules' specifications, one `describe` per rule, in the order the rules apply. */
const specified: Array<ObservationRuleName> = []
const rule = (name: ObservationRuleName, specification: () => void) => {
  specified.push(name)
  describe(`rule ${name}`, specification)
}

describe("observations (design.md §3), rule by rule", () => {
  rule("otherSession", () => {
    it("an observation of another session is refused: it belongs to another stream", () => {
      given(started(created, 100))
        .when(webhook(session({ id: "vs_other" }), 101))
        .thenFails("SessionMismatch")
    })
  })

  rule("otherAccount", () => {
    it("an observation through another account than the session's is refused: it belongs to that account", () => {
      given(started(created, 100))
        .when({ ...webhook(processing, 101), account: "acct_1Other" })
        .thenFails("AccountMismatch")
    })

    it("an observation through the session's own account goes on to the other rules", () => {
      given(started(created, 100))
        .when({ ...webhook(processing, 101), account: "default" })
        .thenTags(["SessionSubmitted"])
    })
  })

  rule("firstKnowledge", () => {
    it("first knowledge of a session starts it at the observed status, and says it was created", () => {
      given([])
        .when(webhook(created, 100, "evt_1"))
        .thenEvents([
          {
            _tag: "SessionStarted",
            sessionId: SESSION_ID,
            at: 100,
            source: "webhook",
            stripeEventType: null,
            midLife: false,
            facts: factsOf(created),
          },
        ])
    })

    it("first knowledge mid-life starts the history at that status and marks it as discovered mid-life", () => {
      const { events, state } = given([]).when(apiRead(verified, 500)).thenTags(["SessionStarted"])
      expect(events[0]).toMatchObject({ midLife: true, source: "api" })
      expect(state.facts?.status).toBe("verified")
    })

    it("secret-shaped merchant values start the session masked, and the event names the masked paths", () => {
      const secretive = session({
        metadata: { pi: "pi_123_secret_abc", order: "42" },
        client_reference_id: "order_42_secret_x",
      })
      const { events, state } = given([]).when(webhook(secretive, 100)).thenTags(["SessionStarted"])
      expect(events[0]).toMatchObject({ masked: ["clientReferenceId", "metadata.pi"] })
      expect(state.facts?.metadata).toEqual({ pi: "[masked]", order: "42" })
      expect(state.facts?.clientReferenceId).toBe("[masked]")
      expect(JSON.stringify(events)).not.toMatch(/pi_123_secret_abc|order_42_secret_x/)
      expect(stringsIn(events).filter(looksLikeSecret)).toEqual([])
    })
  })

  rule("lateStep", () => {
    /** Stripe's own event of a step, as a webhook or an Events API snapshot brings it. */
    const step = (
      snapshot: typeof created,
      at: number,
      type: string,
      source: "webhook" | "events_api" = "webhook",
    ) =>
      ({
        ...webhook(snapshot, at, `evt_${type}_${at}`),
        source,
        stripeEventType: `identity.verification_session.${type}`,
      }) as const
    const failedThenSubmitted = [
      ...started(created, 100),
      { _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 101 } as const,
      { _tag: "SessionVerified", sessionId: SESSION_ID, at: 110, lastVerificationReport: "vr_1" } as const,
    ]

    it("a step's event older than the last change, missing from the history, is recorded late: history only, the present stays", () => {
      const history = [
        ...started(created, 100),
        { _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 110 } as const,
      ]
      const state = given(history)
        .when(step(failed, 105, "requires_input"))
        .thenEvents([
          {
            _tag: "VerificationFailed",
            sessionId: SESSION_ID,
            at: 105,
            late: true,
            code: "document_expired",
            reason: "The document is expired.",
            lastVerificationReport: "vr_1",
          },
        ])
      const before = given(history).state
      expect({ ...state, version: before.version, timeline: before.timeline }).toEqual(before)
      expect(state.timeline?.steps.map((s) => [s.kind, s.at])).toEqual([
        ["created", 100],
        ["requires_input", 105],
        ["processing", 110],
      ])
    })

    it("the same step arriving again, by another path (Events API after the webhook), records nothing", () => {
      const once = given(failedThenSubmitted)
        .when(step(processing, 101, "processing"))
        .thenEvents([])
      expect(once.version).toBe(given(failedThenSubmitted).state.version)
      const history = [
        ...started(created, 100),
        { _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 110 } as const,
      ]
      const late = given(history)
        .when(step(failed, 105, "requires_input"))
        .thenTags(["VerificationFailed"])
      given([...history, ...late.events])
        .when(step(failed, 105, "requires_input", "events_api"))
        .thenEvents([])
    })

    it("a step filled in by a jump is replaced by its real step arriving late (confirms), not recorded twice", () => {
      // A read at 120 saw verified: submitted and verified were filled in, taken some time in [100, 120].
      const jumped = given(started(created, 100))
        .when(apiRead(verified, 120))
        .thenTags(["SessionSubmitted", "SessionVerified"])
      expect(jumped.events.map((e) => ("since" in e ? e.since : undefined))).toEqual([100, 100])
      const history = [...started(created, 100), ...jumped.events]
      const late = {
        _tag: "SessionVerified",
        sessionId: SESSION_ID,
        at: 115,
        late: true,
        confirms: 120,
        lastVerificationReport: "vr_1",
      } as const
      const real = given(history)
        .when(step(verified, 115, "verified"))
        .thenEvents([late])
      expect(real.facts?.status).toBe("verified")
      expect(real.timeline?.steps.map((s) => [s.kind, s.at, s.since])).toEqual([
        ["created", 100, 100],
        ["verified", 115, undefined],
        ["processing", 120, 100],
      ])
      // Read back in Stripe's order: the filled-in submission was taken before the real verification.
      expect(stepsInStripeOrder([...history, late]).map((s) => [s.status, s.at])).toEqual([
        ["requires_input", 100],
        ["processing", 120],
        ["verified", 115],
      ])
    })

    it("a late creation is recorded as a late SessionStarted (the history began mid-life); after a redaction, its personal values erased", () => {
      const midLife = given([])
        .when(step(processing, 110, "processing"))
        .thenTags(["SessionStarted"])
      const { events } = given(midLife.events)
        .when(step(created, 100, "created"))
        .thenTags(["SessionStarted"])
      expect(events[0]).toMatchObject({
        late: true,
        midLife: false,
        at: 100,
        facts: { status: "requires_input" },
      })
      const redacted = session({
        status: "verified",
        redaction: { status: "redacted" },
        last_verification_report: "vr_1",
      })
      const gone = given([]).when(apiRead(redacted, 200)).thenTags(["SessionStarted"])
      const { events: erased } = given(gone.events)
        .when(step(session({ metadata: { order: "o1" }, client_reference_id: "u_1" }), 100, "created"))
        .thenTags(["SessionStarted"])
      expect(erased[0]).toMatchObject({
        late: true,
        facts: { metadata: { order: "[erased]" }, clientReferenceId: "[erased]" },
      })
    })

    it("reads, and webhooks that announce no step of their status (redacted), stay stale", () => {
      given(failedThenSubmitted).when(apiRead(failed, 105)).thenEvents([])
      given(failedThenSubmitted)
        .when(step(verified, 105, "redacted"))
        .thenEvents([])
      given(failedThenSubmitted).when(webhook(failed, 105)).thenEvents([])
    })

    it("a state whose timeline is unknown (stored before late steps) records no late step", () => {
      const history = [
        ...started(created, 100),
        { _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 110 } as const,
      ]
      const { timeline: _, ...stored } = given(history).state
      const decision = decide(step(failed, 105, "requires_input"), stored)
      expect(Result.getOrThrow(decision)).toEqual([])
    })
  })

  rule("stale", () => {
    it("an observation older than the last change is stale: no events", () => {
      const history = [
        ...started(created, 100),
        { _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 110 } as const,
      ]
      given(history).when(webhook(created, 105)).thenEvents([])
      given(history).when(apiRead(created, 105)).thenEvents([])
    })
  })

  rule("terminalWebhook", () => {
    it("a terminal session ignores a webhook showing an earlier status, however new its timestamp", () => {
      given(started(verified, 100)).when(webhook(processing, 200)).thenEvents([])
      given(started(canceled, 100)).when(webhook(created, 200)).thenEvents([])
    })
  })

  rule("unknownStatusWebhook", () => {
    it("an unknown status from a webhook asks for an authoritative read", () => {
      given(started(created, 100))
        .when(webhook(session({ status: "awaiting_review" }), 101))
        .thenTags(["RefreshNeeded"])
    })
  })

  rule("ambiguousSameSecond", () => {
    it("requires_input ⇄ processing in the same second as the last change is ambiguous: no transition, needs refresh", () => {
      const state = given(started(created, 100))
        .when(webhook(processing, 100))
        .thenEvents([
          {
            _tag: "RefreshNeeded",
            sessionId: SESSION_ID,
            at: 100,
            reason: "ambiguous_same_second",
            observedStatus: "processing",
          },
        ])
      expect(state.needsRefresh).toBe(true)
      expect(state.facts?.status).toBe("requires_input")
    })

    it("an ambiguity already flagged is not flagged again", () => {
      const { events } = given(started(created, 100))
        .when(webhook(processing, 100))
        .thenTags(["RefreshNeeded"])
      given([...started(created, 100), ...events])
        .when(webhook(processing, 100))
        .thenEvents([])
    })

    it("a same-second move to a terminal status is not ambiguous: it can only come later", () => {
      given(started(processing, 100)).when(webhook(verified, 100)).thenTags(["SessionVerified"])
    })
  })

  rule("statusPath", () => {
    it("a newer observation of a directly reachable status emits that transition", () => {
      given(started(created, 100))
        .when({ ...webhook(processing, 101), stripeEventType: "identity.verification_session.processing" })
        .thenEvents([{ _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 101 }])
    })

    it("a step not seen happening (no event of that step brought it) says since when it may have been taken", () => {
      given(started(created, 100))
        .when(webhook(processing, 101))
        .thenEvents([{ _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 101, since: 100 }])
    })

    it("a newer observation reachable only through missed steps emits every step of the legal path", () => {
      given(started(created, 100))
        .when({ ...webhook(verified, 120), stripeEventType: "identity.verification_session.verified" })
        .thenEvents([
          { _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 120, since: 100 },
          { _tag: "SessionVerified", sessionId: SESSION_ID, at: 120, lastVerificationReport: "vr_1" },
        ])
    })

    it("a failed check returns the session to requires_input with Stripe's code and reason", () => {
      const history = [
        ...started(created, 100),
        { _tag: "SessionSubmitted", sessionId: SESSION_ID, at: 101 } as const,
      ]
      given(history)
        .when({ ...webhook(failed, 102), stripeEventType: "identity.verification_session.requires_input" })
        .thenEvents([
          {
            _tag: "VerificationFailed",
            sessionId: SESSION_ID,
            at: 102,
            code: "document_expired",
            reason: "The document is expired.",
            lastVerificationReport: "vr_1",
          },
        ])
    })

    it("Stripe's own event of a step into the present status, newer than the timeline's, is a cycle: the middle step filled in, the step recorded", () => {
      const { events, state } = given(started(created, 100))
        .when({ ...webhook(failed, 120), stripeEventType: "identity.verification_session.requires_input" })
        .thenTags(["SessionSubmitted", "VerificationFailed"])
      expect(events[0]).toMatchObject({ at: 120, since: 100 })
      expect(events[1]).not.toHaveProperty("since")
      expect(state.facts?.lastError?.code).toBe("document_expired")
    })

    it("a last_error change that no event of a step brings is an update, not an invented failure cycle", () => {
      const abandoned = session({ last_error: { code: "abandoned", reason: "gave up" } })
      given(started(created, 100)).when(apiRead(abandoned, 120)).thenTags(["SessionUpdated"])
    })

    it("an authoritative read reachable by a legal path records the transitions, not a resync", () => {
      given(started(created, 100))
        .when(apiRead(verified, 100))
        .thenTags(["SessionSubmitted", "SessionVerified"])
    })
  })

  rule("resync", () => {
    it("an authoritative read that contradicts local history wins, recording both sides", () => {
      const remote = session({ status: "requires_input", metadata: { plan: "b" } })
      given(started(verified, 100))
        .when(apiRead(remote, 200))
        .thenEvents([
          {
            _tag: "SessionResynced",
            sessionId: SESSION_ID,
            at: 200,
            source: "api",
            local: factsOf(verified),
            remote: factsOf(remote),
          },
        ])
    })

    it("a resync keeps the read's secret-shaped merchant values masked, naming them", () => {
      const remote = session({ metadata: { key: "sk_live_4eC39HqLyjWDarjtT1" }, client_reference_id: "u_1" })
      const { events, state } = given(started(verified, 100))
        .when(apiRead(remote, 200))
        .thenTags(["SessionResynced"])
      expect(events[0]).toMatchObject({ masked: ["metadata.key"] })
      expect(state.facts?.metadata).toEqual({ key: "[masked]" })
      expect(state.facts?.clientReferenceId).toBe("u_1")
      expect(JSON.stringify(events)).not.toContain("sk_live_")
    })

    it("an unknown status from an authoritative read is kept, as a resync", () => {
      const { state } = given(started(created, 100))
        .when(apiRead(session({ status: "awaiting_review" }), 101))
        .thenTags(["SessionResynced"])
      expect(state.facts?.status).toBe("awaiting_review")
    })
  })

  rule("changesBeforeRedaction", () => {
    const updatedThenRedacted = session({
      ...canceled,
      metadata: { order: "b" },
      type: "id_number",
      redaction: { status: "processing" },
    })

    it.each([
      ["an authoritative read", apiRead],
      ["a webhook", webhook],
    ] as const)(
      "a change made before a redaction and first seen with it, from %s, is recorded before it",
      (_, observe) => {
        const { events, state } = given(started(session({ metadata: { order: "a" } }), 100))
          .when(observe(updatedThenRedacted, 200))
          .thenTags(["SessionCanceled", "SessionUpdated", "RedactionStarted"])
        expect(events[1]).toMatchObject({
          changes: [
            { field: "type", from: "document", to: "id_number" },
            { field: "metadata", from: { order: "a" }, to: { order: "b" } },
          ],
        })
        expect(state.facts).toEqual(factsOf(updatedThenRedacted))
      },
    )

    it("an emptied metadata in that snapshot is the erasure: recorded after the redaction, as trackedFields does", () => {
      const erased = session({ ...updatedThenRedacted, metadata: {} })
      const { events } = given(started(session({ metadata: { order: "a" } }), 100))
        .when(apiRead(erased, 200))
        .thenTags(["SessionCanceled", "SessionUpdated", "RedactionStarted", "SessionUpdated"])
      expect(events[1]).toMatchObject({ changes: [{ field: "type", from: "document", to: "id_number" }] })
      expect(events[3]).toMatchObject({ changes: [{ field: "metadata", from: { order: "a" }, to: {} }] })
    })

    it("once the redaction is recorded, an older payload's changes stay out", () => {
      const history = started(session({ ...updatedThenRedacted, metadata: {} }), 100)
      given(history).when(apiRead(updatedThenRedacted, 200)).thenEvents([])
    })
  })

  rule("redactionAxis", () => {
    it("redaction moves forward with events: started, then redacted", () => {
      const redacting = session({ ...verified, redaction: { status: "processing" } })
      const { state } = given(started(verified, 100))
        .when(apiRead(redacting, 200))
        .thenTags(["RedactionStarted"])
      expect(state.facts?.redactionStatus).toBe("processing")
      const redacted = session({ ...verified, redaction: { status: "redacted" } })
      given(started(verified, 100))
        .when(webhook(redacted, 300))
        .thenTags(["RedactionStarted", "SessionRedacted"])
    })

    it("redaction never goes back, not even for an authoritative read", () => {
      const redacted = session({ ...verified, redaction: { status: "redacted" } })
      given(started(redacted, 100)).when(apiRead(verified, 200)).thenEvents([])
    })

    it("redacting a requires_input session shows as canceled with redaction processing", () => {
      const redactedInput = session({ ...canceled, redaction: { status: "processing" } })
      given(started(created, 100))
        .when(webhook(redactedInput, 101))
        .thenTags(["SessionCanceled", "RedactionStarted"])
    })
  })

  rule("trackedFields", () => {
    it("the same status with nothing tracked changed emits nothing (a duplicate vanishes)", () => {
      given(started(created, 100)).when(webhook(created, 100)).thenEvents([])
      given(started(created, 100)).when(webhook(created, 150)).thenEvents([])
    })

    it("tracked fields that differ in a newer snapshot are recorded as an update with both sides", () => {
      const changed = session({ metadata: { order: "42" }, type: "id_number" })
      given(started(created, 100))
        .when(webhook(changed, 101))
        .thenEvents([
          {
            _tag: "SessionUpdated",
            sessionId: SESSION_ID,
            at: 101,
            changes: [
              { field: "type", from: "document", to: "id_number" },
              { field: "metadata", from: {}, to: { order: "42" } },
            ],
          },
        ])
    })

    it("tracked fields that differ in a same-second webhook are ambiguous, not applied", () => {
      given(started(created, 100))
        .when(webhook(session({ metadata: { order: "42" } }), 100))
        .thenTags(["RefreshNeeded"])
    })

    it("after redaction, only the erasure of metadata is recorded; an old payload cannot bring it back", () => {
      const withMeta = session({ ...verified, metadata: { name: "Jane" } })
      const redacted = session({ ...verified, metadata: {}, redaction: { status: "redacted" } })
      const { events } = given(started(withMeta, 100))
        .when(apiRead(redacted, 200))
        .thenTags(["RedactionStarted", "SessionRedacted", "SessionUpdated"])
      given([...started(withMeta, 100), ...events])
        .when(apiRead(withMeta, 300))
        .thenEvents([])
    })

    it("a secret-shaped value is recorded masked, naming its path; the same snapshot again is no change", () => {
      const secretive = session({ metadata: { pi: "pi_123_secret_abc" } })
      const history = started(created, 100)
      const { events } = given(history).when(apiRead(secretive, 101)).thenTags(["SessionUpdated"])
      expect(events[0]).toMatchObject({
        changes: [{ field: "metadata", from: {}, to: { pi: "[masked]" } }],
        masked: ["metadata.pi"],
      })
      expect(JSON.stringify(events)).not.toContain("pi_123_secret_abc")
      given([...history, ...events])
        .when(apiRead(secretive, 102))
        .thenEvents([])
      given([...history, ...events])
        .when(webhook(secretive, 103))
        .thenEvents([])
    })
  })

  rule("verifiedOutputs", () => {
    it("verified outputs are recorded as field names, never values", () => {
      const withOutputs = session({
        ...verified,
        verified_outputs: {
          address: null,
          email: null,
          first_name: "Jenny",
          last_name: "Rosen",
          id_number_type: null,
          phone: null,
          dob: { day: 1, month: 2, year: 1990 },
        },
      })
      const { events } = given(started(verified, 100))
        .when(apiRead(withOutputs, 101))
        .thenTags(["VerifiedOutputsCaptured"])
      expect(events[0]).toMatchObject({ fields: ["dob", "first_name", "last_name"] })
      expect(JSON.stringify(events)).not.toMatch(/Jenny|Rosen|1990/)
    })
  })

  rule("refreshCompleted", () => {
    it("an authoritative read settles an ambiguity and clears needs-refresh", () => {
      const { events } = given(started(created, 100))
        .when(webhook(processing, 100))
        .thenTags(["RefreshNeeded"])
      const { state } = given([...started(created, 100), ...events])
        .when(apiRead(processing, 101))
        .thenTags(["SessionSubmitted", "RefreshCompleted"])
      expect(state.needsRefresh).toBe(false)
      expect(state.facts?.status).toBe("processing")
    })
  })

  it("every observation rule has one specification here, in the order the rules apply", () => {
    expect(specified).toEqual(observationRules.map((r) => r.name))
  })
})

describe("action rules (fact sheet §2.3)", () => {
  const at = (snapshot = created) => given(started(snapshot, 100))
  const cancel = { _tag: "RequestCancel", sessionId: SESSION_ID, requestedAt: 150 } as const
  const redact = { _tag: "RequestRedact", sessionId: SESSION_ID, requestedAt: 150 } as const
  const update = {
    _tag: "RequestUpdate",
    sessionId: SESSION_ID,
    requestedAt: 150,
    metadata: { order: "7" },
    provided_details: { email: "jenny@example.com" },
  } as const

  it("cancel is allowed from requires_input and recorded as a request", () => {
    at()
      .when(cancel)
      .thenEvents([{ _tag: "CancelRequested", sessionId: SESSION_ID, at: 150 }])
  })
  it.each([processing, verified, canceled])("cancel is refused from $status", (snapshot) => {
    const error = at(snapshot).when(cancel).thenFails("TransitionNotAllowed")
    expect(error).toMatchObject({ status: snapshot.status, action: "cancel" })
    expect(error.message).toContain(snapshot.status)
  })

  it.each([created, verified])("redact is allowed from $status", (snapshot) => {
    at(snapshot).when(redact).thenTags(["RedactionRequested"])
  })
  it.each([processing, canceled])("redact is refused from $status", (snapshot) => {
    at(snapshot).when(redact).thenFails("TransitionNotAllowed")
  })
  it("redact is refused once the session is redacted", () => {
    at(session({ ...verified, redaction: { status: "processing" } }))
      .when(redact)
      .thenFails("TransitionNotAllowed")
  })

  it("update is allowed from requires_input; provided details are recorded by name only", () => {
    const { events } = at().when(update).thenTags(["UpdateRequested"])
    expect(events[0]).toMatchObject({ metadata: { order: "7" }, providedDetailsFields: ["email"] })
    expect(JSON.stringify(events)).not.toContain("jenny@example.com")
  })
  it("an update with secret-shaped metadata is recorded masked, naming the masked paths, not refused", () => {
    const { events } = at()
      .when({ ...update, metadata: { order: "7", pi: "pi_123_secret_abc" } })
      .thenTags(["UpdateRequested"])
    expect(events[0]).toMatchObject({ metadata: { order: "7", pi: "[masked]" }, masked: ["metadata.pi"] })
    expect(JSON.stringify(events)).not.toContain("pi_123_secret_abc")
  })
  it.each([processing, verified, canceled])("update is refused from $status", (snapshot) => {
    at(snapshot).when(update).thenFails("TransitionNotAllowed")
  })
  it("update with broken metadata is refused with the parameter named", () => {
    const error = at()
      .when({ ...update, metadata: { "a[b]": "x" } })
      .thenFails("InvalidRequest")
    expect(error).toMatchObject({ param: "metadata[a[b]]" })
    at()
      .when({ ...update, metadata: { k: "x".repeat(501) } })
      .thenFails("InvalidRequest")
    at()
      .when({ ...update, type: "verification_flow" })
      .thenFails("InvalidRequest")
  })

  it("a request for a session never observed is refused as not found", () => {
    given([]).when(cancel).thenFails("SessionNotFound")
    given([]).when(update).thenFails("SessionNotFound")
  })
})

describe("the lifecycle table", () => {
  it("finds the shortest legal path, and none out of a terminal status", () => {
    expect(pathBetween("requires_input", "verified")).toEqual(["processing", "verified"])
    expect(pathBetween("processing", "canceled")).toEqual(["requires_input", "canceled"])
    expect(pathBetween("verified", "processing")).toBeUndefined()
    expect(pathBetween("canceled", "requires_input")).toBeUndefined()
    expect(pathBetween("processing", "processing")).toEqual([])
  })

  it("renders as a diagram with every transition", () => {
    const diagram = lifecycleDiagram()
    expect(diagram).toContain("requires_input --> processing: submit")
    expect(diagram).toContain("processing --> requires_input: check_failed")
    expect(diagram).toContain("requires_input --> canceled: redact")
  })
})
