/**
 * Exact equality of JSON-like values, for laws about payloads. Vitest's `toStrictEqual` compares
 * `constructor` properties, so it calls two equal objects different when they carry a
 * `constructor` key (which Stripe metadata may); this compares own keys and values only, and
 * tells a missing key from one set to `undefined`.
 */
import { expect } from "vitest"

export const sameJson = (a: unknown, b: unknown): boolean => {
  if (Object.is(a, b)) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  if (ka.length !== kb.length) return false
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false
    if (!sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false
  }
  return true
}

/** Asserts `actual` and `expected` are the same JSON value, showing Vitest's diff when they are not. */
export const expectSameJson = (actual: unknown, expected: unknown): void => {
  if (sameJson(actual, expected)) return
  expect(actual).toEqual(expected)
  // `toEqual` forgives what `sameJson` does not (`undefined` properties, -0): say it plainly.
  throw new Error(
    `expected the same JSON value (keys and values exactly):\n  actual:   ${JSON.stringify(actual)}\n  expected: ${JSON.stringify(expected)}`,
  )
}
