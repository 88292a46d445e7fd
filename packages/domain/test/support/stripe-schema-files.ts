/**
 * Stripe's own JSON schemas and fixture, vendored in the repository's `vendor/stripe/` (see its
 * README), so a fresh clone needs nothing beside it. The root is found by walking up to
 * `pnpm-workspace.yaml`.
 */
import { existsSync, readFileSync } from "node:fs"
import path from "node:path"
import type { SchemaDocument } from "./json-schema-arbitrary.ts"

/** The repository root: the nearest directory above this file holding `pnpm-workspace.yaml`. */
export const repoRoot: string = (() => {
  for (let dir = import.meta.dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "pnpm-workspace.yaml"))) return dir
    if (path.dirname(dir) === dir) {
      throw new Error(
        `no pnpm-workspace.yaml above ${import.meta.dirname}: cannot locate the repository root`,
      )
    }
  }
})()

/** `vendor/stripe/` in the repository. */
export const stripeDir: string = path.join(repoRoot, "vendor", "stripe")

const readShared = (file: string): unknown => {
  const full = path.join(stripeDir, file)
  if (!existsSync(full)) {
    throw new Error(
      `missing ${full}: the schema-conformance tests read Stripe's schemas vendored in ` +
        `vendor/stripe/ of the repository (${repoRoot}).`,
    )
  }
  return JSON.parse(readFileSync(full, "utf8"))
}

/** `verification_session.schema.json`: the session, every schema it references, the six event payloads. */
export const sessionSchemas = (): SchemaDocument =>
  readShared("verification_session.schema.json") as SchemaDocument

/** `stripe_event_and_error.schema.json`: the v1 `event` envelope and the error body. */
export const eventSchemas = (): SchemaDocument =>
  readShared("stripe_event_and_error.schema.json") as SchemaDocument

/** `verification_session.fixture.json`: Stripe's own sample session (synthetic, shape only). */
export const sessionFixture = (): Record<string, unknown> =>
  readShared("verification_session.fixture.json") as Record<string, unknown>
