/**
 * `idtrail sim`: the simulator's own command (`@idtrail/simulator`'s `cli.ts`, with its own
 * options and `--help`), found next to the package's entry, so it works from the sources and
 * from a built package alike.
 *
 * @since 0.1.0
 */

/** Runs the simulator's command with `args`; it serves until SIGINT or SIGTERM. */
export const runSimulatorCli = async (args: ReadonlyArray<string>): Promise<void> => {
  const entry = import.meta.resolve("@idtrail/simulator")
  const cli = new URL(entry.endsWith(".ts") ? "./cli.ts" : "./cli.js", entry)
  const { main } = (await import(cli.href)) as { main: (argv: ReadonlyArray<string>) => Promise<void> }
  await main(args)
}
