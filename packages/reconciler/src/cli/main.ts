/**
 * Runs the `idtrail` command as a process does: arguments, signals, output, exit code. SIGTERM
 * and SIGINT interrupt the command: a run's lease is released (its finalizer) and its partial
 * report printed, and the exit code says which signal (`exit-codes.ts`).
 *
 * @since 0.1.0
 */
import { realpathSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as NodeChildProcessSpawner from "@effect/platform-node-shared/NodeChildProcessSpawner"
import * as NodeFileSystem from "@effect/platform-node-shared/NodeFileSystem"
import * as NodePath from "@effect/platform-node-shared/NodePath"
import * as NodeStdio from "@effect/platform-node-shared/NodeStdio"
import * as NodeTerminal from "@effect/platform-node-shared/NodeTerminal"
import { Cause, Effect, Exit, Layer, Option } from "effect"
import { CliError, CliOutput, Command } from "effect/cli"
import { exitCodeOf, exitCodes } from "../exit-codes.ts"
import { logLayer, makeLog } from "../log.ts"
import type { Report } from "../report.ts"
import { idtrail } from "./commands.ts"
import type { CliContext } from "./context.ts"
import { presenter } from "./help.ts"
import { runSimulatorCli } from "./sim.ts"

const version = "0.1.0"

/** What `effect/cli` runs on: Node's file system, paths, terminal, stdio. */
const platform = Layer.mergeAll(
  NodeFileSystem.layer,
  NodePath.layer,
  NodeTerminal.layer,
  NodeStdio.layer,
  NodeChildProcessSpawner.layer.pipe(Layer.provide(Layer.mergeAll(NodeFileSystem.layer, NodePath.layer))),
)

// `pnpm reconcile -- --mode sweep` hands the `--` on: it separates pnpm's options from ours.
const withoutSeparator = (argv: ReadonlyArray<string>) => {
  const args = [...argv]
  if (args[0] === "--") args.shift()
  if (args[1] === "--") args.splice(1, 1)
  return args
}

/** Runs `idtrail argv…` until it ends or a signal interrupts it; resolves with the exit code. */
export const main = async (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<number> => {
  const args = withoutSeparator(argv)
  if (args[0] === "sim") {
    await runSimulatorCli(args.slice(1))
    return exitCodes.complete
  }
  const log = makeLog(!process.stderr.isTTY, (line) => process.stderr.write(`${line}\n`))
  let report: Report | undefined
  const ctx: CliContext = {
    env,
    log,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    stderrIsTerminal: process.stderr.isTTY === true,
    onReport: (r) => {
      report = r
    },
  }
  const interrupt = new AbortController()
  let signal: "SIGINT" | "SIGTERM" | null = null
  const stop = (received: "SIGINT" | "SIGTERM") => () => {
    signal ??= received
    interrupt.abort()
  }
  const onTerm = stop("SIGTERM")
  const onInt = stop("SIGINT")
  process.on("SIGTERM", onTerm)
  process.on("SIGINT", onInt)
  try {
    const program = Command.runWith(idtrail(ctx), { version })(args).pipe(
      Effect.provide(
        Layer.mergeAll(
          platform,
          logLayer(log),
          CliOutput.layerPresenter(
            presenter({
              stdout: ctx.stdout,
              stderr: ctx.stderr,
              colors: process.stdout.isTTY === true,
            }),
          ),
        ),
      ),
    )
    const exit = await Effect.runPromiseExit(program, { signal: interrupt.signal })
    if (Exit.isSuccess(exit))
      return report === undefined ? exitCodes.complete : exitCodeOf(Exit.succeed(report))
    const error = Cause.findErrorOption(exit.cause)
    // Parse errors and help were presented already.
    if (Option.isSome(error) && CliError.isCliError(error.value)) return exitCodes.badConfig
    const message = Cause.hasInterruptsOnly(exit.cause)
      ? `interrupted by ${signal ?? "an interruption"}: the lease was released, the report above is partial`
      : Option.isSome(error)
        ? ((error.value as { message?: string }).message ?? (error.value as { _tag: string })._tag)
        : Cause.pretty(exit.cause)
    const command = `idtrail ${args[0] ?? ""}`.trim()
    // A refused configuration is for the person who typed it: a plain line, even off a terminal.
    if (Option.isSome(error) && (error.value as { _tag?: string })._tag === "InvalidConfig")
      process.stderr.write(`${command}: ${message}\n`)
    else log("error", `${command}: ${message}`)
    return exitCodeOf(Exit.failCause(exit.cause), signal)
  } finally {
    process.off("SIGTERM", onTerm)
    process.off("SIGINT", onInt)
  }
}

/** True when the module at `moduleUrl` is the process's entry point, also through a symlink (real paths compared). */
export const isEntryPoint = (moduleUrl: string): boolean => {
  const argv1 = process.argv[1]
  if (argv1 === undefined) return false
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(argv1)
  } catch {
    return false
  }
}
