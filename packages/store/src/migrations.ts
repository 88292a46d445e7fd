/**
 * The store's SQL schema, as kysely migrations in a configurable Postgres schema (default
 * `idtrail`). Each migration is a frozen file `sql/NNNN_name.sql` beside this package's sources:
 * its name (without `.sql`) is the name kysely records, and no live code changes its text. The
 * files write the schema as `{{schema}}`, replaced by the quoted schema name before they run, so
 * plpgsql bodies name their tables fully and never depend on `search_path` at call time.
 *
 * `migrate` is idempotent and safe to run from several processes at once: it holds a session
 * advisory lock named after the schema while kysely's Migrator runs.
 *
 * @since 0.1.0
 */
import { readdirSync, readFileSync } from "node:fs"
import { type Kysely, sql } from "kysely"
import { type Migration, Migrator } from "kysely/migration"

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
 * nothing left to do.
 */
export const migrate = async (
  db: Kysely<unknown>,
  schema: string,
  options: { readonly to?: string } = {},
): Promise<void> => {
  const lock = `idtrail.migrate.${schema}`
  await db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(hashtext(${lock}))`.execute(conn)
    try {
      await sql.raw(`create schema if not exists "${schema}"`).execute(conn)
      const migrator = new Migrator({
        db: conn,
        provider: { getMigrations: async () => migrationsFor(schema) },
        migrationTableSchema: schema,
      })
      const result =
        options.to === undefined ? await migrator.migrateToLatest() : await migrator.migrateTo(options.to)
      if (result.error !== undefined) throw result.error
    } finally {
      await sql`select pg_advisory_unlock(hashtext(${lock}))`.execute(conn)
    }
  })
}
