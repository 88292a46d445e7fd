/**
 * Refreshes `vendor/stripe/` from Stripe's published OpenAPI spec (github.com/stripe/openapi,
 * `latest/openapi.spec3.sdk.json`, and its `latest/fixtures3.json` for the sample session):
 *
 *   node scripts/refresh-stripe-schemas.ts <openapi.spec3.sdk.json> [--fixtures <fixtures3.json>] [--out <dir>]
 *
 * It writes the same three documents, every schema copied unchanged:
 * - `verification_session.schema.json`: `identity.verification_session`, every schema it
 *   references (expandable fields' targets after the rest), and the six
 *   `identity.verification_session.*` event payloads;
 * - `stripe_event_and_error.schema.json`: the v1 event (`event`, `notification_event_data`,
 *   `notification_event_request`) and error envelope (`error`, `api_errors`), without what
 *   `api_errors` references (payment objects, irrelevant to Identity);
 * - `verification_session.fixture.json` (with `--fixtures`): Stripe's sample session.
 * When the spec is in a git checkout, `x-source` names its commit.
 */
import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { basename, dirname, resolve } from "node:path"
import { parseArgs } from "node:util"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
type Schemas = Readonly<Record<string, Json>>

const refPrefix = "#/components/schemas/"
const isObject = (value: Json): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * `roots` and every schema they reference, in depth-first order of first reference; what an
 * expandable field (`x-expansionResources`) references comes after everything else.
 */
export const referenced = (schemas: Schemas, roots: ReadonlyArray<string>): ReadonlyArray<string> => {
  const order: Array<string> = []
  const deferred: Array<string> = []
  const visit = (name: string) => {
    if (order.includes(name)) return
    const schema = schemas[name]
    if (schema === undefined) throw new Error(`the spec has no schema ${name}`)
    order.push(name)
    walk(schema, false)
  }
  const walk = (value: Json, expandable: boolean): void => {
    if (Array.isArray(value)) for (const item of value) walk(item, expandable)
    if (!isObject(value)) return
    const inExpandable = expandable || "x-expansionResources" in value
    for (const [key, item] of Object.entries(value)) {
      if (key === "$ref" && typeof item === "string" && item.startsWith(refPrefix)) {
        const name = item.slice(refPrefix.length)
        if (inExpandable) deferred.push(name)
        else visit(name)
      } else walk(item, inExpandable)
    }
  }
  for (const root of roots) visit(root)
  while (deferred.length > 0) visit(deferred.shift()!)
  return order
}

/** Where the spec came from: its commit when it sits in a git checkout. */
const sourceOf = (specPath: string, apiVersion: string): Record<string, string> => {
  const git = (...args: ReadonlyArray<string>) =>
    execFileSync("git", ["-C", dirname(specPath), ...args], { encoding: "utf8", stdio: "pipe" }).trim()
  try {
    const [commit = "", date = "", subject = ""] = git(
      "log",
      "-1",
      "--format=%H%n%cs%n%s",
      "--",
      basename(specPath),
    ).split("\n")
    const path = `${git("rev-parse", "--show-prefix")}${basename(specPath)}`
    return {
      repository: "stripe/openapi",
      path,
      commit,
      commit_date: date,
      commit_subject: subject,
      api_version: apiVersion,
    }
  } catch {
    return { repository: "stripe/openapi", path: basename(specPath), api_version: apiVersion }
  }
}

/** The vendored documents for `spec` (the parsed OpenAPI spec). */
export const extract = (
  spec: { info: { version: string }; components: { schemas: Schemas } },
  source: Record<string, string>,
) => {
  const schemas = spec.components.schemas
  const pick = (names: ReadonlyArray<string>) =>
    Object.fromEntries(names.map((name) => [name, schemas[name]!]))
  const events = Object.keys(schemas)
    .filter((name) => name.startsWith("identity.verification_session."))
    .sort()
  const session = referenced(schemas, ["identity.verification_session"])
  const envelope = ["error", "api_errors", "event", "notification_event_data", "notification_event_request"]
  for (const name of envelope)
    if (schemas[name] === undefined) throw new Error(`the spec has no schema ${name}`)
  return {
    "verification_session.schema.json": {
      $comment:
        "Verbatim extract of components.schemas entries from Stripe's public OpenAPI spec (see x-source). Every object under components.schemas is copied unchanged (key order preserved); only this wrapper and x-source were added. Contains identity.verification_session, every schema it references (directly or via the expandable last_verification_report), and the six identity.verification_session.* event payload schemas. All $ref targets resolve inside this file.",
      "x-source": source,
      components: { schemas: pick(referenced(schemas, [...session, ...events])) },
    },
    "stripe_event_and_error.schema.json": {
      $comment:
        "Verbatim extract of components.schemas entries from Stripe's public OpenAPI spec (see x-source): the v1 Event object (event, notification_event_data, notification_event_request) and the v1 error envelope (error, api_errors). Objects under components.schemas are copied unchanged; only this wrapper and x-source were added. api_errors refers to payment_intent, payment_method, setup_intent and payment_source, which are NOT included (irrelevant to Identity).",
      "x-source": source,
      components: { schemas: pick(envelope) },
    },
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { fixtures: { type: "string" }, out: { type: "string" } },
  })
  const specPath = positionals[0]
  if (specPath === undefined) {
    console.error(
      "usage: node scripts/refresh-stripe-schemas.ts <openapi.spec3.sdk.json> [--fixtures <fixtures3.json>] [--out <dir>]",
    )
    process.exit(2)
  }
  const out = resolve(values.out ?? resolve(import.meta.dirname, "../vendor/stripe"))
  const spec = JSON.parse(readFileSync(specPath, "utf8"))
  const documents: Record<string, unknown> = extract(spec, sourceOf(resolve(specPath), spec.info.version))
  if (values.fixtures !== undefined) {
    const sample = JSON.parse(readFileSync(values.fixtures, "utf8")).resources?.[
      "identity.verification_session"
    ]
    if (sample === undefined)
      throw new Error(`${values.fixtures} has no resources["identity.verification_session"]`)
    documents["verification_session.fixture.json"] = sample
  }
  for (const [file, document] of Object.entries(documents)) {
    writeFileSync(resolve(out, file), `${JSON.stringify(document, null, 2)}\n`)
    console.log(`${resolve(out, file)} (API ${spec.info.version})`)
  }
}
