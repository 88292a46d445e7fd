/**
 * How the CLI presents help and mistakes (`effect/cli`'s `Presenter`): help on stdout with the
 * command's environment variables after its flags; a wrong invocation on stderr, one line per
 * mistake and the usage, never the whole help (stdout stays empty for scripts).
 *
 * @since 0.1.0
 */
import { Context, Effect } from "effect"
import { CliOutput } from "effect/cli"

/** A command's environment variables and what they mean, for its help (`Command.annotate`). */
export const EnvironmentVariables = Context.Reference<
  ReadonlyArray<readonly [name: string, meaning: string]>
>("@idtrail/reconciler/cli/EnvironmentVariables", { defaultValue: () => [] })

const environmentSection = (variables: ReadonlyArray<readonly [string, string]>) => {
  if (variables.length === 0) return "\n"
  const width = Math.max(...variables.map(([name]) => name.length)) + 4
  return `\n\nENVIRONMENT\n${variables.map(([name, meaning]) => `  ${name.padEnd(width)}${meaning}`).join("\n")}\n`
}

/** One mistake, as a person fixing the command line reads it. */
const mistake = (error: { readonly _tag: string; readonly message: string; readonly option?: string }) =>
  error._tag === "UnrecognizedOption" && error.option !== undefined
    ? `Unknown option '${error.option}'`
    : error.message

/** The presenter writing to `stdout` and `stderr` (whole texts). */
export const presenter = (out: {
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly colors: boolean
}): CliOutput.Presenter => {
  const formatter = CliOutput.defaultFormatter({ colors: out.colors })
  return {
    present: (event) =>
      Effect.sync(() => {
        switch (event._tag) {
          case "Help":
            return out.stdout(
              `${formatter.formatHelpDoc(event.helpDoc)}${environmentSection(
                Context.get(event.helpDoc.annotations as Context.Context<unknown>, EnvironmentVariables),
              )}`,
            )
          case "Version":
            return out.stdout(`${event.name} ${event.version}\n`)
          case "InvalidInvocation": {
            const path = event.commandPath.join(" ")
            const lines = event.errors.map((e) => `${path}: ${mistake(e as never)}`)
            return out.stderr(
              `${lines.join("\n")}\nusage: ${event.helpDoc.usage} (${path} --help lists them all)\n`,
            )
          }
        }
      }),
  }
}
