/**
 * The store's SQL schema, as kysely migrations in a configurable Postgres schema (default
 * `idtrail`). Each migration is a frozen file `sql/NNNN_name.sql` beside this package's sources:
 * its name (without `.sql`) is the name kysely records, and no live code changes its text. The
 * files write the schema as `{{schema}}`, replaced by the quoted schema name before they run, so
 * plpgsql bodies name their tables fully and never depend on `search_path` at call time.
 *
 * `migrate` is idempotent and safe to run from several processes at once: it holds a session
 * advisory lock named after the schema while the pending migrations run.
 *
 * @since 0.1.0
 */
import { readdirSync, readFileSync } from "node:fs"
import { type Kysely, sql } from "kysely"
import type { Migration } from "kysely/migration"

/** The Postgres schema the store uses unless told otherwise. */
export const defaultSchema = "idtrail"

const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/

/** `true` for a schema name the store accepts: lower-case letters, digits and `_`, at most 63 characters. */
export const isValidSchemaName = (name: string): boolean => schemaPattern.test(name)

/** Where the migration files are: found from this module, so a built or installed package finds them too. */
export const sqlDirectory = new URL("../sql/", import.meta.url)

/** The placeholder the migration files write for the (quoted) schema name. */
export const schemaPlaceholder = "{{schema}}"

const fileName = /^(\d{4})_[a-z0-9_]+\.sql$/

/**
 * The migrations in `directory`, in order: every `.sql` file but `schema.sql`. A misnamed file or
 * two files with one number are refused rather than skipped or run in an unintended order.
 */
export const readMigrations = (directory: URL): ReadonlyArray<readonly [name: string, text: string]> => {
  const migrations = readdirSync(directory)
    .filter((file) => file.endsWith(".sql") && file !== "schema.sql")
    .sort()
  const numbers = new Set<string>()
  return migrations.map((file) => {
    const number = fileName.exec(file)?.[1]
    if (number === undefined)
      throw new Error(
        `migration ${file}: a migration file is named NNNN_name.sql (lower-case letters, digits, _)`,
      )
    if (numbers.has(number))
      throw new Error(`migration ${file}: another migration already has the number ${number}`)
    numbers.add(number)
    return [file.slice(0, -".sql".length), readFileSync(new URL(file, directory), "utf8")] as const
  })
}

let files: ReadonlyArray<readonly [name: string, text: string]> | undefined

/** Every migration of the store's `sql/` directory, name and frozen text, in order (read once). */
export const migrationFiles = (): ReadonlyArray<readonly [name: string, text: string]> => {
  files ??= readMigrations(sqlDirectory)
  return files
}

/** kysely migrations for the schema `schema` (validated by the caller). */
export const migrationsFor = (schema: string): Record<string, Migration> => {
  const quoted = `"${schema}"`
  const out: Record<string, Migration> = {}
  for (const [name, text] of migrationFiles()) {
    const statements = text.replaceAll(schemaPlaceholder, quoted)
    out[name] = { up: async (db: Kysely<unknown>) => void (await sql.raw(statements).execute(db)) }
  }
  return out
}

/**
 * Brings the schema up to date, or up to the migration named `to` (tests of upgrades). Idempotent;
 * concurrent callers queue on a session advisory lock keyed by the schema name, then find
 * nothing left to do. The pending migrations run in one transaction, each recorded in kysely's
 * `kysely_migration` table (the same table and rows kysely's Migrator kept, so schemas it
 * migrated carry on). Not kysely's Migrator itself: it lists every schema's tables on the
 * server to find its own, and failed when other work dropped a schema meanwhile.
 */
export const migrate = async (
  db: Kysely<unknown>,
  schema: string,
  options: { readonly to?: string } = {},
): Promise<void> => {
  const lock = `idtrail.migrate.${schema}`
  const q = (text: string) => sql.raw(text)
  await db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext(${lock}))`.execute(conn)
    try {
      await q(`create schema if not exists "${schema}"`).execute(conn)
      await q(
        `create table if not exists "${schema}".kysely_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)`,
      ).execute(conn)
      await q(
        `create table if not exists "${schema}".kysely_migration_lock (id varchar(255) not null primary key, is_locked integer not null default 0)`,
      ).execute(conn)
      await q(
        `insert into "${schema}".kysely_migration_lock (id, is_locked) values ('migration_lock', 0) on conflict do nothing`,
      ).execute(conn)
      const done = (
        await sql<{
          name: string
        }>`select name from ${sql.table(`${schema}.kysely_migration`)} order by name`.execute(conn)
      ).rows.map((r) => r.name)
      const all = migrationsFor(schema)
      const names = Object.keys(all)
      const unknown = done.filter((name) => all[name] === undefined)
      if (unknown.length > 0)
        throw new Error(
          `schema ${schema} was migrated by a newer idtrail (${unknown.join(", ")} unknown here): upgrade idtrail`,
        )
      const last = options.to === undefined ? names.length - 1 : names.indexOf(options.to)
      if (last < 0) throw new Error(`migration ${options.to} does not exist`)
      const pending = names.slice(0, last + 1).filter((name) => !done.includes(name))
      const newest = done.at(-1)
      const early = pending.find((name) => newest !== undefined && name < newest)
      if (early !== undefined)
        throw new Error(`migration ${early} comes before ${newest}, which schema ${schema} already ran`)
      if (pending.length === 0) return
      await conn.transaction().execute(async (trx) => {
        for (const name of pending) {
          await all[name]!.up(trx)
          await sql`insert into ${sql.table(`${schema}.kysely_migration`)} (name, timestamp) values (${name}, ${new Date().toISOString()})`.execute(
            trx,
          )
        }
      })
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${lock}))`.execute(conn)
    }
  })
}
