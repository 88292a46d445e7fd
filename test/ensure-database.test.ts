/**
 * A fresh Postgres: the test run's global setup creates `DATABASE_URL`'s database when missing
 * (`scripts/ensure-database.ts`), so the README's test command needs no manual step.
 */
import { afterAll, describe, expect, it } from "vitest"
import { ensureDatabase, type PgClient, pgDriver } from "../scripts/ensure-database.ts"

const url = process.env.DATABASE_URL
const { Client } = pgDriver
const name = `idtrail_fresh_${Math.random().toString(36).slice(2, 10)}`

const admin = async <A>(body: (client: PgClient) => Promise<A>): Promise<A> => {
  const admin = new URL(url!)
  admin.pathname = "/postgres"
  const client = new Client({ connectionString: admin.toString() })
  await client.connect()
  try {
    return await body(client)
  } finally {
    await client.end()
  }
}
const exists = () =>
  admin(async (c) => (await c.query("select 1 from pg_database where datname = $1", [name])).rowCount === 1)

describe.skipIf(url === undefined)("a database that does not exist yet (needs DATABASE_URL)", () => {
  afterAll(() => admin((c) => c.query(`drop database if exists "${name}"`)))

  it("is created, and creating it again changes nothing", async () => {
    const fresh = new URL(url!)
    fresh.pathname = `/${name}`
    expect(await exists()).toBe(false)
    await ensureDatabase(fresh.toString())
    expect(await exists()).toBe(true)
    await ensureDatabase(fresh.toString())
    expect(await exists()).toBe(true)
  })
})
