/**
 * The bracket-notation form parser. Stripe's clients send `application/x-www-form-urlencoded`
 * bodies (and GET query strings) such as `options[document][allowed_types][0]=passport`,
 * `metadata[plan]=pro` and `expand[]=verified_outputs`; this module turns them into a tree.
 *
 * Arrays come two ways, `a[]=x` (appended) and `a[0]=x` (indexed, as stripe-node sends them); a
 * node whose keys are all integers becomes an array ordered by index. A key used both as a
 * scalar and as a hash, or a malformed key, is an error naming that key.
 *
 * @module
 */
import { invalidRequest } from "./errors.ts"

/** A parsed form value: a string, an array, or a hash. */
export type FormValue = string | FormValue[] | FormHash
/** A parsed hash (`metadata[k]=v`). */
export interface FormHash {
  [key: string]: FormValue
}

const APPEND = Symbol("append")

const decode = (raw: string, where: string): string => {
  try {
    return decodeURIComponent(raw.replaceAll("+", " "))
  } catch {
    throw invalidRequest(`Invalid request body: the form field '${where}' is not valid URL encoding.`, where)
  }
}

/** Splits `a[b][c]` into `["a", "b", "c"]` and `a[]` into `["a", APPEND]`. */
const splitKey = (key: string): Array<string | typeof APPEND> => {
  const open = key.indexOf("[")
  const head = open < 0 ? key : key.slice(0, open)
  const malformed = () =>
    invalidRequest(`Invalid request body: malformed parameter name '${key}'.`, head === "" ? key : head)
  if (head === "" || head.includes("]")) throw malformed()
  const parts: Array<string | typeof APPEND> = [head]
  let i = open
  while (i >= 0 && i < key.length) {
    if (key[i] !== "[") throw malformed()
    const close = key.indexOf("]", i)
    if (close < 0) throw malformed()
    const inner = key.slice(i + 1, close)
    if (inner.includes("[")) throw malformed()
    parts.push(inner === "" ? APPEND : inner)
    i = close + 1
  }
  return parts
}

const paramName = (parts: ReadonlyArray<string | typeof APPEND>): string =>
  parts.map((p, i) => (i === 0 ? String(p) : p === APPEND ? "[]" : `[${p}]`)).join("")

/**
 * Parses a form-encoded string into a hash.
 *
 * @throws ApiError (400 `invalid_request_error`) naming the parameter when the body is malformed.
 */
export const parseForm = (body: string): FormHash => {
  const root: Map<string, unknown> = new Map()
  if (body.trim() === "") return {}
  for (const pair of body.split("&")) {
    if (pair === "") continue
    const eq = pair.indexOf("=")
    const rawKey = eq < 0 ? pair : pair.slice(0, eq)
    const key = decode(rawKey, rawKey)
    const value = eq < 0 ? "" : decode(pair.slice(eq + 1), key)
    const parts = splitKey(key)
    let node: Map<unknown, unknown> = root
    for (let d = 0; d < parts.length; d++) {
      const part = parts[d]!
      const last = d === parts.length - 1
      const here = paramName(parts.slice(0, d + 1))
      if (part === APPEND) {
        // `a[]` appends a fresh slot; keep appended slots in order under numeric-like keys.
        const slot = `\u0000${node.size}`
        if (last) node.set(slot, value)
        else {
          const child = new Map()
          node.set(slot, child)
          node = child
        }
        continue
      }
      const existing = node.get(part)
      if (last) {
        if (existing !== undefined) {
          if (existing instanceof Map)
            throw invalidRequest(
              `Invalid request body: '${here}' is given both as a value and as a hash.`,
              here,
            )
          // A repeated scalar key: the last value wins, as in Stripe's Rack-style parser.
        }
        node.set(part, value)
      } else {
        if (existing === undefined) {
          const child = new Map()
          node.set(part, child)
          node = child
        } else if (existing instanceof Map) node = existing
        else
          throw invalidRequest(
            `Invalid request body: '${here}' is given both as a value and as a hash.`,
            here,
          )
      }
    }
  }
  return toValue(root, "") as FormHash
}

const isAppended = (k: string): boolean => k.startsWith("\u0000")

/**
 * Nodes built from `a[]` become arrays. Indexed nodes (`a[0]`) stay hashes with numeric keys,
 * because `metadata[0]=x` is a legal hash; the parameter schema turns them into arrays where an
 * array is expected (see {@link asArray}).
 */
const toValue = (node: unknown, path: string): FormValue => {
  if (!(node instanceof Map)) return node as string
  const keys = [...node.keys()] as string[]
  const appended = keys.filter(isAppended)
  if (appended.length > 0) {
    if (appended.length !== keys.length)
      throw invalidRequest(`Invalid request body: '${path}' mixes '[]' with named keys.`, path)
    return keys.map((k) => toValue(node.get(k), `${path}[]`))
  }
  // fromEntries, not assignment: a key named `__proto__` stays a key, never the hash's prototype.
  return Object.fromEntries(keys.map((k) => [k, toValue(node.get(k), path === "" ? k : `${path}[${k}]`)]))
}

/**
 * Reads a parsed value as an array: either a real array (`a[]=`) or a hash whose keys are all
 * integers (`a[0]=`, `a[1]=`), ordered by index. Undefined when it is neither.
 */
export const asArray = (value: FormValue): FormValue[] | undefined => {
  if (Array.isArray(value)) return value
  if (typeof value === "string") return undefined
  const keys = Object.keys(value)
  if (!keys.every((k) => /^\d+$/.test(k))) return undefined
  return keys.sort((a, b) => Number(a) - Number(b)).map((k) => value[k]!)
}

/** Encodes a hash back into bracket notation (used by tests and the CLI); arrays use indices. */
export const stringifyForm = (value: FormHash): string => {
  const out: string[] = []
  const walk = (prefix: string, v: FormValue): void => {
    if (typeof v === "string") out.push(`${encodeURIComponent(prefix)}=${encodeURIComponent(v)}`)
    else if (Array.isArray(v)) {
      for (const [i, item] of v.entries()) walk(`${prefix}[${i}]`, item)
    } else for (const [k, item] of Object.entries(v)) walk(prefix === "" ? k : `${prefix}[${k}]`, item)
  }
  walk("", value)
  return out.join("&")
}
