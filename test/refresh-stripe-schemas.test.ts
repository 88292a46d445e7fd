/**
 * `scripts/refresh-stripe-schemas.ts` extracts from a whole OpenAPI spec exactly what
 * `vendor/stripe/` holds: a spec made of the vendored schemas plus unrelated ones (in another
 * order) gives back the vendored schemas, unchanged, and nothing else.
 */
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { extract, type Json, referenced } from "../scripts/refresh-stripe-schemas.ts"

const vendored = (file: string) =>
  JSON.parse(readFileSync(new URL(`../vendor/stripe/${file}`, import.meta.url), "utf8"))
const session = vendored("verification_session.schema.json")
const envelope = vendored("stripe_event_and_error.schema.json")
const unrelated = {
  payment_intent: { type: "object", properties: { customer: { $ref: "#/components/schemas/customer" } } },
  customer: { type: "object" },
}
const all: Record<string, Json> = {
  ...unrelated,
  ...envelope.components.schemas,
  ...session.components.schemas,
}
const spec = {
  info: { version: "2026-07-29.dahlia" },
  components: { schemas: Object.fromEntries(Object.entries(all).reverse()) as Record<string, Json> },
}

describe("refresh-stripe-schemas", () => {
  const documents = extract(spec, session["x-source"])

  it("extracts the vendored documents from a spec holding more", () => {
    for (const [file, original] of [
      ["verification_session.schema.json", session],
      ["stripe_event_and_error.schema.json", envelope],
    ] as const) {
      const extracted = documents[file]
      expect(extracted.components.schemas).toStrictEqual(original.components.schemas)
      expect(extracted.$comment).toBe(original.$comment)
      expect(extracted["x-source"]).toStrictEqual(original["x-source"])
    }
  })

  it("follows references, expandable ones after the rest, and names a missing schema", () => {
    const order = referenced(spec.components.schemas, ["identity.verification_session"])
    expect(order[0]).toBe("identity.verification_session")
    expect(order).toContain("identity.verification_report")
    expect(order.indexOf("identity.verification_report")).toBeGreaterThan(order.indexOf("address"))
    expect(() => referenced({ a: { $ref: "#/components/schemas/b" } }, ["a"])).toThrow("no schema b")
  })
})
