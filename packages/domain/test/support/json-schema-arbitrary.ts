/**
 * A small JSON-schema → fast-check arbitrary, for the OpenAPI dialect of Stripe's spec
 * (`components.schemas`, `$ref`, `nullable`, `anyOf`, `enum` with `x-stripeEnum`, `required`,
 * `additionalProperties` maps, `maxLength`, `integer`, `boolean`, `array`).
 *
 * Each generated value comes twice: as the wire carries it, and with the fields Stripe's schema
 * does not document removed, so a test can tell "kept every documented field" from "kept
 * everything". Every documented position is listed with the JSON types the schema allows there,
 * so a test can break one on purpose and know exactly where.
 *
 * Deliberate simplifications: `maxLength` caps generated strings loosely (long strings cost time
 * and find nothing here); integers stay within ±2^53 (what JSON.parse can hold exactly); nesting
 * is bounded by `maxDepth` (past it, nullable values are null, optional properties absent and
 * arrays empty).
 */
import fc from "fast-check"

/** The subset of an OpenAPI 3.0 schema object that Stripe's Identity schemas use. */
export interface JsonSchema {
  readonly $ref?: string
  readonly type?: "object" | "array" | "string" | "integer" | "number" | "boolean"
  readonly nullable?: boolean
  readonly anyOf?: ReadonlyArray<JsonSchema>
  readonly oneOf?: ReadonlyArray<JsonSchema>
  readonly enum?: ReadonlyArray<unknown>
  readonly "x-stripeEnum"?: { readonly kind?: string }
  readonly properties?: Readonly<Record<string, JsonSchema>>
  readonly required?: ReadonlyArray<string>
  readonly additionalProperties?: boolean | JsonSchema
  readonly items?: JsonSchema
  readonly maxLength?: number
}

/** A document holding named schemas, as Stripe's spec does. */
export interface SchemaDocument {
  readonly components: { readonly schemas: Readonly<Record<string, JsonSchema>> }
}

/** A JSON type, as a schema position allows it. */
export type JsonType = "null" | "boolean" | "integer" | "number" | "string" | "array" | "object"

/** A position the schema documents, relative to the sample's root. */
export interface DocumentedField {
  readonly path: ReadonlyArray<string | number>
  /** The JSON types the schema allows here (`integer` implies `number` is still wrong for 1.5). */
  readonly types: ReadonlyArray<JsonType>
  /** `property` of a struct (required or not), `entry` of a map, `item` of an array. */
  readonly kind: "property" | "entry" | "item"
  readonly required: boolean
}

/** One generated value. */
export interface Sample {
  /** What the wire carries: the documented fields, plus undocumented ones if `extraFields` is on. */
  readonly wire: unknown
  /**
   * `wire` without the undocumented fields. Below an `opaqueRefs` schema, which a model keeps
   * verbatim, the undocumented fields stay.
   */
  readonly documented: unknown
  /** Every documented position outside opaque subtrees, with what the schema allows there. */
  readonly fields: ReadonlyArray<DocumentedField>
}

export interface SampleOptions {
  /** Where `x-stripeEnum.kind` is `"open"`, sometimes put a string Stripe has not documented yet. */
  readonly unknownEnumValues?: boolean
  /** Sometimes add fields the schema does not document to every struct (Stripe adds fields freely). */
  readonly extraFields?: boolean
  /** Names of schemas that the model under test keeps as opaque JSON. */
  readonly opaqueRefs?: ReadonlyArray<string>
  /** Nesting bound, counted in objects and arrays. Default 8. */
  readonly maxDepth?: number
  /** Cap on generated string length, below the schema's own `maxLength`. Default 24. */
  readonly maxStringLength?: number
  /** Cap on array and map sizes. Default 3. */
  readonly maxItems?: number
}

/** Keys that trip naive object handling; a schema's maps and Stripe's additions may carry them. */
export const awkwardKeys = ["__proto__", "constructor", "toString", "hasOwnProperty", "a.b", ""] as const

const refPrefix = "#/components/schemas/"

interface Context {
  readonly depth: number
  readonly opaque: boolean
}

const leaf = (value: unknown): Sample => ({ wire: value, documented: value, fields: [] })

/** Builds an object whose own keys are exactly `entries`' keys, `__proto__` included. */
const objectOf = (entries: ReadonlyArray<readonly [string, unknown]>): Record<string, unknown> =>
  Object.fromEntries(entries)

/**
 * Values of every JSON type a position does not allow: what a test puts there to break it.
 * `integer` positions also get a fractional number.
 */
export const valuesOfOtherTypes = (types: ReadonlyArray<JsonType>): ReadonlyArray<unknown> => {
  const allows = (t: JsonType) => types.includes(t)
  const wrong: Array<unknown> = []
  if (!allows("null")) wrong.push(null)
  if (!allows("boolean")) wrong.push(true)
  if (!allows("number")) wrong.push(allows("integer") ? 1.5 : 7)
  if (!allows("string")) wrong.push("not-a-valid-value")
  if (!allows("array")) wrong.push(["not-a-valid-value"])
  if (!allows("object")) wrong.push({ unexpected: "object" })
  return wrong
}

/** Compiles named schemas of `document` into arbitraries. */
export const jsonSchemaArbitraries = (document: SchemaDocument, options: SampleOptions = {}) => {
  const maxDepth = options.maxDepth ?? 8
  const maxStringLength = options.maxStringLength ?? 24
  const maxItems = options.maxItems ?? 3
  const opaqueRefs = new Set(options.opaqueRefs ?? [])

  const resolve = (ref: string): readonly [string, JsonSchema] => {
    if (!ref.startsWith(refPrefix)) throw new Error(`unsupported $ref ${ref}: only ${refPrefix}… resolves`)
    const name = ref.slice(refPrefix.length)
    const target = document.components.schemas[name]
    if (target === undefined) throw new Error(`unresolved $ref ${ref}`)
    return [name, target]
  }

  const alternatives = (schema: JsonSchema): ReadonlyArray<JsonSchema> | undefined =>
    schema.anyOf ?? schema.oneOf

  /** True when every way through `schema` lands in a schema the model keeps opaque. */
  const isOpaque = (schema: JsonSchema): boolean => {
    if (schema.$ref !== undefined) return opaqueRefs.has(resolve(schema.$ref)[0])
    const alts = alternatives(schema)
    return alts !== undefined && alts.length > 0 && alts.every(isOpaque)
  }

  /** The JSON types `schema` allows. */
  const typesOf = (schema: JsonSchema): ReadonlyArray<JsonType> => {
    const types = new Set<JsonType>()
    let constrained = false
    if (schema.$ref !== undefined) {
      constrained = true
      for (const t of typesOf(resolve(schema.$ref)[1])) types.add(t)
    }
    const alts = alternatives(schema)
    if (alts !== undefined && alts.length > 0) {
      constrained = true
      for (const alt of alts) for (const t of typesOf(alt)) types.add(t)
    }
    if (schema.type !== undefined) {
      constrained = true
      types.add(schema.type)
    } else if (schema.properties !== undefined || schema.additionalProperties !== undefined) {
      constrained = true
      types.add("object")
    }
    if (!constrained) return ["null", "boolean", "integer", "number", "string", "array", "object"]
    if (schema.nullable === true) types.add("null")
    return [...types]
  }

  const string = (schema: JsonSchema): fc.Arbitrary<string> => {
    const maxLength = Math.min(schema.maxLength ?? Number.POSITIVE_INFINITY, maxStringLength)
    return fc.oneof(
      { arbitrary: fc.string({ maxLength }), weight: 4 },
      { arbitrary: fc.string({ maxLength, unit: "grapheme" }), weight: 1 },
    )
  }

  const enumeration = (schema: JsonSchema, values: ReadonlyArray<unknown>): fc.Arbitrary<Sample> => {
    const known = fc.constantFrom(...values)
    const open = schema["x-stripeEnum"]?.kind === "open" && options.unknownEnumValues === true
    const value = open
      ? fc.oneof(
          { arbitrary: known, weight: 3 },
          { arbitrary: fc.string({ maxLength: 20 }).filter((s) => !values.includes(s)), weight: 1 },
        )
      : known
    return value.map(leaf)
  }

  const array = (schema: JsonSchema, ctx: Context): fc.Arbitrary<Sample> => {
    const item = schema.items ?? {}
    const itemTypes = typesOf(item)
    const itemOpaque = ctx.opaque || isOpaque(item)
    return fc
      .array(build(item, { depth: ctx.depth + 1, opaque: itemOpaque }), {
        maxLength: ctx.depth >= maxDepth ? 0 : maxItems,
      })
      .map((items) => ({
        wire: items.map((s) => s.wire),
        documented: items.map((s) => s.documented),
        fields: itemOpaque
          ? []
          : items.flatMap((s, i) => [
              { path: [i], types: itemTypes, kind: "item" as const, required: false },
              ...s.fields.map((f) => ({ ...f, path: [i, ...f.path] })),
            ]),
      }))
  }

  const object = (schema: JsonSchema, ctx: Context): fc.Arbitrary<Sample> => {
    const properties = Object.entries(schema.properties ?? {})
    const required = new Set(schema.required ?? [])
    const child: Context = { depth: ctx.depth + 1, opaque: ctx.opaque }
    const deep = ctx.depth >= maxDepth

    const props = properties.map(([key, propSchema]) => {
      const opaque = ctx.opaque || isOpaque(propSchema)
      const value = build(propSchema, { ...child, opaque })
      const present = required.has(key)
        ? value
        : deep
          ? fc.constant(undefined)
          : fc.option(value, { nil: undefined, freq: 2 })
      return present.map((sample) => ({ key, sample, opaque, types: typesOf(propSchema) }))
    })

    // A map (`additionalProperties`): its entries are documented, whatever their keys.
    const mapKeys = fc.oneof(
      { arbitrary: fc.string({ maxLength: 40 }), weight: 4 },
      fc.constantFrom(...awkwardKeys),
    )
    const additional = schema.additionalProperties
    const entryOpaque =
      ctx.opaque || additional === true || (typeof additional === "object" && isOpaque(additional))
    const entryValue: fc.Arbitrary<Sample> =
      typeof additional === "object"
        ? build(additional, { ...child, opaque: entryOpaque })
        : fc.jsonValue({ maxDepth: 2 }).map(leaf)
    const entryTypes = typeof additional === "object" ? typesOf(additional) : []
    const entries =
      additional === undefined || additional === false || deep
        ? fc.constant([])
        : fc.uniqueArray(fc.tuple(mapKeys, entryValue), {
            selector: ([k]) => k,
            maxLength: maxItems,
          })

    // Fields Stripe has not documented (yet): only on structs, which is what a map is not.
    const documentedKeys = new Set(properties.map(([k]) => k))
    const extraKeys = fc
      .oneof(
        { arbitrary: fc.string({ minLength: 1, maxLength: 12 }), weight: 4 },
        fc.constantFrom("__proto__", "constructor", "future_field", "toString"),
      )
      .filter((k) => !documentedKeys.has(k))
    const extras =
      options.extraFields === true && (additional === undefined || additional === false)
        ? fc.uniqueArray(fc.tuple(extraKeys, fc.jsonValue({ maxDepth: 1 })), {
            selector: ([k]) => k,
            maxLength: 2,
          })
        : fc.constant([])

    return fc.tuple(fc.tuple(...props), entries, extras).map(([propSamples, entrySamples, extraValues]) => {
      const present = propSamples.filter((p) => p.sample !== undefined) as Array<{
        key: string
        sample: Sample
        opaque: boolean
        types: ReadonlyArray<JsonType>
      }>
      const fields: Array<DocumentedField> = []
      for (const p of present) {
        if (p.opaque) continue
        fields.push({ path: [p.key], types: p.types, kind: "property", required: required.has(p.key) })
        for (const f of p.sample.fields) fields.push({ ...f, path: [p.key, ...f.path] })
      }
      if (!entryOpaque) {
        for (const [key, sample] of entrySamples) {
          fields.push({ path: [key], types: entryTypes, kind: "entry", required: false })
          for (const f of sample.fields) fields.push({ ...f, path: [key, ...f.path] })
        }
      }
      const wire = objectOf([
        ...present.map((p) => [p.key, p.sample.wire] as const),
        ...entrySamples.map(([k, s]) => [k, s.wire] as const),
        ...extraValues,
      ])
      const documented = objectOf([
        ...present.map((p) => [p.key, p.sample.documented] as const),
        ...entrySamples.map(([k, s]) => [k, s.documented] as const),
        ...(ctx.opaque ? extraValues : []),
      ])
      return { wire, documented, fields }
    })
  }

  const build = (schema: JsonSchema, ctx: Context): fc.Arbitrary<Sample> => {
    if (ctx.depth > maxDepth + 16)
      throw new Error("schema nests too deeply (a cycle through required fields?)")
    if (schema.$ref !== undefined) {
      const [name, target] = resolve(schema.$ref)
      const inner = build(target, { ...ctx, opaque: ctx.opaque || opaqueRefs.has(name) })
      return schema.nullable === true ? nullable(inner, ctx) : inner
    }
    const alts = alternatives(schema)
    let core: fc.Arbitrary<Sample>
    if (alts !== undefined && alts.length > 0) core = fc.oneof(...alts.map((alt) => build(alt, ctx)))
    else if (schema.enum !== undefined) core = enumeration(schema, schema.enum)
    else if (schema.type === "string") core = string(schema).map(leaf)
    else if (schema.type === "integer") core = fc.maxSafeInteger().map(leaf)
    else if (schema.type === "number") core = fc.double({ noNaN: true, noDefaultInfinity: true }).map(leaf)
    else if (schema.type === "boolean") core = fc.boolean().map(leaf)
    else if (schema.type === "array") core = array(schema, ctx)
    else if (
      schema.type === "object" ||
      schema.properties !== undefined ||
      schema.additionalProperties !== undefined
    )
      core = object(schema, ctx)
    else core = fc.jsonValue({ maxDepth: 2 }).map(leaf)
    return schema.nullable === true ? nullable(core, ctx) : core
  }

  const nullable = (inner: fc.Arbitrary<Sample>, ctx: Context): fc.Arbitrary<Sample> =>
    ctx.depth >= maxDepth
      ? fc.constant(leaf(null))
      : fc.oneof({ arbitrary: fc.constant(leaf(null)), weight: 1 }, { arbitrary: inner, weight: 3 })

  return {
    /** Samples of the named schema (`components.schemas[name]`). */
    sample: (name: string): fc.Arbitrary<Sample> =>
      build({ $ref: `${refPrefix}${name}` }, { depth: 0, opaque: false }),
    /** Samples of an inline schema, resolved against the same document. */
    sampleOf: (schema: JsonSchema): fc.Arbitrary<Sample> => build(schema, { depth: 0, opaque: false }),
    /** The JSON types `schema` allows (following `$ref`, `anyOf`, `nullable`). */
    typesOf,
  }
}
