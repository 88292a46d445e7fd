/**
 * The VerificationSession endpoints, driven through the official `stripe` SDK, with the
 * lifecycle and action rules of the fact sheet (stripe-identity.md §2.2–2.3).
 */
import Stripe from "stripe"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { failure, type Harness, startHarness } from "./support/harness.ts"
import { expectConforms } from "./support/schemas.ts"

let h: Harness
let stripe: Stripe
beforeAll(async () => {
  h = await startHarness({ seed: 7 })
  stripe = h.stripe
})
afterAll(async () => {
  expect(h.violations()).toEqual([])
  expect(h.responses()).toBeGreaterThan(20)
  await h.close()
})

const sessions = () => stripe.identity.verificationSessions

/** Captures the error an SDK call rejects with. */

describe("create", () => {
  it("keeps a metadata key named __proto__ as a key; a top-level __proto__ is an unknown parameter", async () => {
    const s = await sessions().create({ type: "document", metadata: { ["__proto__"]: "x", plan: "pro" } })
    expect(Object.keys(s.metadata)).toEqual(["__proto__", "plan"])
    expect(Object.getOwnPropertyDescriptor(s.metadata, "__proto__")?.value).toBe("x")
    const e = await failure(sessions().create({ type: "document", ["__proto__"]: "x" } as never))
    expect(e).toMatchObject({ statusCode: 400, code: "parameter_unknown", param: "__proto__" })
  })

  it("returns a requires_input session with the given fields, a client_secret and a url", async () => {
    const s = await sessions().create({
      type: "document",
      client_reference_id: "user_42",
      metadata: { plan: "pro", "0": "zero" },
      options: { document: { allowed_types: ["passport", "id_card"], require_matching_selfie: true } },
      related_customer: "cus_123",
      related_person: { account: "acct_1", person: "person_1" },
      return_url: "https://example.com/back",
    })
    expectConforms("session", s)
    expect(s).toMatchObject({
      object: "identity.verification_session",
      status: "requires_input",
      type: "document",
      client_reference_id: "user_42",
      metadata: { plan: "pro", "0": "zero" },
      options: { document: { allowed_types: ["passport", "id_card"], require_matching_selfie: true } },
      related_customer: "cus_123",
      related_person: { account: "acct_1", person: "person_1" },
      livemode: false,
      last_error: null,
      last_verification_report: null,
      redaction: null,
    })
    expect(s.id).toMatch(/^vs_/)
    expect(s.client_secret).toMatch(new RegExp(`^${s.id}_secret_`))
    expect(s.url).toMatch(/^https:\/\/verify\.stripe\.com\/start\//)
    expect(s).not.toHaveProperty("verified_outputs")
    expect(s).not.toHaveProperty("provided_details")
    expect(s).not.toHaveProperty("return_url")
  })

  it("accepts verification_flow instead of type and reports type verification_flow", async () => {
    const s = await sessions().create({ verification_flow: "vf_123" })
    expect(s.type).toBe("verification_flow")
    expect(s.verification_flow).toBe("vf_123")
  })

  it("requires type when no verification_flow is given", async () => {
    const e = await failure(sessions().create({}))
    expect(e).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError)
    expect(e.statusCode).toBe(400)
    expect(e.param).toBe("type")
    expect(e.code).toBe("parameter_missing")
  })

  it("rejects a type outside document and id_number, naming the param", async () => {
    const e = await failure(sessions().create({ type: "banana" as "document" }))
    expect(e.statusCode).toBe(400)
    expect(e.param).toBe("type")
    expect(e.message).toMatch(/must be one of document or id_number/)
  })

  it("rejects an unknown document type inside options", async () => {
    const e = await failure(
      sessions().create({
        type: "document",
        options: { document: { allowed_types: ["selfie" as "passport"] } },
      }),
    )
    expect(e.param).toBe("options[document][allowed_types][0]")
  })
})

describe("retrieve", () => {
  it("returns the same session; an unknown id is 404 resource_missing with param id", async () => {
    const s = await sessions().create({ type: "id_number" })
    const again = await sessions().retrieve(s.id)
    expect(again).toMatchObject({ id: s.id, status: "requires_input", type: "id_number" })
    const e = await failure(sessions().retrieve("vs_doesnotexist"))
    expect(e).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError)
    expect(e.statusCode).toBe(404)
    expect(e.code).toBe("resource_missing")
    expect(e.param).toBe("id")
    expect(e.message).toContain("vs_doesnotexist")
  })

  it("shows verified_outputs and provided_details only when expanded; dob and id_number need their own expansion", async () => {
    const s = await sessions().create({
      type: "document",
      options: { document: { require_id_number: true } },
      provided_details: { email: "jenny@example.com" },
    })
    h.sim.control.submit(s.id)
    h.sim.control.pass(s.id)
    const plain = await sessions().retrieve(s.id)
    expect(plain).not.toHaveProperty("verified_outputs")
    expect(plain).not.toHaveProperty("provided_details")
    const outer = await sessions().retrieve(s.id, { expand: ["verified_outputs", "provided_details"] })
    expectConforms("session", outer)
    expect(outer.provided_details).toEqual({ email: "jenny@example.com" })
    expect(outer.verified_outputs?.first_name).toEqual(expect.any(String))
    expect(outer.verified_outputs?.email).toBe("jenny@example.com")
    expect(outer.verified_outputs).not.toHaveProperty("dob")
    expect(outer.verified_outputs).not.toHaveProperty("id_number")
    const full = await sessions().retrieve(s.id, {
      expand: ["verified_outputs", "verified_outputs.dob", "verified_outputs.id_number"],
    })
    expect(full.verified_outputs?.dob).toEqual({
      day: expect.any(Number),
      month: expect.any(Number),
      year: expect.any(Number),
    })
    expect(full.verified_outputs?.id_number).toMatch(/^\d{4}$/)
    expect(full.verified_outputs?.id_number_type).toBe("us_ssn")
  })

  it("expands last_verification_report into a verification report", async () => {
    const s = await sessions().create({ type: "document" })
    h.sim.control.submit(s.id)
    h.sim.control.pass(s.id)
    const r = await sessions().retrieve(s.id, { expand: ["last_verification_report"] })
    expectConforms("session", r)
    const report = r.last_verification_report as Stripe.Identity.VerificationReport
    expect(report.object).toBe("identity.verification_report")
    expect(report.id).toMatch(/^vr_/)
    expect(report.verification_session).toBe(s.id)
  })

  it("rejects an expansion Stripe does not offer, naming the param", async () => {
    const s = await sessions().create({ type: "document" })
    const e = await failure(sessions().retrieve(s.id, { expand: ["metadata"] }))
    expect(e.statusCode).toBe(400)
    expect(e.param).toBe("expand[0]")
  })
})

describe("update", () => {
  it("merges metadata (empty value unsets a key), replaces options and type while requires_input, and emits no event", async () => {
    const s = await sessions().create({ type: "document", metadata: { a: "1", b: "2" } })
    const before = (await stripe.events.list({ limit: 100 })).data.filter(
      (e) => (e.data.object as { id: string }).id === s.id,
    )
    const u = await sessions().update(s.id, {
      metadata: { b: "", c: "3" },
      options: { document: { allowed_types: ["driving_license"] } },
      provided_details: { phone: "+15555550100" },
      type: "id_number",
      expand: ["provided_details"],
    })
    expectConforms("session", u)
    expect(u.metadata).toEqual({ a: "1", c: "3" })
    expect(u.options).toEqual({ document: { allowed_types: ["driving_license"] } })
    expect(u.provided_details).toEqual({ phone: "+15555550100" })
    expect(u.type).toBe("id_number")
    const after = (await stripe.events.list({ limit: 100 })).data.filter(
      (e) => (e.data.object as { id: string }).id === s.id,
    )
    expect(after.map((e) => e.id)).toEqual(before.map((e) => e.id))
  })

  it("clears options with an empty string and metadata with an empty string", async () => {
    const s = await sessions().create({
      type: "document",
      metadata: { a: "1" },
      options: { document: { require_live_capture: true } },
    })
    const u = await sessions().update(s.id, {
      metadata: "" as unknown as Stripe.MetadataParam,
      options: { document: "" },
    })
    expect(u.metadata).toEqual({})
    expect(u.options).toEqual({})
  })

  it("refuses parameters that cannot be updated, naming them", async () => {
    const s = await sessions().create({ type: "document" })
    const e = await failure(
      sessions().update(s.id, {
        client_reference_id: "x",
      } as Stripe.Identity.VerificationSessionUpdateParams),
    )
    expect(e.statusCode).toBe(400)
    expect(e.param).toBe("client_reference_id")
    expect(e.code).toBe("parameter_unknown")
  })
})

describe("the lifecycle, driven by the control API", () => {
  it("requires_input → processing → requires_input (failed, last_error) → processing → verified", async () => {
    const s = await sessions().create({ type: "document" })
    const secret1 = s.client_secret
    const p = h.sim.control.submit(s.id)
    expect(p).toMatchObject({ status: "processing", client_secret: null, url: null })
    const f = h.sim.control.fail(s.id, "selfie_face_mismatch")
    expect(f).toMatchObject({
      status: "requires_input",
      last_error: { code: "selfie_face_mismatch", reason: expect.any(String) },
    })
    expect(f.last_verification_report).toMatch(/^vr_/)
    const retry = await sessions().retrieve(s.id)
    expect(retry.client_secret).not.toBeNull()
    expect(retry.client_secret).not.toBe(secret1)
    h.sim.control.submit(s.id)
    const v = h.sim.control.pass(s.id)
    expect(v).toMatchObject({ status: "verified", last_error: null, client_secret: null, url: null })
    expect(v.last_verification_report).not.toBe(f.last_verification_report)
  })

  it("refuses control transitions that the lifecycle forbids", () => {
    const s = h.sim.control.simulator.createSession(() => {}, "document")
    const id = h.sim.control.simulator.sessionIds.encode(s)
    expect(() => h.sim.control.pass(id)).toThrow(/status of requires_input/)
    expect(() => h.sim.control.finishRedaction(id)).toThrow(/no redaction/)
  })
})

describe("cancel", () => {
  it("cancels a requires_input session; client_secret and url become null", async () => {
    const s = await sessions().create({ type: "document" })
    const c = await sessions().cancel(s.id)
    expectConforms("session", c)
    expect(c).toMatchObject({ status: "canceled", client_secret: null, url: null })
  })

  it.each([
    ["processing", (id: string) => h.sim.control.submit(id)],
    [
      "verified",
      (id: string) => {
        h.sim.control.submit(id)
        h.sim.control.pass(id)
      },
    ],
    [
      "canceled",
      (id: string) =>
        h.sim.control.simulator.act(h.sim.control.simulator.findSession(id), { kind: "cancel" }),
    ],
  ])("is refused from %s with a 400 invalid_request_error", async (status, drive) => {
    const s = await sessions().create({ type: "document" })
    drive(s.id)
    const e = await failure(sessions().cancel(s.id))
    expect(e).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError)
    expect(e.statusCode).toBe(400)
    expect(e.type).toBe("StripeInvalidRequestError")
    expect(e.message).toContain(`status of ${status}`)
    expect((await sessions().retrieve(s.id)).status).toBe(status)
  })
})

describe("update is allowed only from requires_input", () => {
  it.each(["processing", "verified", "canceled"] as const)("is refused from %s", async (status) => {
    const s = await sessions().create({ type: "document" })
    if (status === "canceled") await sessions().cancel(s.id)
    else {
      h.sim.control.submit(s.id)
      if (status === "verified") h.sim.control.pass(s.id)
    }
    const e = await failure(sessions().update(s.id, { metadata: { a: "b" } }))
    expect(e.statusCode).toBe(400)
    expect(e.message).toContain(`status of ${status}`)
    expect((await sessions().retrieve(s.id)).metadata).toEqual({})
  })
})

describe("redact", () => {
  it("redacts a verified session: personal values become [redacted], metadata is erased, redaction processing → redacted", async () => {
    const s = await sessions().create({
      type: "document",
      metadata: { email: "a@b.c" },
      provided_details: { email: "a@b.c" },
    })
    h.sim.control.submit(s.id)
    h.sim.control.pass(s.id)
    const r = await sessions().redact(s.id, {
      expand: ["verified_outputs", "verified_outputs.dob", "provided_details"],
    })
    expectConforms("session", r)
    expect(r.status).toBe("verified")
    expect(r.redaction).toEqual({ status: "processing" })
    expect(r.metadata).toEqual({})
    expect(r.provided_details).toEqual({ email: "[redacted]" })
    expect(r.verified_outputs).toMatchObject({
      first_name: "[redacted]",
      last_name: "[redacted]",
      dob: { day: null, month: null, year: null },
    })
    expect(r.verified_outputs?.address?.line1).toBe("[redacted]")
    const done = h.sim.control.finishRedaction(s.id)
    expect(done.redaction).toEqual({ status: "redacted" })
    const types = (await stripe.events.list({ limit: 100 })).data
      .filter((e) => (e.data.object as { id: string }).id === s.id)
      .map((e) => e.type)
    expect(types[0]).toBe("identity.verification_session.redacted")
  })

  it("auto-cancels a requires_input session (emitting canceled now, redacted when finished)", async () => {
    const s = await sessions().create({ type: "document", metadata: { k: "v" } })
    const r = await sessions().redact(s.id)
    expect(r).toMatchObject({
      status: "canceled",
      redaction: { status: "processing" },
      client_secret: null,
      url: null,
      metadata: {},
    })
    h.sim.control.finishRedaction(s.id)
    const types = (await stripe.events.list({ limit: 100 })).data
      .filter((e) => (e.data.object as { id: string }).id === s.id)
      .map((e) => e.type)
    expect(types).toEqual([
      "identity.verification_session.redacted",
      "identity.verification_session.canceled",
      "identity.verification_session.created",
    ])
  })

  it.each(["processing", "canceled"] as const)("is refused from %s", async (status) => {
    const s = await sessions().create({ type: "document" })
    if (status === "canceled") await sessions().cancel(s.id)
    else h.sim.control.submit(s.id)
    const e = await failure(sessions().redact(s.id))
    expect(e.statusCode).toBe(400)
    expect(e.message).toContain(`status of ${status}`)
  })

  it("is refused on an already redacted session", async () => {
    const s = await sessions().create({ type: "document" })
    h.sim.control.submit(s.id)
    h.sim.control.pass(s.id)
    await sessions().redact(s.id)
    const e = await failure(sessions().redact(s.id))
    expect(e.statusCode).toBe(400)
    expect(e.message).toMatch(/redacted/)
  })
})

describe("forbidden-action errors are configurable (Stripe's exact text is unknown)", () => {
  it("uses the configured code and message", async () => {
    const custom = await startHarness({
      forbiddenAction: {
        code: "status_transition_invalid",
        message: ({ action, status }) => `cannot ${action} from ${status}`,
      },
    })
    try {
      const s = await custom.stripe.identity.verificationSessions.create({ type: "document" })
      custom.sim.control.submit(s.id)
      const e = await failure(custom.stripe.identity.verificationSessions.cancel(s.id))
      expect(e.statusCode).toBe(400)
      expect(e.code).toBe("status_transition_invalid")
      expect(e.message).toBe("cannot cancel from processing")
      expect(custom.violations()).toEqual([])
    } finally {
      await custom.close()
    }
  })
})
