/**
 * The personal-data classification (`personal.ts`) against Stripe's own schema, and the maps
 * built from it: every field Stripe documents is classified, and erasing the personal paths
 * leaves no personal value in any event the decider writes.
 */
import { fc, test } from "@fast-check/vitest"
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  decideAndFold,
  erasedValue,
  erasePersonalSession,
  initialState,
  mapPersonalEvent,
  mapPersonalState,
  type SessionEvent,
  sessionFieldClasses,
  sessionHoldsPersonal,
} from "../src/index.ts"
import { session, webhook } from "./support/sessions.ts"
import { sessionSchemas } from "./support/stripe-schema-files.ts"

type JsonSchema = {
  readonly $ref?: string
  readonly anyOf?: ReadonlyArray<JsonSchema>
  readonly properties?: Readonly<Record<string, JsonSchema>>
}
const components = (sessionSchemas() as { components: { schemas: Record<string, JsonSchema> } }).components
  .schemas

/** The object schema a property points at (through `$ref` and a one-branch `anyOf`), if any. */
const objectOf = (schema: JsonSchema): JsonSchema | undefined => {
  if (schema.$ref !== undefined) return objectOf(components[schema.$ref.split("/").at(-1)!]!)
  if (schema.anyOf?.length === 1) return objectOf(schema.anyOf[0]!)
  return schema.properties === undefined ? undefined : schema
}

/** Every path of Stripe's session, down to the depth the classification lists it. */
const classifiedPaths = (schema: JsonSchema, prefix: string): ReadonlyArray<string> =>
  Object.entries(schema.properties ?? {}).flatMap(([name, property]) => {
    const path = prefix + name
    const listsFields = Object.keys(sessionFieldClasses).some((k) => k.startsWith(`${path}.`))
    const object = objectOf(property)
    return listsFields && object !== undefined ? classifiedPaths(object, `${path}.`) : [path]
  })

const stripePaths = classifiedPaths(components["identity.verification_session"]!, "")

describe("the classification of Stripe's VerificationSession fields", () => {
  it("classifies every field of Stripe's schema as clear, personal or never stored", () => {
    const missing = stripePaths.filter((p) => !Object.hasOwn(sessionFieldClasses, p))
    expect(missing, "fields of Stripe's schema not classified in personal.ts").toEqual([])
  })

  it("classifies no field Stripe's schema does not have", () => {
    const stale = Object.keys(sessionFieldClasses).filter((p) => !stripePaths.includes(p))
    expect(stale).toEqual([])
  })

  it("keeps the secrets and the verified outputs and provided details out, and the reason, reference and metadata values personal", () => {
    const byClass = (c: string) =>
      Object.entries(sessionFieldClasses)
        .filter(([, v]) => v.class === c)
        .map(([k]) => k)
        .sort()
    expect(byClass("never-stored")).toEqual(["client_secret", "provided_details", "url", "verified_outputs"])
    expect(byClass("personal")).toEqual(["client_reference_id", "last_error.reason", "metadata"])
  })
})

const marker = (n: number) => `PII-${n}-jane@example.com`
const hasMarker = (value: unknown) => JSON.stringify(value).includes("PII-")

/** Events the decider writes for a session whose personal fields all carry markers. */
const historyWithMarkers = (keys: ReadonlyArray<string>) => {
  const metadata = Object.fromEntries(keys.map((k, i) => [k, marker(i)]))
  const started = session({ client_reference_id: marker(100), metadata })
  const failed = session({
    client_reference_id: marker(101),
    metadata: Object.fromEntries(keys.map((k, i) => [k, marker(i + 200)])),
    status: "requires_input",
    last_error: { code: "document_expired", reason: marker(300) },
  })
  let state = initialState
  const events: Array<SessionEvent> = []
  for (const [snapshot, at] of [
    [started, 1_000],
    [{ ...started, status: "processing" as const }, 1_010],
    [failed, 1_020],
  ] as const) {
    const decided = decideAndFold(webhook(snapshot, at), state)
    if (Result.isFailure(decided)) throw new Error(decided.failure._tag)
    events.push(...decided.success.events)
    state = decided.success.state
  }
  return { events, state, snapshot: failed }
}

describe("erasing the personal paths", () => {
  test.prop([fc.uniqueArray(fc.stringMatching(/^[a-z_]{1,12}$/), { minLength: 0, maxLength: 5 })], {
    numRuns: 30,
  })(
    "law: after mapping every personal value to [erased], no event or state the decider wrote holds a personal value, and the statuses, codes and metadata keys are unchanged",
    (keys) => {
      const { events, state, snapshot } = historyWithMarkers(keys)
      expect(hasMarker(events)).toBe(true)
      const erase = () => erasedValue
      const erased = events.map((e) => mapPersonalEvent(e, erase))
      expect(hasMarker(erased)).toBe(false)
      expect(erased.map((e) => e._tag)).toEqual(events.map((e) => e._tag))
      const erasedState = mapPersonalState(state, erase)
      expect(hasMarker(erasedState)).toBe(false)
      expect(erasedState.facts?.status).toBe(state.facts?.status)
      expect(erasedState.facts?.lastError?.code).toBe("document_expired")
      expect(Object.keys(erasedState.facts?.metadata ?? {}).sort()).toEqual([...keys].sort())
      expect(hasMarker(erasePersonalSession(snapshot))).toBe(false)
      expect(sessionHoldsPersonal(snapshot)).toBe(true)
      expect(sessionHoldsPersonal(session())).toBe(false)
    },
  )

  it("a metadata key named __proto__ is an ordinary key: erased like the others, kept as a key, the prototype untouched", () => {
    const keys = ["__proto__", "constructor", "email"]
    const { events, state } = historyWithMarkers(keys)
    const erase = () => erasedValue
    const erased = events.map((e) => mapPersonalEvent(e, erase))
    expect(hasMarker(erased)).toBe(false)
    const erasedState = mapPersonalState(state, erase)
    expect(hasMarker(erasedState)).toBe(false)
    const metadata = erasedState.facts?.metadata ?? {}
    expect(Object.keys(metadata).sort()).toEqual([...keys].sort())
    expect(Object.getPrototypeOf(metadata)).toBe(Object.getPrototypeOf({}))
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
  })

  it("an erased session's snapshot, decided on an erased state, records no change", () => {
    const { state, snapshot } = historyWithMarkers(["email"])
    const erase = () => erasedValue
    const decided = decideAndFold(
      webhook(erasePersonalSession({ ...snapshot, status: "requires_input" }), 1_030),
      mapPersonalState(state, erase),
    )
    expect(Result.isSuccess(decided) && decided.success.events).toEqual([])
  })
})
