/**
 * Writes `sql/schema.sql`: the store's schema after every migration, read from the catalog of a
 * fresh embedded PGlite. Run after adding a migration: `pnpm --filter @idtrail/store run schema:snapshot`.
 */
import { writeFileSync } from "node:fs"
import { connect } from "../src/database.ts"
import { migrate, sqlDirectory } from "../src/migrations.ts"
import { schemaSnapshot } from "../src/schema-snapshot.ts"

// A name that occurs nowhere else in the SQL, so normalising it to the placeholder is exact.
const schema = "idtrail_snapshot"
const connection = await connect({})
try {
  await migrate(connection.db, schema)
  const target = new URL("schema.sql", sqlDirectory)
  writeFileSync(target, await schemaSnapshot(connection.db, schema))
  console.log(`wrote ${target.pathname}`)
} finally {
  await connection.close()
}
