/**
 * Stripe's own JSON schemas and fixture, read from `shared/stripe/` beside the repository root
 * (`path.resolve(repoRoot, "../shared")`). In CI the clone sits elsewhere with a copy of
 * `shared/` beside it, so the root is found by walking up to `pnpm-workspace.yaml`.
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

/** `shared/stripe/`, beside the repository root. */
export const stripeDir: string = path.resolve(repoRoot, "../shared/stripe")

const readShared = (file: string): unknown => {
  const full = path.join(stripeDir, file)
  if (!existsSync(full)) {
    throw new Error(
      `missing ${full}: the schema-conformance tests read Stripe's schemas from shared/stripe/, ` +
        `which must sit beside the repository root (${repoRoot}). Copy shared/ next to the clone.`,
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
