/**
 * Validates simulator responses against Stripe's own JSON schemas (vendored in the repository's
 * `vendor/stripe/`), with Ajv.
 *
 * The schemas are OpenAPI 3.0 flavoured, so they are adapted before compiling:
 * - `nullable: true` becomes `anyOf: [<schema>, {type: "null"}]` (Ajv's own `nullable` needs a
 *   sibling `type`, which Stripe's `anyOf` expandables lack);
 * - every object schema that lists `properties` and says nothing about extra ones is closed
 *   (`additionalProperties: false`), so a field Stripe does not have is caught, not ignored;
 * - the error schema's deliberately unresolved `$ref`s (payment_intent, payment_method,
 *   setup_intent, payment_source) become `false`: the simulator must never send those fields;
 * - an event's `data.object` is open in the event schema, so it is checked separately against
 *   `identity.verification_session`.
 */
import { existsSync, readFileSync } from "node:fs"
import path from "node:path"
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv"
import addFormatsModule from "ajv-formats"

/** The repository root: the nearest directory above this file holding `pnpm-workspace.yaml`. */
export const repoRoot: string = (() => {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir
    if (path.dirname(dir) === dir) throw new Error(`no pnpm-workspace.yaml above ${import.meta.dirname}`)
  }
})()

/** `vendor/stripe/` in the repository. */
export const stripeDir: string = path.join(repoRoot, "vendor", "stripe")

const readShared = (file: string): { components: { schemas: Record<string, unknown> } } => {
  const full = path.join(stripeDir, file)
  if (!existsSync(full))
    throw new Error(
      `missing ${full}: the simulator's schema tests read Stripe's schemas vendored in vendor/stripe/ of the repository (${repoRoot}).`,
    )
  return JSON.parse(readFileSync(full, "utf8"))
}

type Json = unknown

const adapt = (node: Json): Json => {
  if (Array.isArray(node)) return node.map(adapt)
  if (node === null || typeof node !== "object") return node
  const out: Record<string, Json> = {}
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith("x-") || k === "description") continue
    out[k] =
      k === "properties"
        ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, adapt(s)]))
        : adapt(v)
  }
  if (out.type === "object" && out.properties !== undefined && out.additionalProperties === undefined)
    out.additionalProperties = false
  if (out.nullable === true) {
    delete out.nullable
    return { anyOf: [out, { type: "null" }] }
  }
  delete out.nullable
  return out
}

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

const ajv = new Ajv({ strict: false, allErrors: true })
addFormats(ajv)
ajv.addFormat("unix-time", { type: "number", validate: (n: number) => Number.isInteger(n) })

const schemas: Record<string, Json> = {
  ...readShared("verification_session.schema.json").components.schemas,
  ...readShared("stripe_event_and_error.schema.json").components.schemas,
}
const adapted = Object.fromEntries(Object.entries(schemas).map(([k, v]) => [k, adapt(v)]))
for (const missing of ["payment_intent", "payment_method", "setup_intent", "payment_source"])
  adapted[missing] = false
ajv.addSchema({ $id: "stripe", components: { schemas: adapted } })

const compile = (name: string): ValidateFunction => {
  const v = ajv.getSchema(`stripe#/components/schemas/${name}`)
  if (!v) throw new Error(`schema ${name} not found`)
  return v
}

/**
 * Stripe's `account`, as far as the simulator renders it. No account schema is vendored, so this
 * one is written from the required members of stripe@22's `Account` type, closed like the others.
 */
const account = ajv.compile({
  type: "object",
  required: ["id", "object", "charges_enabled", "details_submitted", "email", "payouts_enabled", "type"],
  additionalProperties: false,
  properties: {
    id: { type: "string", pattern: "^acct_[A-Za-z0-9]+$" },
    object: { enum: ["account"] },
    business_profile: { type: "null" },
    charges_enabled: { type: "boolean" },
    country: { type: "string", minLength: 2, maxLength: 2 },
    created: { type: "integer" },
    default_currency: { type: "string" },
    details_submitted: { type: "boolean" },
    email: { anyOf: [{ type: "string" }, { type: "null" }] },
    metadata: { type: "object", additionalProperties: { type: "string" } },
    payouts_enabled: { type: "boolean" },
    type: { enum: ["custom", "express", "none", "standard"] },
  },
})

const validators = {
  session: compile("identity.verification_session"),
  event: compile("event"),
  error: compile("error"),
  account,
}

type Kind = "session" | "event" | "error" | "list" | "account"

/** Stripe's list envelope (inlined in the spec's path responses, not a component). */
const listEnvelope = ajv.compile({
  type: "object",
  required: ["object", "data", "has_more", "url"],
  additionalProperties: false,
  properties: {
    object: { enum: ["list"] },
    data: { type: "array" },
    has_more: { type: "boolean" },
    url: { type: "string", pattern: "^/v1/(identity/verification_sessions|events|accounts)" },
  },
})

const explain = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message} ${JSON.stringify(e.params)}`).join("; ")

/** Problems found in one body; empty when it conforms. */
export const schemaProblems = (kind: Kind, body: unknown): string[] => {
  const problems: string[] = []
  const check = (v: ValidateFunction, value: unknown, what: string) => {
    if (!v(value)) problems.push(`${what}: ${explain(v.errors)}`)
  }
  if (kind === "list") {
    check(listEnvelope, body, "list")
    const data = (body as { data?: unknown[]; url?: string }).data ?? []
    const url = (body as { url?: string }).url
    const itemKind = url === "/v1/events" ? "event" : url === "/v1/accounts" ? "account" : "session"
    data.forEach((item, i) => {
      problems.push(...schemaProblems(itemKind, item).map((p) => `data[${i}] ${p}`))
    })
    return problems
  }
  if (kind === "event") {
    check(validators.event, body, "event")
    const e = body as { type?: string; data?: { object?: unknown; previous_attributes?: unknown } }
    if (!String(e.type).startsWith("identity.verification_session."))
      problems.push(`event: unexpected type ${e.type}`)
    check(validators.session, e.data?.object, "event data.object")
    return problems
  }
  check(validators[kind], body, kind)
  return problems
}

/** Throws when `body` does not conform to Stripe's schema for `kind`. */
export const expectConforms = (kind: Kind, body: unknown): void => {
  const problems = schemaProblems(kind, body)
  if (problems.length > 0)
    throw new Error(
      `${kind} does not match Stripe's schema:\n${problems.join("\n")}\n${JSON.stringify(body)}`,
    )
}

/** Classifies a Stripe-route response body by its shape. */
export const kindOf = (body: { object?: string; error?: unknown }): Kind => {
  if (body.error !== undefined) return "error"
  if (body.object === "list") return "list"
  if (body.object === "event") return "event"
  if (body.object === "account") return "account"
  return "session"
}
