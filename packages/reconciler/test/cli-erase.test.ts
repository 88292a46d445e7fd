/**
 * `idtrail erase` through the real CLI entry, on an encrypted store: a sandbox sweep (the
 * simulator redacts some of its sessions) erases the redacted ones by itself, an operator erases
 * another with a reason, `--list` shows every erasure with no key left, and without the
 * key-encryption key the store refuses to open. Each command is a process on one PGlite
 * directory, one after another.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { exitCodes } from "../src/index.ts"
import { binPath, runBin } from "./cli-harness.ts"

const run = runBin(binPath("idtrail.ts"))
const kek = { IDTRAIL_KEK: randomBytes(32).toString("base64") }

interface Listed {
  readonly sessionId: string
  readonly reason: string
  readonly keyRemains: boolean
  readonly actor: { readonly kind: string; readonly id: string }
}
const listed = (stdout: string): ReadonlyArray<Listed> =>
  stdout
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Listed)

describe("idtrail erase on an encrypted store", () => {
  let dir: string
  let dataDir: string
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "idtrail-cli-erase-"))
    dataDir = join(dir, "db")
    const swept = await run(["reconcile", "--simulate", "30", "--mode", "sweep", "--data-dir", dataDir], kek)
    expect(swept.code, swept.stderr).toBe(exitCodes.complete)
  }, 120_000)
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("a sweep that sees redacted sessions erases them; an operator erases another with a reason; --list shows no key left for any", async () => {
    const before = await run(["erase", "--list", "--json", "--data-dir", dataDir], kek)
    expect(before.code, before.stderr).toBe(0)
    const redacted = listed(before.stdout)
    expect(redacted.length).toBeGreaterThan(0)
    for (const e of redacted) {
      expect(e.keyRemains).toBe(false)
      expect(e.reason).toMatch(/^redacted at Stripe \((processing|redacted)\), seen by reconciler$/)
    }
    const exported = await run(
      [
        "audit",
        "export",
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
        "--format",
        "jsonl",
        "--data-dir",
        dataDir,
      ],
      kek,
    )
    expect(exported.code, exported.stderr).toBe(0)
    const ids = new Set(
      exported.stdout
        .trim()
        .split("\n")
        .slice(1)
        .map((l) => (JSON.parse(l) as { session_id: string }).session_id),
    )
    const target = [...ids].find((id) => !redacted.some((e) => e.sessionId === id))!
    const erased = await run(
      ["erase", target, "--reason", "DSR-1042", "--actor", "dpo", "--data-dir", dataDir],
      kek,
    )
    expect(erased.code, erased.stderr).toBe(0)
    expect(erased.stdout).toMatch(new RegExp(`^${target}: erased; its key is destroyed`))
    const after = listed((await run(["erase", "--list", "--json", "--data-dir", dataDir], kek)).stdout)
    expect(after.find((e) => e.sessionId === target)).toMatchObject({
      reason: "DSR-1042",
      actor: { kind: "user", id: "dpo" },
      keyRemains: false,
    })
    expect(after).toHaveLength(redacted.length + 1)
  }, 300_000)

  it("without the key-encryption key the store is refused: exit 2, naming IDTRAIL_KEK", async () => {
    const missing = await run(["erase", "--list", "--data-dir", dataDir])
    expect(missing.code).toBe(exitCodes.badConfig)
    expect(missing.stderr).toMatch(/IDTRAIL_KEK/)
  }, 120_000)

  it("without DATABASE_URL or --data-dir there is no kept store to erase from: exit 2, naming both, instead of a false 'no session'", async () => {
    for (const args of [
      ["erase", "--list"],
      ["erase", "vs_123", "--reason", "subject's request"],
    ]) {
      const refused = await run(args, kek)
      expect(refused.code, refused.stdout).toBe(exitCodes.badConfig)
      expect(refused.stderr).toMatch(/DATABASE_URL/)
      expect(refused.stderr).toMatch(/--data-dir/)
      expect(refused.stdout).not.toMatch(/no erased sessions|no session/)
    }
  }, 120_000)
})
