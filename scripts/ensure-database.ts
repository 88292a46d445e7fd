/**
 * Vitest global setup: with `DATABASE_URL` set, creates its database when it is missing, so the
 * README's test command works on a fresh Postgres (the tests then make their own schemas in it).
 * Connection problems are left to the tests, which report them with the URL.
 */
import { createRequire } from "node:module"

/** The little of pg's client this needs. */
export interface PgClient {
  connect(): Promise<void>
  query(text: string, values?: ReadonlyArray<unknown>): Promise<{ readonly rowCount: number | null }>
  end(): Promise<void>
}

// The store's driver: pg is its dependency, not the repository root's.
export const pgDriver = createRequire(new URL("../packages/store/package.json", import.meta.url))("pg") as {
  readonly Client: new (config: { readonly connectionString: string }) => PgClient
}
const { Client } = pgDriver

/** Creates the database `url` names unless it exists; connects through the server's `postgres` database. */
export const ensureDatabase = async (url: string): Promise<void> => {
  const target = new URL(url)
  const name = decodeURIComponent(target.pathname.slice(1))
  if (name === "" || name === "postgres") return
  const admin = new URL(url)
  admin.pathname = "/postgres"
  const client = new Client({ connectionString: admin.toString() })
  try {
    await client.connect()
  } catch {
    return
  }
  try {
    const found = await client.query("select 1 from pg_database where datname = $1", [name])
    if (found.rowCount === 0) await client.query(`create database "${name.replaceAll('"', '""')}"`)
  } catch (error) {
    // Another process created it first.
    if ((error as { code?: string }).code !== "42P04") throw error
  } finally {
    await client.end()
  }
}

export default async function setup(): Promise<void> {
  const url = process.env.DATABASE_URL
  if (url !== undefined && url !== "") await ensureDatabase(url)
}
