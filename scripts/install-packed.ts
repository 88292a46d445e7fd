/**
 * Packs every publishable package (`pnpm pack`: built by its `prepack`, with the packed manifest
 * `publishConfig` makes) into `<dir>/tarballs/`, then installs the tarballs with npm into `<dir>`,
 * as a team installs them: no workspace links. The example app links its `@idtrail/*`
 * dependencies into `<dir>/node_modules`.
 *
 *   node scripts/install-packed.ts <dir> [--if-missing] [--pack-only]
 *
 * `--if-missing` does nothing when `<dir>` already holds the installed packages; `--pack-only`
 * stops after packing. Prints each tarball's path.
 */
import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { resolve } from "node:path"

const repo = resolve(import.meta.dirname, "..")
const args = process.argv.slice(2)
const target = args.find((a) => !a.startsWith("--"))
if (target === undefined) {
  console.error("usage: node scripts/install-packed.ts <dir> [--if-missing] [--pack-only]")
  process.exit(2)
}
const dir = resolve(process.cwd(), target)

if (
  args.includes("--if-missing") &&
  existsSync(resolve(dir, "node_modules/@idtrail/webhooks/package.json"))
) {
  console.error(`idtrail packages already installed in ${dir} (pnpm run packages repacks them)`)
  process.exit(0)
}

const tarballs = resolve(dir, "tarballs")
rmSync(dir, { recursive: true, force: true })
mkdirSync(tarballs, { recursive: true })
// pnpm's npm_config_* settings are not npm's: npm would warn about each.
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_config_/i.test(key)))
/** Runs a command quietly; when it fails, its output (tsc writes errors to stdout) and a non-zero exit. */
const run = (command: string, argv: ReadonlyArray<string>, cwd: string): void => {
  try {
    execFileSync(command, argv, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string }
    console.error(`${command} ${argv.join(" ")} failed:\n${stdout ?? ""}${stderr ?? ""}`)
    process.exit(1)
  }
}

// The publishable packages: every package that is not private.
const publishable = readdirSync(resolve(repo, "packages")).flatMap((name) => {
  const manifest = resolve(repo, "packages", name, "package.json")
  if (!existsSync(manifest)) return []
  const { name: packageName, private: isPrivate } = JSON.parse(readFileSync(manifest, "utf8"))
  return isPrivate === true ? [] : [packageName as string]
})
console.error(`packing ${publishable.join(", ")} into ${tarballs} (each builds first)…`)
const filters = publishable.flatMap((name) => ["--filter", name])
run("pnpm", ["-r", ...filters, "pack", "--pack-destination", tarballs], repo)
const files = readdirSync(tarballs).filter((f) => f.endsWith(".tgz"))
for (const file of files) console.log(resolve(tarballs, file))
if (args.includes("--pack-only")) process.exit(0)

// A manifest naming every tarball, so npm takes each @idtrail dependency from its tarball.
const dependencies = Object.fromEntries(
  files.map((file) => [
    file.replace(/^idtrail-(.*)-\d+\.\d+\.\d+\.tgz$/, "@idtrail/$1"),
    `file:tarballs/${file}`,
  ]),
)
writeFileSync(
  resolve(dir, "package.json"),
  `${JSON.stringify({ name: "idtrail-packed", private: true, dependencies }, null, 2)}\n`,
)
console.error(`npm install in ${dir}…`)
run("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock"], dir)
