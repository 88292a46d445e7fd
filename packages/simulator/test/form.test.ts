/** The bracket-notation form parser, as Stripe's clients encode bodies. */
import { describe, expect, it } from "vitest"
import { ApiError } from "../src/errors.ts"
import { parseForm, stringifyForm } from "../src/form.ts"

const rejects = (body: string): ApiError => {
  try {
    parseForm(body)
  } catch (e) {
    if (e instanceof ApiError) return e
    throw e
  }
  throw new Error(`expected ${body} to be rejected`)
}

describe("parseForm", () => {
  it("a key named __proto__ is an ordinary key: kept as a key, never the parsed hash's prototype", () => {
    const parsed = parseForm("metadata[__proto__][polluted]=yes&metadata[plan]=pro&__proto__[x]=1")
    const metadata = parsed.metadata as Record<string, unknown>
    expect(Object.keys(metadata)).toEqual(["__proto__", "plan"])
    expect(Object.getOwnPropertyDescriptor(metadata, "__proto__")?.value).toEqual({ polluted: "yes" })
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype)
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
    expect((metadata as { polluted?: unknown }).polluted).toBeUndefined()
    expect(Object.keys(parsed)).toEqual(["metadata", "__proto__"])
  })

  it("reads nested hashes and indexed arrays the way stripe-node sends them", () => {
    expect(
      parseForm(
        "type=document&metadata[plan]=pro&options[document][allowed_types][0]=passport&options[document][allowed_types][1]=id_card",
      ),
    ).toEqual({
      type: "document",
      metadata: { plan: "pro" },
      options: { document: { allowed_types: { "0": "passport", "1": "id_card" } } },
    })
  })

  it("reads `[]` as appending to an array", () => {
    expect(parseForm("expand[]=verified_outputs&expand[]=provided_details")).toEqual({
      expand: ["verified_outputs", "provided_details"],
    })
  })

  it("decodes percent-escapes and `+` in keys and values", () => {
    expect(parseForm("metadata%5Bnote%5D=a+b%26c")).toEqual({ metadata: { note: "a b&c" } })
  })

  it("keeps an empty value as the empty string (Stripe's way to unset)", () => {
    expect(parseForm("options[document]=")).toEqual({ options: { document: "" } })
  })

  it("round-trips through stringifyForm", () => {
    const value = { a: "1", b: { c: ["x", "y"] }, d: { e: "é & =" } }
    expect(parseForm(stringifyForm(value))).toEqual({
      a: "1",
      b: { c: { "0": "x", "1": "y" } },
      d: { e: "é & =" },
    })
  })

  it.each([
    ["metadata[a=b", "metadata"],
    ["metadata]a[=b", "metadata]a"],
    ["[a]=b", "[a]"],
    ["metadata[a][=b", "metadata"],
    ["metadata[a]x=b", "metadata"],
  ])("rejects the malformed key in %s, naming %s", (body, param) => {
    const e = rejects(body)
    expect(e.status).toBe(400)
    expect(e.type).toBe("invalid_request_error")
    expect(e.param).toBe(param)
  })

  it("rejects invalid percent-encoding, naming the field", () => {
    expect(rejects("metadata[a]=%ZZ").param).toBe("metadata[a]")
  })

  it("rejects a key used both as a value and as a hash", () => {
    expect(rejects("metadata=x&metadata[a]=b").param).toBe("metadata")
    expect(rejects("metadata[a]=b&metadata=x").param).toBe("metadata")
  })

  it("rejects mixing `[]` with named keys", () => {
    expect(rejects("expand[]=a&expand[x]=b").param).toBe("expand")
  })
})
