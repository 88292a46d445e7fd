/**
 * What `pnpm pack` publishes for each non-private package: `publishConfig` points every export
 * and bin of the workspace (TypeScript sources) at its built twin in `dist/`, types first, and the
 * manifest says what a team's installer needs (files, engines, license, version). The
 * packed-install check (`scripts/packed-install-check.sh`) then installs and runs the tarballs.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const packagesDir = new URL("../packages/", import.meta.url)
const manifests = readdirSync(packagesDir)
  .map((name) => ({ name, url: new URL(`${name}/package.json`, packagesDir) }))
  .filter(({ url }) => existsSync(url))
  .map(({ name, url }) => ({ dir: name, manifest: JSON.parse(readFileSync(url, "utf8")) }))
const publishable = manifests.filter(({ manifest }) => manifest.private !== true)

/** `./src/x.ts` → `./dist/x` (the built file, without its extension). */
const built = (source: string) => source.replace(/^\.\/src\/(.*)\.ts$/, "./dist/$1")

describe("published manifests", () => {
  it("the five packages the issue names, and the audit views the CLI mounts, are publishable", () => {
    expect(publishable.map(({ manifest }) => manifest.name)).toEqual(
      expect.arrayContaining([
        "@idtrail/audit",
        "@idtrail/domain",
        "@idtrail/store",
        "@idtrail/webhooks",
        "@idtrail/reconciler",
        "@idtrail/simulator",
      ]),
    )
  })

  describe.each(publishable)("$manifest.name", ({ dir, manifest }) => {
    it("publishes each export as dist/ JavaScript with its declarations listed first", () => {
      const published = manifest.publishConfig.exports
      expect(Object.keys(published)).toEqual(Object.keys(manifest.exports))
      for (const [entry, source] of Object.entries<string>(manifest.exports)) {
        expect(Object.keys(published[entry])[0]).toBe("types")
        expect(published[entry]).toEqual({ types: `${built(source)}.d.ts`, default: `${built(source)}.js` })
        expect(existsSync(new URL(`${dir}/${source}`, packagesDir))).toBe(true)
      }
    })

    it("publishes each bin as the built twin of its source", () => {
      const bins = Object.entries<string>(manifest.bin ?? {})
      expect(Object.keys(manifest.publishConfig.bin ?? {})).toEqual(bins.map(([name]) => name))
      for (const [name, source] of bins) expect(manifest.publishConfig.bin[name]).toBe(`${built(source)}.js`)
    })

    it("ships dist/ (and the store its SQL), for Node ≥ 22, MIT, versioned, free of side effects", () => {
      expect(manifest.files).toContain("dist")
      if (manifest.name === "@idtrail/store") expect(manifest.files).toContain("sql")
      expect(manifest.engines).toEqual({ node: ">=22" })
      expect(manifest.license).toBe("MIT")
      expect(existsSync(new URL(`${dir}/LICENSE`, packagesDir))).toBe(true)
      expect(manifest.version).toMatch(/^\d+\.\d+\.\d+$/)
      expect(manifest.sideEffects).toBe(false)
      expect(manifest.scripts.prepack).toBe("tsc -p tsconfig.build.json")
    })

    it("depends on no workspace package that is private, nor on one that depends back on it", () => {
      const names = new Map(manifests.map(({ manifest: m }) => [m.name as string, m]))
      const dependsOn = (m: { dependencies?: Record<string, string> }) =>
        Object.keys(m.dependencies ?? {}).filter((name) => names.has(name))
      for (const name of dependsOn(manifest)) {
        expect(names.get(name).private, `${name} is private`).not.toBe(true)
        // Dev dependencies count for the cycle: pnpm orders builds by both.
        const back = names.get(name)
        expect([...dependsOn(back), ...Object.keys(back.devDependencies ?? {})]).not.toContain(manifest.name)
      }
    })
  })
})
