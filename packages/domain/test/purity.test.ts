/**
 * The domain is pure: its sources import `effect` and each other, nothing else (no `node:`
 * module, no other package). Webhook signatures, which need `node:crypto`, live in
 * `@idtrail/webhooks`.
 */
import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const src = new URL("../src/", import.meta.url)
const sources = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => /\.[cm]?tsx?$/.test(f))

/** Every module a source names: static and dynamic imports, re-exports, side-effect imports, require. */
const importsOf = (code: string): Array<string> =>
  [
    ...code.matchAll(/\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']/g),
    ...code.matchAll(/\bimport\s*["']([^"']+)["']/g),
    ...code.matchAll(/\b(?:import|require)\s*\(\s*["']([^"']+)["']\s*\)/g),
  ].map((m) => m[1]!)

const allowed = (specifier: string) =>
  specifier === "effect" ||
  specifier.startsWith("effect/") ||
  specifier.startsWith("./") ||
  specifier.startsWith("../")

describe("domain purity", () => {
  it("the import scanner sees every form of import it guards against", () => {
    const code = [
      'import { createHmac } from "node:crypto"',
      'import type { X } from "@idtrail/store"',
      'export * from "fs"',
      'import "./side-effect.ts"',
      'const m = await import("node:os")',
      'const p = require("path")',
      'import {\n  a,\n  b,\n} from "effect/Schema"',
    ].join("\n")
    expect(importsOf(code).sort()).toEqual(
      ["./side-effect.ts", "@idtrail/store", "effect/Schema", "fs", "node:crypto", "node:os", "path"].sort(),
    )
  })

  it("every domain source imports only effect, effect/* and relative modules (no node:, no other package)", () => {
    expect(sources.length).toBeGreaterThan(5)
    const foreign = sources.flatMap((file) =>
      importsOf(readFileSync(new URL(file, src), "utf8"))
        .filter((specifier) => !allowed(specifier))
        .map((specifier) => `${file}: ${specifier}`),
    )
    expect(foreign).toEqual([])
  })
})
