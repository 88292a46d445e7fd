/**
 * `idtrail erase vs_… --reason "…"`: erases a session's personal data by destroying its key
 * (crypto-shredding; the log is untouched), recording who and why. `idtrail erase --list` lists
 * the erased sessions and shows that no key remains for any of them: the proof an auditor asks
 * for. Needs the key-encryption key the store's keys are wrapped by (`IDTRAIL_KEK` or
 * `IDTRAIL_KEK_FILE`).
 *
 * @since 0.1.0
 */
import { type ErasedSession, keyEncryptionFromEnv, makeEventStore } from "@idtrail/store"
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { InvalidConfig } from "../errors.ts"
import { type CliContext, describeStore } from "./context.ts"
import { EnvironmentVariables } from "./help.ts"

/** The refusals a person can fix (a key, a reason, a session id): exit code 2, a plain line. */
const asConfig = <A, R>(effect: Effect.Effect<A, { readonly _tag: string; readonly message: string }, R>) =>
  Effect.catchIf(
    effect,
    (e) =>
      [
        "KeyEncryptionKeyMissing",
        "KeyEncryptionKeyInvalid",
        "EncryptionOff",
        "InvalidStreamId",
        "InvalidArgument",
        "InvalidConfig",
      ].includes(e._tag),
    (e) => Effect.fail(new InvalidConfig({ setting: e._tag, message: e.message })),
  )

interface EraseFlags {
  readonly sessionId: Option.Option<string>
  readonly reason: Option.Option<string>
  readonly actor: Option.Option<string>
  readonly list: boolean
  readonly json: boolean
  readonly dataDir: Option.Option<string>
}

/** The session to erase and why, or an `InvalidConfig` that says what is missing. */
const erasureTarget = (flags: EraseFlags) => {
  const sessionId = Option.getOrUndefined(flags.sessionId)
  const reason = Option.getOrUndefined(flags.reason)
  if (sessionId === undefined)
    return Effect.fail(
      new InvalidConfig({
        setting: "session-id",
        message: 'name the session: idtrail erase vs_… --reason "…" (or --list)',
      }),
    )
  if (reason === undefined || reason.trim() === "")
    return Effect.fail(
      new InvalidConfig({
        setting: "reason",
        message: 'an erasure needs --reason "…" (kept with the erasure; not personal data)',
      }),
    )
  return Effect.succeed({ sessionId, reason })
}

const run = (ctx: CliContext, flags: EraseFlags) =>
  asConfig(
    Effect.gen(function* () {
      // Arguments first: a command that cannot work opens (and migrates) nothing.
      const target = flags.list ? undefined : yield* erasureTarget(flags)
      const dataDir = Option.getOrUndefined(flags.dataDir)
      // A temporary or in-memory PGlite holds nothing to erase or list: say so instead of a false "no session".
      if (!ctx.env.DATABASE_URL && (dataDir === undefined || dataDir === "memory://"))
        return yield* new InvalidConfig({
          setting: "DATABASE_URL",
          message:
            "erase works on a kept store: set DATABASE_URL, or give --data-dir for an embedded one (a temporary store has nothing to erase)",
        })
      const kek = yield* keyEncryptionFromEnv(ctx.env)
      const store = yield* makeEventStore({
        databaseUrl: ctx.env.DATABASE_URL || undefined,
        dataDir,
        ...(kek === undefined ? {} : { encryption: { keyEncryption: kek } }),
      })
      ctx.log("info", describeStore(store, dataDir))
      if (target === undefined) {
        const lines: Array<string> = []
        for (let after: string | null = null; ; ) {
          const page: ReadonlyArray<ErasedSession> = yield* store.erasure.erased({ after, limit: 1000 })
          for (const e of page) {
            lines.push(
              flags.json
                ? JSON.stringify(e)
                : `${e.sessionId}\t${e.erasedAt.toISOString()}\t${e.actor.kind}:${e.actor.id}\t` +
                    `${e.keyRemains ? "KEY REMAINS" : "no key"}\t${e.reason}`,
            )
          }
          if (page.length < 1000) break
          after = page.at(-1)!.sessionId
        }
        ctx.stdout(lines.length === 0 ? (flags.json ? "" : "no erased sessions\n") : `${lines.join("\n")}\n`)
        return
      }
      const { sessionId, reason } = target
      const state = yield* store.state(sessionId)
      if (state.version === 0)
        return yield* new InvalidConfig({
          setting: "session-id",
          message: `no session ${sessionId} in this store`,
        })
      const actor = {
        kind: "user" as const,
        id: Option.getOrUndefined(flags.actor) ?? ctx.env.USER ?? "operator",
      }
      const erased = yield* store.erasure.erase(sessionId, { actor, reason })
      const out = erased.newlyErased
        ? `${sessionId}: erased; its key is destroyed, its ${state.version} events keep their personal values unreadable`
        : `${sessionId}: already erased; no key remains`
      ctx.stdout(flags.json ? `${JSON.stringify(erased)}\n` : `${out}\n`)
    }).pipe(Effect.scoped),
  )

/** `idtrail erase`. */
export const erase = (ctx: CliContext) =>
  Command.make(
    "erase",
    {
      sessionId: Argument.String("session-id").pipe(
        Argument.withDescription("the session to erase (vs_…)"),
        Argument.optional,
      ),
      reason: Flag.String("reason").pipe(
        Flag.withDescription(
          'why (a ticket, "data subject request"); kept with the erasure, so nothing personal',
        ),
        Flag.optional,
      ),
      actor: Flag.String("actor").pipe(Flag.withDescription("who erases (default: $USER)"), Flag.optional),
      list: Flag.Boolean("list").pipe(
        Flag.withDescription("list the erased sessions, when, by whom, why, and that no key remains"),
        Flag.withDefault(false),
      ),
      json: Flag.Boolean("json").pipe(
        Flag.withDescription("one JSON object per line"),
        Flag.withDefault(false),
      ),
      dataDir: Flag.String("data-dir").pipe(
        Flag.withDescription("the embedded PGlite's directory (when DATABASE_URL is not set)"),
        Flag.optional,
      ),
    },
    (flags) => run(ctx, flags),
  ).pipe(
    Command.withShortDescription("erase a session's personal data (destroy its key), or list erasures"),
    Command.withDescription(
      "Destroys the session's data key: its personal values (metadata values, client_reference_id, " +
        "last_error.reason) in the log and the projection can no longer be read, and every reader shows " +
        "[erased]. The log itself is untouched. The erasure is recorded with who and why. Backups and " +
        "WAL archives taken before the erasure still hold the key wrapped by the KEK. Exit 0 when done, " +
        "2 when refused (no KEK, no reason, no such session), 4 when the database cannot be used.",
    ),
    Command.annotate(EnvironmentVariables, [
      ["DATABASE_URL", "Postgres (postgres://…); absent: the embedded PGlite in --data-dir"],
      ["IDTRAIL_KEK", "the key-encryption key, base64 of 32 bytes (or IDTRAIL_KEK_FILE: a file holding it)"],
    ]),
    Command.withExamples([
      { command: 'idtrail erase vs_1Nx… --reason "DSR-1042"', description: "erase one session" },
      { command: "idtrail erase --list", description: "the erased sessions, and that no key remains" },
    ]),
  )
