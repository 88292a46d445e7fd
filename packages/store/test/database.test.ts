/**
 * The embedded default: without a data directory PGlite keeps its files in a temporary directory
 * on disk (so a large sandbox's memory does not grow with its data), which is gone once the
 * store is closed; `memory://` keeps everything in memory.
 */
import { existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { describe, expect, it } from "vitest"
import { connect } from "../src/database.ts"

describe("the embedded PGlite's data directory", () => {
  it("is a temporary directory when none is given, with the database in it, removed on close", async () => {
    const connection = await connect({})
    const dir = connection.dataDir
    try {
      expect(connection.kind).toBe("pglite")
      expect(dir?.startsWith(tmpdir())).toBe(true)
      expect(existsSync(`${dir}/PG_VERSION`)).toBe(true)
      const { rows } = await connection.pool.query("select current_setting('shared_buffers') as sb")
      expect(rows).toEqual([{ sb: "16MB" }])
    } finally {
      await connection.close()
    }
    expect(existsSync(dir!)).toBe(false)
  })
})
