/**
 * A Postgres server shared with other work: another application (or another test file) creates
 * and drops schemas while idtrail migrates its own. Kysely's Migrator lists every schema's
 * tables to find its own migration table, and a schema dropped during that listing failed the
 * migrate with `schema "…" does not exist` naming a schema that was not ours (seen in CI).
 */
import { sql } from "kysely"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Connection, connect } from "../src/database.ts"
import { migrate } from "../src/migrations.ts"
import { freshSchema } from "./fixtures.ts"

const url = process.env.DATABASE_URL

describe.runIf(url)("migrating on a server where other work drops schemas (postgres)", () => {
  let connection: Connection
  let other: Connection
  const ours: Array<string> = []

  beforeAll(async () => {
    connection = await connect({ databaseUrl: url })
    other = await connect({ databaseUrl: url })
  })
  afterAll(async () => {
    for (const schema of ours)
      await sql.raw(`drop schema if exists "${schema}" cascade`).execute(connection.db)
    await Promise.all([connection?.close(), other?.close()])
  })

  it("every migrate succeeds while another connection keeps creating and dropping schemas", async () => {
    let churning = true
    const prefix = freshSchema()
    // The other work: schemas with a table each, created and dropped as fast as the server goes.
    const churn = (async () => {
      for (let i = 0; churning; i++) {
        const name = `${prefix}_x${i % 4}`
        await sql.raw(`create schema if not exists "${name}"`).execute(other.db)
        await sql.raw(`create table if not exists "${name}".t (a int, b text, c jsonb)`).execute(other.db)
        await sql.raw(`drop schema "${name}" cascade`).execute(other.db)
      }
    })()
    const failures: Array<string> = []
    try {
      for (let i = 0; i < 12; i++) {
        const schema = freshSchema()
        ours.push(schema)
        await migrate(connection.db, schema).catch((error: Error) => failures.push(error.message))
      }
    } finally {
      churning = false
      await churn
    }
    expect(failures).toEqual([])
  }, 120_000)
})
