/**
 * Copies of a JSON payload broken at one position, for bad-input tests. The copy is made through
 * JSON text, and keys are written as own properties, so `__proto__` or `constructor` keys behave
 * like any other.
 */

export type JsonPath = ReadonlyArray<string | number>

const copy = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

const parentOf = (root: unknown, path: JsonPath): Record<string | number, unknown> => {
  let current = root
  for (const key of path.slice(0, -1)) {
    if (typeof current !== "object" || current === null) throw new Error(`no object at ${path.join(".")}`)
    current = (current as Record<string | number, unknown>)[key]
  }
  if (typeof current !== "object" || current === null) throw new Error(`no object at ${path.join(".")}`)
  return current as Record<string | number, unknown>
}

/** A copy of `value` with the position at `path` set to `replacement`. */
export const replacedAt = (value: unknown, path: JsonPath, replacement: unknown): unknown => {
  if (path.length === 0) return replacement
  const root = copy(value)
  const key = path[path.length - 1] as string | number
  Object.defineProperty(parentOf(root, path), key, {
    value: replacement,
    enumerable: true,
    writable: true,
    configurable: true,
  })
  return root
}

/** A copy of `value` without the property at `path`. */
export const removedAt = (value: unknown, path: JsonPath): unknown => {
  const root = copy(value)
  const key = path[path.length - 1] as string | number
  delete parentOf(root, path)[key]
  return root
}

/** `path` written the way `InvalidPayload.path` writes it. */
export const dotted = (path: JsonPath): string => (path.length === 0 ? "$" : path.join("."))
