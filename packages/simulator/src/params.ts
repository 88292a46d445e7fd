/**
 * Request parameter schemas. Each endpoint declares what it accepts; {@link readParams} checks a
 * parsed form against that declaration and returns plain values, or fails with Stripe's 400
 * naming the parameter (`param: "options[document][allowed_types][0]"`). Unknown parameters are
 * rejected, as Stripe does.
 *
 * @module
 */
import { invalidRequest, missingParameter, unknownParameter } from "./errors.ts"
import { asArray, type FormHash, type FormValue } from "./form.ts"

/** What one parameter accepts. */
export type ParamSpec =
  | { readonly kind: "string"; readonly maxLength?: number }
  | { readonly kind: "int"; readonly min?: number; readonly max?: number }
  | { readonly kind: "bool" }
  | { readonly kind: "enum"; readonly values: ReadonlyArray<string> }
  | { readonly kind: "metadata" }
  | {
      readonly kind: "hash"
      readonly fields: Readonly<Record<string, ParamSpec>>
      readonly required?: ReadonlyArray<string>
      /** `""` is accepted and read as null, Stripe's way to clear an object. */
      readonly emptyable?: boolean
    }
  | { readonly kind: "array"; readonly of: ParamSpec; readonly maxItems?: number }
  /** `created=123` or `created[gte]=…` — an exact second or a range. */
  | { readonly kind: "range" }

/** A range filter on an integer field; missing bounds are open. */
export interface Range {
  readonly gt?: number
  readonly gte?: number
  readonly lt?: number
  readonly lte?: number
}

/** Spec helpers, to keep endpoint declarations short. */
export const p = {
  string: (maxLength = 5000): ParamSpec => ({ kind: "string", maxLength }),
  int: (min?: number, max?: number): ParamSpec => ({
    kind: "int",
    ...(min === undefined ? {} : { min }),
    ...(max === undefined ? {} : { max }),
  }),
  bool: { kind: "bool" } as ParamSpec,
  enum: (...values: string[]): ParamSpec => ({ kind: "enum", values }),
  metadata: { kind: "metadata" } as ParamSpec,
  hash: (
    fields: Record<string, ParamSpec>,
    extra: { required?: string[]; emptyable?: boolean } = {},
  ): ParamSpec => ({
    kind: "hash",
    fields,
    ...extra,
  }),
  array: (of: ParamSpec, maxItems?: number): ParamSpec => ({
    kind: "array",
    of,
    ...(maxItems === undefined ? {} : { maxItems }),
  }),
  range: { kind: "range" } as ParamSpec,
  expand: { kind: "array", of: { kind: "string", maxLength: 5000 } } as ParamSpec,
}

const show = (v: FormValue): string => (typeof v === "string" ? v : JSON.stringify(v))

const readInt = (v: FormValue, path: string): number => {
  if (typeof v !== "string" || !/^-?\d{1,15}$/.test(v.trim()))
    throw invalidRequest(`Invalid integer: ${show(v)}`, path, "parameter_invalid_integer")
  return Number(v.trim())
}

const readValue = (spec: ParamSpec, v: FormValue, path: string): unknown => {
  switch (spec.kind) {
    case "string": {
      if (typeof v !== "string") throw invalidRequest(`Invalid string: ${show(v)}`, path)
      if (spec.maxLength !== undefined && v.length > spec.maxLength)
        throw invalidRequest(`Invalid string: must be at most ${spec.maxLength} characters`, path)
      return v
    }
    case "int": {
      const n = readInt(v, path)
      if (spec.min !== undefined && n < spec.min)
        throw invalidRequest(`This value must be greater than or equal to ${spec.min}.`, path)
      if (spec.max !== undefined && n > spec.max)
        throw invalidRequest(`This value must be less than or equal to ${spec.max}.`, path)
      return n
    }
    case "bool": {
      if (v === "true") return true
      if (v === "false") return false
      throw invalidRequest(`Invalid boolean: ${show(v)}`, path)
    }
    case "enum": {
      if (typeof v !== "string" || !spec.values.includes(v)) {
        const name = path.replace(/^.*\[([^\]]*)\]$/, "$1")
        const list =
          spec.values.length > 2
            ? `${spec.values.slice(0, -1).join(", ")}, or ${spec.values.at(-1)}`
            : spec.values.join(" or ")
        throw invalidRequest(`Invalid ${name}: must be one of ${list}`, path)
      }
      return v
    }
    case "metadata": {
      if (v === "") return null
      if (typeof v === "string" || Array.isArray(v)) throw invalidRequest("Invalid hash", path)
      const out: Array<[string, string]> = []
      const keys = Object.keys(v)
      if (keys.length > 50) throw invalidRequest("Metadata can have at most 50 keys.", path)
      for (const k of keys) {
        const value = v[k]!
        const where = `${path}[${k}]`
        if (typeof value !== "string") throw invalidRequest(`Invalid string: ${show(value)}`, where)
        if (k.length > 40) throw invalidRequest("Metadata keys must be at most 40 characters long.", where)
        if (value.length > 500)
          throw invalidRequest("Metadata values must be at most 500 characters long.", where)
        out.push([k, value])
      }
      // fromEntries, not assignment: a metadata key named `__proto__` stays a key.
      return Object.fromEntries(out)
    }
    case "hash": {
      if (v === "" && spec.emptyable) return null
      if (typeof v === "string" || Array.isArray(v)) throw invalidRequest("Invalid hash", path)
      return readHash(spec.fields, v, path, spec.required ?? [])
    }
    case "array": {
      const items = v === "" ? [] : asArray(v)
      if (items === undefined) throw invalidRequest("Invalid array", path)
      if (spec.maxItems !== undefined && items.length > spec.maxItems)
        throw invalidRequest(`Invalid array: must have at most ${spec.maxItems} items`, path)
      return items.map((item, i) => readValue(spec.of, item, `${path}[${i}]`))
    }
    case "range": {
      if (typeof v === "string") {
        const n = readInt(v, path)
        return { gte: n, lte: n } satisfies Range
      }
      if (Array.isArray(v)) throw invalidRequest("Invalid hash", path)
      const bounds = { gt: p.int(), gte: p.int(), lt: p.int(), lte: p.int() }
      return readHash(bounds, v, path, [])
    }
  }
}

const readHash = (
  fields: Readonly<Record<string, ParamSpec>>,
  v: FormHash,
  path: string,
  required: ReadonlyArray<string>,
): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, value] of Object.entries(v)) {
    const where = path === "" ? k : `${path}[${k}]`
    // Own fields only: `__proto__` or `constructor` is an unknown parameter, not Object's.
    const spec = Object.hasOwn(fields, k) ? fields[k] : undefined
    if (spec === undefined) throw unknownParameter(where)
    out[k] = readValue(spec, value, where)
  }
  for (const k of required)
    if (out[k] === undefined || out[k] === "") throw missingParameter(path === "" ? k : `${path}[${k}]`)
  return out
}

/**
 * Checks a parsed form against an endpoint's parameters and returns the typed values.
 *
 * @throws ApiError 400 naming the first offending parameter.
 */
export const readParams = (
  fields: Readonly<Record<string, ParamSpec>>,
  form: FormHash,
): Record<string, unknown> => readHash(fields, form, "", [])

/** True when `n` satisfies every bound of `range`. */
export const inRange = (range: Range, n: number): boolean =>
  (range.gt === undefined || n > range.gt) &&
  (range.gte === undefined || n >= range.gte) &&
  (range.lt === undefined || n < range.lt) &&
  (range.lte === undefined || n <= range.lte)
