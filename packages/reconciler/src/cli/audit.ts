/**
 * `idtrail audit …`: `@idtrail/audit`'s commands (history, state, export, report, serve) mounted
 * in the product's CLI, over the store `DATABASE_URL` names (or the embedded PGlite in
 * `--data-dir`). Read-only on Postgres: the store is opened without migrating, so an auditor's
 * role needs no DDL rights, and a schema never migrated is a clear error naming the migrations.
 *
 * @since 0.1.0
 */
import { auditCommand } from "@idtrail/audit"
import { EventStore, makeEventStore } from "@idtrail/store"
import { Effect, Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { type CliContext, describeStore } from "./context.ts"
import { EnvironmentVariables } from "./help.ts"

/** The store the audit views read, opened once for the command and closed when it ends. */
const storeLayer = (ctx: CliContext, dataDir: string | undefined) => {
  const databaseUrl = ctx.env.DATABASE_URL || undefined
  return Layer.effect(
    EventStore,
    makeEventStore({ databaseUrl, dataDir, migrate: databaseUrl === undefined }).pipe(
      // To stderr, like every log line: an export to stdout stays nothing but the export.
      Effect.tap((store) => Effect.sync(() => ctx.log("info", describeStore(store, dataDir)))),
    ),
  )
}

/** `idtrail audit`: the audit commands, with `--data-dir` before or after the subcommand. */
export const audit = (ctx: CliContext) =>
  auditCommand.pipe(
    Command.withSharedFlags({
      dataDir: Flag.String("data-dir").pipe(
        Flag.withDescription("the embedded PGlite's directory (when DATABASE_URL is not set)"),
        Flag.optional,
      ),
    }),
    Command.provide(({ dataDir }) => storeLayer(ctx, Option.getOrUndefined(dataDir))),
    Command.withShortDescription("timelines, state at a time, exports, the HTML report, a read-only page"),
    Command.annotate(EnvironmentVariables, [
      [
        "DATABASE_URL",
        "the Postgres to read (not migrated: run idtrail migrate); absent: PGlite in --data-dir",
      ],
    ]),
  )
